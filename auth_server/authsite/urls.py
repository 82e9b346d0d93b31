from django.contrib import admin
from django.urls import include, path
from oauth2_provider import urls as dot_urls

from common import health
from oauth import device, discovery, views

# This deployment's versions of some of DOT's views, under DOT's own names (so `{% url %}` and
# DOT's redirects keep working); they are listed before DOT's urls, which fill in the rest.
oauth_overrides = [
    path("authorize/", views.AuthorizationView.as_view(), name="authorize"),
    path("token/", views.TokenView.as_view(), name="token"),
    path("introspect/", views.IntrospectTokenView.as_view(), name="introspect"),
    path("logout/", views.RPInitiatedLogoutView.as_view(), name="rp-initiated-logout"),
    path(".well-known/jwks.json", views.JwksInfoView.as_view(), name="jwks-info"),
    path("authorized_tokens/", views.AuthorizedTokensListView.as_view(), name="authorized-token-list"),
    path("authorized_tokens/app/<int:application_id>/revoke/", views.ConnectedAppRevokeView.as_view(),
         name="authorized-app-revoke"),
    path("applications/", views.ApplicationList.as_view(), name="list"),
    path("applications/register/", views.ApplicationRegistration.as_view(), name="register"),
    path("applications/<slug:pk>/", views.ApplicationDetail.as_view(), name="detail"),
    path("applications/<slug:pk>/delete/", views.ApplicationDelete.as_view(), name="delete"),
    path("applications/<slug:pk>/update/", views.ApplicationUpdate.as_view(), name="update"),
    path("applications/<slug:pk>/reset-secret/", views.ApplicationSecretReset.as_view(), name="reset-secret"),
    # One metadata document for both discovery URLs (nginx maps RFC 8414's to the first).
    path(".well-known/oauth-authorization-server", discovery.metadata_view, name="oauth-server-metadata"),
    path(".well-known/openid-configuration", discovery.metadata_view, name="oidc-connect-discovery-info"),
    path("device-authorization/", device.DeviceAuthorizationView.as_view(), name="device-authorization"),
    path("device/", device.DeviceView.as_view(), name="device"),
]
# DOT's routes minus its device pages (the user code travels in their paths; oauth/device.py has one
# page instead), its metadata for other issuers (there is one issuer) and dynamic client
# registration, which this deployment doesn't offer.
dot_routes = [
    route
    for route in dot_urls.metadata_urlpatterns + dot_urls.base_urlpatterns
    + dot_urls.management_urlpatterns + dot_urls.oidc_urlpatterns
    if not route.name.startswith("device") and route.name != "oauth-server-metadata-issuer"
]

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("o/", include((oauth_overrides + dot_routes, "oauth2_provider"))),
]
