from django.urls import path

from posts import health
from posts.api import api, not_found

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("api/", api.urls),
]

handler404 = not_found
