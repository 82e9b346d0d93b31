from django.urls import path

from common import health
from walkthrough import device, problems, views

handler500 = problems.server_error

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("", views.home, name="home"),
    path("start/", views.start, name="start"),
    path("authorize/", views.authorize, name="authorize"),
    path("callback/", views.callback, name="callback"),
    path("login/", views.login, name="login"),
    path("posts/", views.posts, name="posts"),
    path("posts/<slug:action>/", views.posts_action, name="posts_action"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<slug:action>/", views.tokens_action, name="tokens_action"),
    path("logout/", views.logout, name="logout"),
    path("device/", device.device, name="device"),
    path("device/<slug:action>/", device.device_action, name="device_action"),
    path("timeline/", views.timeline, name="timeline"),
    path("timeline/clear/", views.timeline_clear, name="timeline_clear"),
]
