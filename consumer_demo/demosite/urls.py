from django.urls import path

from walkthrough import health

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
]
