from django.db import models


class Post(models.Model):
    # The author is the token's subject at the auth server (`sub`): users live there, not here.
    author = models.CharField(max_length=255)
    author_name = models.CharField(max_length=150, help_text="the author's username when the post was written")
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=10_000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="post_newest_first"),
            models.Index(fields=["author", "-created_at", "-id"], name="post_author_newest_first"),
        ]
