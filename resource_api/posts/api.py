"""The posts API (Django Ninja): operations, schemas, and the mapping of failures to responses."""

import logging
from datetime import datetime
from typing import Annotated

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from ninja import Field, NinjaAPI, Path, Query, Schema
from ninja.errors import HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.schema import DjangoGetter
from pydantic import AfterValidator, StringConstraints, model_validator

from posts.auth import ANONYMOUS, OAuth2, BearerError
from posts.docs import SwaggerWithOAuth
from posts.introspection import AuthServerUnavailable
from posts.models import Post

logger = logging.getLogger(__name__)
MAX_ID = 2**63 - 1  # Postgres bigint: larger ids cannot exist and must not reach the database


def _encodable(value: str) -> str:
    # JSON can carry lone surrogates ("\ud800"), which cannot be stored as UTF-8.
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


# Postgres text cannot hold NUL characters; the pattern says so in the OpenAPI document too.
NO_NUL = r"^[^\x00]*$"
Title = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL), AfterValidator(_encodable)]
Body = Annotated[str, StringConstraints(max_length=10_000, pattern=NO_NUL), AfterValidator(_encodable)]
AuthorId = Annotated[str, StringConstraints(max_length=255, pattern=NO_NUL)]


# ---- schemas ----------------------------------------------------------------------------------
class Input(Schema):
    """A request body: a JSON object. Ninja's Schema reads fields as attributes of any value (to
    serialize model instances), so `[null, null]` had no fields, and `"x"` a title: `"x".title()`."""

    @model_validator(mode="before")
    @classmethod
    def _object(cls, value):
        # Ninja has wrapped the body in its attribute reader by now.
        body = value._obj if isinstance(value, DjangoGetter) else value
        if not isinstance(body, dict):
            raise ValueError("must be a JSON object")
        return value


class PostIn(Input):
    title: Title
    body: Body


class PostPatch(Input):
    title: Title = None
    body: Body = None


class PostOut(Schema):
    id: int
    title: str
    body: str
    author: str = Field(description="the author's user id (`sub`) at the auth server")
    author_name: str
    created_at: datetime
    updated_at: datetime


class PostPage(Schema):
    items: list[PostOut]
    page: int
    page_size: int
    next_page: int | None


class UserOut(Schema):
    id: str
    username: str | None


class MeOut(Schema):
    user: UserOut | None = Field(description="null for a client-credentials token")
    client_id: str
    scopes: list[str]
    expires_at: int = Field(description="when the token expires (Unix time)")


class PublicOut(Schema):
    message: str
    username: str | None


class Error(Schema):
    detail: str
    error: str | None = None


class InvalidInput(Schema):
    detail: str
    errors: dict[str, list[str]] = Field(description="messages per field")


AUTH_ERRORS = {400: InvalidInput | Error, 401: Error, 403: Error, 503: Error}


# ---- the API ----------------------------------------------------------------------------------
class ScopedOpenAPISchema(OpenAPISchema):
    """Ninja's document, plus the scopes each operation needs (Ninja leaves them empty)."""

    def operation_security(self, operation):
        result = []
        for auth in operation.auth_callbacks:
            name = auth.__class__.__name__
            self.securitySchemes[name] = auth.openapi_security_schema
            if getattr(auth, "optional", False):
                result.append({})
            result.append({name: auth.required_scopes})
        return result or None


class PostsAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return ScopedOpenAPISchema(self, path_prefix)


DESCRIPTION = f"""Posts of the OAuth 2.0 reference deployment. Every operation takes a bearer token
(`Authorization: Bearer …`) from the auth server at `{settings.PUBLIC_URL}/o/`
([discovery]({settings.PUBLIC_URL}/o/.well-known/openid-configuration)); the scope each one needs is
listed with it.

**Try it here**: press *Authorize*, then either
- **authorizationCode** (with PKCE): the client id of these docs is filled in; tick the scopes
  (`read`, `write`, `profile`), sign in and consent, as any user of an application would;
- **clientCredentials**: the id and secret of a confidential client registered for that grant
  (at `/o/applications/` or in the admin); its tokens have no user, so they can read but not write.

Tokens stay in this page's memory and expire after a few minutes; *Logout* forgets them."""

api = PostsAPI(
    title="Posts API",
    version="1.0.0",
    description=DESCRIPTION,
    docs_url="/docs",
    docs=SwaggerWithOAuth(),
    servers=[{"url": settings.PUBLIC_URL}],
)


def _unavailable(request, what: str):
    response = api.create_response(request, {"detail": f"{what} is unavailable, try again later"}, status=503)
    response["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
    return response


@api.exception_handler(BearerError)
def bearer_error(request, exc: BearerError):
    response = api.create_response(request, exc.body, status=exc.status)
    response["WWW-Authenticate"] = exc.challenge
    return response


@api.exception_handler(AuthServerUnavailable)
def auth_server_unavailable(request, exc):
    # Never 401: the token may well be valid, and a client would throw it away.
    return _unavailable(request, "the authorization server")


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def database_unavailable(request, exc):
    logger.error("posts database unavailable: %r", exc)
    return _unavailable(request, "the posts database")


@api.exception_handler(ValidationError)
def invalid_input(request, exc: ValidationError):
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        # loc is ("body", "<parameter>", "field", ...) or ("query"|"path", "field"): keep the field.
        loc = [str(part) for part in error.get("loc", ())]
        field = ".".join(loc[2:] if loc[:1] == ["body"] else loc[1:]) or "body"
        errors.setdefault(field, []).append(error.get("msg", "invalid"))
    return api.create_response(request, {"detail": "invalid input", "errors": errors}, status=400)


def not_found(request, exception=None):
    """Django's 404 for paths no operation matches, as JSON like the rest of the API."""
    return JsonResponse({"detail": "Not Found"}, status=404)


def server_error(request):
    return JsonResponse({"detail": "Server Error"}, status=500)


class JsonErrorsMiddleware:
    """Errors that Ninja or Django answer with a page of their own (405, an unreadable request's
    400) are JSON like the rest: `{"detail": "Method Not Allowed."}`, headers such as Allow kept.
    An empty answer (the redirect to the slashed path) claims no type."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.streaming or response.get("Content-Type", "").startswith("application/json"):
            return response
        if response.status_code >= 400:
            response.content = JsonResponse({"detail": f"{response.reason_phrase}."}).content
            response["Content-Type"] = "application/json"
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        elif not response.content:
            del response["Content-Type"]
        return response


# ---- operations -------------------------------------------------------------------------------
PostId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _editable(request, post_id: int) -> Post:
    post = get_object_or_404(Post, pk=post_id)
    if post.author != request.auth.user_id:
        raise HttpError(403, "only the author can change or delete this post")
    return post


@api.get("/", include_in_schema=False)
def index(request):
    return {"name": api.title, "openapi": f"{settings.PUBLIC_URL}/api/openapi.json",
            "docs": f"{settings.PUBLIC_URL}/api/docs"}


@api.get("/posts/", response={200: PostPage, **AUTH_ERRORS}, auth=OAuth2("read"), tags=["posts"],
         summary="List posts, newest first")
def list_posts(
    request,
    page: int = Query(1, ge=1, le=100_000),
    page_size: int = Query(settings.POSTS_PAGE_SIZE, ge=1, le=100),
    author: AuthorId | None = Query(None, description="only posts by this user id (`sub`)"),
):
    posts = Post.objects.all()
    if author is not None:
        posts = posts.filter(author=author)
    # One row past the page says whether another page exists; a COUNT(*) would grow with the table.
    start = (page - 1) * page_size
    items = list(posts[start:start + page_size + 1])
    return {"items": items[:page_size], "page": page, "page_size": page_size,
            "next_page": page + 1 if len(items) > page_size else None}


@api.post("/posts/", response={201: PostOut, **AUTH_ERRORS}, auth=OAuth2("write", user_required=True),
          tags=["posts"], summary="Create a post as the token's user")
def create_post(request, payload: PostIn):
    info = request.auth
    post = Post.objects.create(author=info.user_id, author_name=info.username or "", **payload.dict())
    logger.info("post %s created by %s", post.pk, info.user_id)
    return 201, post


@api.get("/posts/{post_id}/", response={200: PostOut, 404: Error, **AUTH_ERRORS}, auth=OAuth2("read"),
         tags=["posts"], summary="Get a post")
def get_post(request, post_id: PostId):
    return get_object_or_404(Post, pk=post_id)


@api.patch("/posts/{post_id}/", response={200: PostOut, 404: Error, **AUTH_ERRORS},
           auth=OAuth2("write", user_required=True), tags=["posts"], summary="Change a post (its author only)")
def update_post(request, post_id: PostId, payload: PostPatch):
    post = _editable(request, post_id)
    changes = payload.dict(exclude_unset=True)
    if changes:
        for name, value in changes.items():
            setattr(post, name, value)
        post.save(update_fields=[*changes, "updated_at"])
    return post


@api.delete("/posts/{post_id}/", response={204: None, 404: Error, **AUTH_ERRORS},
            auth=OAuth2("write", user_required=True), tags=["posts"], summary="Delete a post (its author only)")
def delete_post(request, post_id: PostId):
    _editable(request, post_id).delete()
    return 204, None


@api.get("/me/", response={200: MeOut, **AUTH_ERRORS}, auth=OAuth2("profile"), tags=["tokens"],
         summary="Who the token belongs to, its scopes and client")
def me(request):
    info = request.auth
    user = {"id": info.user_id, "username": info.username} if info.user_id else None
    return {"user": user, "client_id": info.client_id, "scopes": sorted(info.scopes), "expires_at": info.expires_at}


@api.get("/public/", response={200: PublicOut, **AUTH_ERRORS}, auth=OAuth2(optional=True), tags=["tokens"],
         summary="Open to everyone; a valid token personalizes it, an invalid one is refused")
def public(request):
    info = request.auth
    if info is ANONYMOUS:
        return {"message": "Hello! Anyone may read this; send a token to be greeted by name.", "username": None}
    return {"message": f"Hello, {info.username or f'client {info.client_id}'}!", "username": info.username}

