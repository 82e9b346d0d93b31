"""DOT's models, swapped in before the first migration so that `expires` is indexed.

`cleartokens` and the growth benchmark filter on `expires`; stock DOT leaves it unindexed
(DOT #651, #979), which turns every clean-up into a full-table scan.
"""

import math
from collections import Counter
from urllib.parse import urlsplit

from django.contrib.auth.hashers import identify_hasher
from django.core.exceptions import ValidationError
from django.db import connections, models, transaction
from django.db.models.functions import Lower
from django.db.models.signals import post_save, pre_save
from django.utils.functional import cached_property
from oauth2_provider.models import (
    AbstractAccessToken,
    AbstractApplication,
    AbstractGrant,
    AbstractIDToken,
    AbstractRefreshToken,
)
from oauth2_provider.models import ApplicationManager as DOTApplicationManager


# A client secret is hashed with a fast hash (oauth.hashers), which is only safe for secrets with
# far more entropy than any guessing can cover. The server generates 128 characters (~760 bits);
# a secret set by other means must look at least as random as `secrets.token_urlsafe(32)`
# (43 characters; the character-frequency bound below gives those ~205 bits and never less than ~185,
# while a repeated pattern or a padded word scores far less).
MIN_SECRET_LENGTH = 43
MIN_SECRET_ENTROPY_BITS = 180


def secret_entropy_bits(secret: str) -> float:
    """Upper bound of a string's entropy: its length times the Shannon entropy of its characters.

    It cannot prove a secret random, but it refuses what people type: short strings, repeated
    characters, words padded to length.
    """
    counts = Counter(secret)
    per_char = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    return per_char * len(secret)


def is_hashed(secret: str) -> bool:
    try:
        identify_hasher(secret)
    except ValueError:
        return False
    return True


class ApplicationManager(DOTApplicationManager):
    def by_client_id(self, client_id: str, *, versioned: bool = False) -> "Application | None":
        """`get(client_id=...)`, or None, for every token request's client authentication.

        The ORM compiles the same SELECT anew on each call, which cost a fifth of a token request's
        CPU (docs/performance.md). This is that SELECT, built once from the model's fields.
        `versioned` also sets the instance's `row_version`: a token saved for it is then inserted only
        while the row is unchanged (`AccessTokenManager.insert`, oauth/known_clients.py).
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
        # xmin: the row version. Every UPDATE of a row gives it a new one (freezing keeps it readable).
        return (f"SELECT {columns}, xmin::text FROM {quote(meta.db_table)} "
                f"WHERE {quote(meta.get_field('client_id').column)} = %s")


class Application(AbstractApplication):
    # Space-separated scopes this client may ever be granted; empty means every scope that is not
    # restricted (settings.RESTRICTED_SCOPES, e.g. `introspection`, must be listed explicitly).
    allowed_scopes = models.CharField(max_length=255, blank=True, default="")

    OFFERED_GRANT_TYPES = (AbstractApplication.GRANT_AUTHORIZATION_CODE, AbstractApplication.GRANT_CLIENT_CREDENTIALS)

    objects = ApplicationManager()

    # The row version this instance was loaded at (`objects.by_client_id(..., versioned=True)`), when
    # its tokens must be inserted only while the row still has it; None otherwise.
    row_version = None

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        constraints = [
            # Users tell clients apart by name on the consent page: no two alike, whatever the case.
            models.UniqueConstraint(
                Lower("name"), name="oauth_application_name_unique_ci", condition=~models.Q(name=""),
                violation_error_message="An application with this name already exists. Choose another name.",
            ),
        ]

    @property
    def redirect_hosts(self) -> list[str]:
        """The hosts (with port) of the registered redirect URIs, in order, each once (consent page)."""
        return list(dict.fromkeys(urlsplit(uri).netloc for uri in self.redirect_uris.split()))

    def clean(self):
        errors = {}
        try:
            super().clean()
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if self.authorization_grant_type not in self.OFFERED_GRANT_TYPES:
            # Implicit and password grants are off (RFC 9700 §2.1.2, §2.4); hybrid puts tokens in the
            # front channel like implicit does.
            errors.setdefault("authorization_grant_type", []).append("This server doesn't offer this grant type.")
        if self.client_type == self.CLIENT_CONFIDENTIAL:
            if not self.hash_client_secret:
                errors.setdefault("hash_client_secret", []).append("A confidential client's secret is stored hashed.")
            # A stored hash was checked when its secret was set; a new cleartext secret is checked now.
            secret = self.client_secret
            if not is_hashed(secret) and (
                len(secret) < MIN_SECRET_LENGTH or secret_entropy_bits(secret) < MIN_SECRET_ENTROPY_BITS
            ):
                errors.setdefault("client_secret", []).append(
                    "This secret is too short or too guessable. Leave the generated secret in place."
                )
        if errors:
            raise ValidationError(errors)

    def available_scopes(self, all_scopes, restricted):
        """The scopes this client may be granted, in the order of `all_scopes`."""
        allowed = set(self.allowed_scopes.split())
        if allowed:
            return [s for s in all_scopes if s in allowed]
        return [s for s in all_scopes if s not in restricted]


class Grant(AbstractGrant):
    class Meta(AbstractGrant.Meta):
        swappable = "OAUTH2_PROVIDER_GRANT_MODEL"
        indexes = [models.Index(fields=["expires"])]


class ClientChanged(Exception):
    """The client row a token request was decided on was changed or deleted before its token was stored."""

    def __init__(self, application: Application):
        super().__init__(application.client_id)
        self.application = application


class AccessTokenManager(models.Manager):
    def insert(self, token: "AccessToken") -> None:
        """`token.save()` for a new token, as every token request does it.

        The ORM compiles the same INSERT anew on each save, which cost a tenth of a token request's
        CPU (docs/performance.md). This is that INSERT, built once from the model's fields, with
        what `save()` does around it: each field's `pre_save` (`auto_now`, the token checksum) and
        database preparation, and the `pre_save`/`post_save` signals.

        For a client loaded with its row version, the row is inserted only if the client's row
        still has that version; if not, nothing is stored and `ClientChanged` is raised.
        """
        model, using = type(token), self.db
        connection = connections[using]
        token._prepare_related_fields_for_save(operation_name="save")
        pre_save.send(sender=model, instance=token, raw=False, using=using, update_fields=None)
        values = [field.get_db_prep_save(field.pre_save(token, True), connection) for field in self._insert_fields]
        application = model._meta.get_field("application").get_cached_value(token, None)
        version = application.row_version if application is not None else None
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


class AccessToken(AbstractAccessToken):
    objects = AccessTokenManager()

    class Meta(AbstractAccessToken.Meta):
        swappable = "OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL"
        indexes = [models.Index(fields=["expires"])]

    def save(self, *args, **kwargs):
        # A new token saved plainly, as DOT saves every token it issues, takes the prebuilt INSERT.
        if self._state.adding and self.pk is None and not args and not kwargs:
            type(self).objects.insert(self)
        else:
            super().save(*args, **kwargs)

    @classmethod
    def from_db(cls, db, field_names, values):
        # Remembered so that moving the expiry into the past can be announced (oauth.revocation).
        instance = super().from_db(db, field_names, values)
        instance._loaded_expires = instance.__dict__.get("expires")
        return instance


class RefreshToken(AbstractRefreshToken):
    # SHA-256 of the authorization code the family was first issued from (RFC 6749 §4.1.2: a
    # replayed code must revoke the tokens issued from it; DOT deletes the code and forgets).
    code_checksum = models.CharField(max_length=64, blank=True, default="", db_index=True, editable=False)

    class Meta(AbstractRefreshToken.Meta):
        swappable = "OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL"
        indexes = [*AbstractRefreshToken.Meta.indexes, models.Index(fields=["revoked"])]


class IDToken(AbstractIDToken):
    class Meta(AbstractIDToken.Meta):
        swappable = "OAUTH2_PROVIDER_ID_TOKEN_MODEL"
        indexes = [models.Index(fields=["expires"])]
