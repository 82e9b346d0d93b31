"""The product's URLs, with the bench-only routes added to its API before its URLs are built."""

from posts.api import PostPage, api, list_posts

from loadtest.benchapi import routes

routes.mount(api, list_posts, PostPage)

from apisite.urls import handler404, handler500, urlpatterns  # noqa: E402, F401
