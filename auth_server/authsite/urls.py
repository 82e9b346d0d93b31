from django.contrib import admin
from django.urls import include, path
from oauth2_provider import urls as dot_urls

from common import health
from oauth import views

# This deployment's versions of some of DOT's views, under DOT's own names (so `{% url %}` and
# DOT's redirects keep working); they are listed before DOT's urls, which fill in the rest.
oauth_overrides = [
    path("authorize/", views.AuthorizationView.as_view(), name="authorize"),
    path("token/", views.TokenView.as_view(), name="token"),
    path("introspect/", views.IntrospectTokenView.as_view(), name="introspect"),
    path("logout/", views.RPInitiatedLogoutView.as_view(), name="rp-initiated-logout"),
    path("authorized_tokens/", views.AuthorizedTokensListView.as_view(), name="authorized-token-list"),
    path("applications/", views.ApplicationList.as_view(), name="list"),
    path("applications/register/", views.ApplicationRegistration.as_view(), name="register"),
    path("applications/<slug:pk>/", views.ApplicationDetail.as_view(), name="detail"),
    path("applications/<slug:pk>/delete/", views.ApplicationDelete.as_view(), name="delete"),
    path("applications/<slug:pk>/update/", views.ApplicationUpdate.as_view(), name="update"),
    path("applications/<slug:pk>/reset-secret/", views.ApplicationSecretReset.as_view(), name="reset-secret"),
]
# DOT's routes minus the device flow and dynamic client registration, which this deployment doesn't offer.
dot_routes = [
    route
    for route in dot_urls.metadata_urlpatterns + dot_urls.base_urlpatterns
    + dot_urls.management_urlpatterns + dot_urls.oidc_urlpatterns
    if not route.name.startswith("device")
]

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("o/", include((oauth_overrides + dot_routes, "oauth2_provider"))),
]
