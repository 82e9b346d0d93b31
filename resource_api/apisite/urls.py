from django.urls import path

from common import health
from posts.api import api, not_found, server_error

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("api/", api.urls),
]

handler404 = not_found
handler500 = server_error
