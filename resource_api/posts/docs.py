"""The interactive API documentation at /api/docs: Django Ninja's Swagger UI, served from this
origin's static files (nginx's CSP allows no other), with OAuth2 sign-in.

Swagger UI signs a reader in with the authorization code flow and PKCE as the public client
`API_DOCS_CLIENT_ID` (seeded by the auth server's `seed_demo`, redirect URI `/api/docs/oauth2-redirect`),
or takes a client id and secret for the client-credentials flow. Its settings travel as JSON in
the page, read by posts/static/posts/api-docs.js: no inline script.
"""

from django.conf import settings
from django.shortcuts import render
from ninja.openapi.docs import Swagger

REDIRECT_PATH = "/api/docs/oauth2-redirect"


class SwaggerWithOAuth(Swagger):
    template = "posts/api_docs.html"

    def render_page(self, request, api, **kwargs):
        swagger = {
            **self.settings,
            "url": self.get_openapi_url(api, kwargs),
            "oauth2RedirectUrl": settings.PUBLIC_URL + REDIRECT_PATH,
            # Tokens live in the page's memory only, never in the browser's storage.
            "persistAuthorization": False,
        }
        oauth = {
            "clientId": settings.API_DOCS_CLIENT_ID,
            "usePkceWithAuthorizationCodeGrant": True,
            "scopes": "read",
            "appName": "Posts API docs",
        }
        return render(request, self.template, {"api": api, "swagger": swagger, "oauth": oauth})


def oauth2_redirect(request):
    """Where the auth server sends the reader back: hands the code to the Swagger UI that opened
    this window (posts/static/posts/oauth2-redirect.js)."""
    return render(request, "posts/oauth2_redirect.html")
