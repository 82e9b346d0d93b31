from django.urls import path

from common import health
from posts import docs
from posts.api import api, not_found, server_error

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path(docs.REDIRECT_PATH.lstrip("/"), docs.oauth2_redirect),
    path("api/", api.urls),
]

handler404 = not_found
handler500 = server_error
