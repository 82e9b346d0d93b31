from django.urls import path

from posts import health

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
]
