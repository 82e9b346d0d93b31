"""The token endpoint's hot path: every place where this server departs from DOT's own code to
issue tokens for less CPU, and nothing else.

Each departure does what DOT's path does, in fewer instructions or database round trips, and each
is compared with DOT's path by tests/auth_server/test_hot_path.py, so a DOT or Django upgrade that
changes what DOT does fails a test there. Each saves at least 5 % of a client-credentials token
request's CPU (`make bench-instructions` and `make bench` measure them; docs/performance.md):

1. `ApplicationManager.by_client_id`: the client's SELECT, built once from the model's fields. The
   ORM compiles the same SELECT anew on every call.
2. `AccessTokenManager.insert`: the token's INSERT, built once, with what `save()` does around it.
3. Remembered client rows (`remembered`, `load`, `forget`, `RememberedClients`): each worker answers
   a client-credentials request's client SELECT from memory, checked when the token is stored.
4. `RememberedClients.save_bearer_token`: a client-credentials token is one INSERT, atomic by
   itself, so DOT's transaction around it (a BEGIN and a COMMIT round trip) is left out.
5. `TokenView.post`: DOT reads every token it issues back from the database only to send
   `app_authorized`; with no receiver of that signal, the answer goes out without that query.
6. `random_token`: token values from one call to the operating system's generator.
"""

import contextlib
import contextvars
import copy
import secrets
import time

from django.db import connections, models, transaction
from django.db.models.signals import post_save, pre_save
from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider.models import ApplicationManager as DOTApplicationManager
from oauth2_provider.models import get_application_model
from oauth2_provider.signals import app_authorized


# ---- 1. the client's SELECT ----------------------------------------------------------------------
class ApplicationManager(DOTApplicationManager):
    def by_client_id(self, client_id: str, *, versioned: bool = False):
        """`get(client_id=...)`, or None.

        `versioned` also sets the instance's `row_version` (Postgres's `xmin`, new with every UPDATE
        of the row): a token saved for it is then inserted only while the row still has that version.
        """
        with connections[self.db].cursor() as cursor:
            cursor.execute(self._select_by_client_id, [client_id])
            row = cursor.fetchone()
        if row is None:
            return None
        application = self.model.from_db(self.db, self._field_names, row[:-1])
        if versioned:
            application.row_version = row[-1]
        return application

    @cached_property
    def _field_names(self) -> list[str]:
        return [field.attname for field in self.model._meta.concrete_fields]

    @cached_property
    def _select_by_client_id(self) -> str:
        meta, quote = self.model._meta, connections[self.db].ops.quote_name
        columns = ", ".join(quote(field.column) for field in meta.concrete_fields)
        return (f"SELECT {columns}, xmin::text FROM {quote(meta.db_table)} "
                f"WHERE {quote(meta.get_field('client_id').column)} = %s")


# ---- 2. the token's INSERT -----------------------------------------------------------------------
class ClientChanged(Exception):
    """The client row a token request was decided on was changed or deleted before its token was stored."""

    def __init__(self, application):
        super().__init__(application.client_id)
        self.application = application


class AccessTokenManager(models.Manager):
    def insert(self, token) -> None:
        """`token.save()` for a new token: each field's `pre_save` (`auto_now`, the token checksum)
        and database preparation, the `pre_save`/`post_save` signals, and the INSERT.

        For a client loaded with its row version, the row is inserted only if the client's row
        still has that version; if not, nothing is stored and `ClientChanged` is raised.
        """
        model, using = type(token), self.db
        connection = connections[using]
        token._prepare_related_fields_for_save(operation_name="save")
        pre_save.send(sender=model, instance=token, raw=False, using=using, update_fields=None)
        values = [field.get_db_prep_save(field.pre_save(token, True), connection) for field in self._insert_fields]
        application = model._meta.get_field("application").get_cached_value(token, None)
        version = getattr(application, "row_version", None)
        with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
            if version is None:
                cursor.execute(self._insert_sql, values)
            else:
                cursor.execute(self._insert_if_client_unchanged_sql, [*values, application.pk, version])
            row = cursor.fetchone()
        if row is None:
            raise ClientChanged(application)
        token.pk = row[0]
        token._state.adding, token._state.db = False, using
        post_save.send(sender=model, instance=token, created=True, update_fields=None, raw=False, using=using)

    @cached_property
    def _insert_fields(self) -> list[models.Field]:
        return [field for field in self.model._meta.concrete_fields if field is not self.model._meta.pk]

    @cached_property
    def _insert_sql(self) -> str:
        return f"{self._insert_into} VALUES ({self._placeholders}) RETURNING {self._pk_column}"

    @cached_property
    def _insert_if_client_unchanged_sql(self) -> str:
        application = self.model._meta.get_field("application").related_model._meta
        quote = connections[self.db].ops.quote_name
        unchanged = (f"SELECT 1 FROM {quote(application.db_table)} "
                     f"WHERE {quote(application.pk.column)} = %s AND xmin = %s::xid")
        return f"{self._insert_into} SELECT {self._placeholders} WHERE EXISTS ({unchanged}) RETURNING {self._pk_column}"

    @cached_property
    def _insert_into(self) -> str:
        quote = connections[self.db].ops.quote_name
        columns = ", ".join(quote(field.column) for field in self._insert_fields)
        return f"INSERT INTO {quote(self.model._meta.db_table)} ({columns})"

    @cached_property
    def _placeholders(self) -> str:
        return ", ".join(["%s"] * len(self._insert_fields))

    @cached_property
    def _pk_column(self) -> str:
        return connections[self.db].ops.quote_name(self.model._meta.pk.column)


# ---- 3. remembered client rows -------------------------------------------------------------------
# A remembered row is trusted only this far:
# - It may only say yes. A request it would refuse (wrong secret, grant type or scope not allowed)
#   is decided again on the row as stored now (`RememberedClients`).
# - Its yes is checked when the token is stored: the INSERT stores it only if the client's row still
#   has that version, and raises `ClientChanged` if not. The token view then forgets the row and
#   runs the request again on the stored one (`TokenView`).
# So no token is issued on a row that is no longer the stored one (a reset secret, a narrowed client,
# a deleted client), and no request is refused because of one. Memory is per process and needs no
# invalidation: a changed row is noticed by the next request that uses it.

# Memory only saves a query; correctness does not depend on these. A row is read again after this
# long, and a worker never holds more rows than this.
REMEMBER_SECONDS = 300
MAX_REMEMBERED = 1000

_rows: dict = {}
# Within `remembered()`: the ids of the clients this request was answered about from memory.
_served = contextvars.ContextVar("remembered_clients_served", default=None)


@contextlib.contextmanager
def remembered():
    """Within the block, `load()` answers from this worker's memory."""
    token = _served.set(set())
    try:
        yield
    finally:
        _served.reset(token)


def load(client_id: str):
    """The client with this id, or None; remembered within `remembered()`, read from Postgres otherwise."""
    manager = get_application_model().objects
    served = _served.get()
    if served is None:
        return manager.by_client_id(client_id)
    now = time.monotonic()
    remembered_until, client = _rows.get(client_id, (0.0, None))
    if remembered_until >= now:
        served.add(client_id)
    else:
        client = manager.by_client_id(client_id, versioned=True)
        if client is None:
            return None  # an unknown id is asked again each time: it may be registered any moment
        if len(_rows) >= MAX_REMEMBERED:
            _rows.clear()
        _rows[client_id] = (now + REMEMBER_SECONDS, client)
    # Each request gets its own copy: DOT and oauthlib may set attributes on the client they use.
    return copy.copy(client)


def forget(client_id: str | None) -> bool:
    """Drop the row remembered for this client id.

    True if this request was answered from that row: what it decided must be decided again.
    """
    _rows.pop(client_id, None)
    served = _served.get()
    if served is None or client_id not in served:
        return False
    served.discard(client_id)
    return True


class RememberedClients:
    """The validator's side of remembered rows (3) and the transaction-less save (4); mixed into
    oauth2_validators.OAuth2Validator ahead of DOT's validator."""

    def _load_application(self, client_id, request):
        # DOT reuses a client already on the request; DOT still checks it (and, for an unknown
        # client_id, looks again and answers as it always does).
        if not request.client:
            request.client = load(client_id)
        return super()._load_application(client_id, request)

    def authenticate_client(self, request, *args, **kwargs):
        authenticated = super().authenticate_client(request, *args, **kwargs)
        if not authenticated and forget(self._claimed_client_id(request)):
            # A remembered row said no: the stored one decides.
            request.client = None
            authenticated = super().authenticate_client(request, *args, **kwargs)
        return authenticated

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        valid = super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs)
        if not valid and self._read_stored_client(request):
            valid = super().validate_grant_type(client_id, grant_type, request.client, request, *args, **kwargs)
        return valid

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        valid = super().validate_scopes(client_id, scopes, client, request, *args, **kwargs)
        if not valid and self._read_stored_client(request):
            valid = super().validate_scopes(client_id, scopes, request.client, request, *args, **kwargs)
        return valid

    @staticmethod
    def _read_stored_client(request):
        """A remembered row said no: read the stored one to ask again. False if the no came from
        the stored row (it stands) or the client no longer exists."""
        client_id = request.client.client_id
        if not forget(client_id):
            return False
        request.client = load(client_id)
        return request.client is not None

    def save_bearer_token(self, token, request, *args, **kwargs):
        if "refresh_token" in token:
            return super().save_bearer_token(token, request, *args, **kwargs)
        # Client credentials (4): one INSERT, atomic by itself.
        self._save_bearer_token(token, request, *args, **kwargs)


# ---- 5. the token view ---------------------------------------------------------------------------
class TokenView:
    """Mixed into views.TokenView ahead of DOT's TokenView."""

    def post(self, request, *args, **kwargs):
        if app_authorized.has_listeners():
            return self.authorization_flow_token_response(request)
        if request.POST.get("grant_type") == "client_credentials":
            try:
                with remembered():
                    return self._token_response(request)
            except ClientChanged as changed:
                forget(changed.application.client_id)
        return self._token_response(request)

    @method_decorator(sensitive_post_parameters("password", "client_secret"))
    def _token_response(self, request):
        url, headers, body, status = self.create_token_response(request)
        # oauthlib leaves out the Content-Type of some errors (DOT's invalid_target, for one).
        response = HttpResponse(content=body, status=status, content_type="application/json")
        for name, value in headers.items():
            response[name] = value
        return response


# ---- 6. token values -----------------------------------------------------------------------------
def random_token(request, refresh_token=False) -> str:
    """256 random bits, URL-safe (43 characters), in one call to the operating system's generator
    (DOT's ACCESS_TOKEN_GENERATOR and REFRESH_TOKEN_GENERATOR). oauthlib's default draws its 30
    characters (178 bits) one at a time from `SystemRandom`: 30 system calls per token."""
    return secrets.token_urlsafe(32)
