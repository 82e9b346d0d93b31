"""DOT's models, swapped in before the first migration so that `expires` is indexed.

`cleartokens` and the growth benchmark filter on `expires`; stock DOT leaves it unindexed
(DOT #651, #979), which turns every clean-up into a full-table scan.
"""

from django.db import models
from oauth2_provider.models import (
    AbstractAccessToken,
    AbstractApplication,
    AbstractGrant,
    AbstractIDToken,
    AbstractRefreshToken,
)


class Application(AbstractApplication):
    # Space-separated scopes this client may ever be granted; empty means every scope.
    allowed_scopes = models.CharField(max_length=255, blank=True, default="")

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"


class Grant(AbstractGrant):
    class Meta(AbstractGrant.Meta):
        swappable = "OAUTH2_PROVIDER_GRANT_MODEL"
        indexes = [models.Index(fields=["expires"])]


class AccessToken(AbstractAccessToken):
    class Meta(AbstractAccessToken.Meta):
        swappable = "OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL"
        indexes = [models.Index(fields=["expires"])]


class RefreshToken(AbstractRefreshToken):
    class Meta(AbstractRefreshToken.Meta):
        swappable = "OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL"
        indexes = [*AbstractRefreshToken.Meta.indexes, models.Index(fields=["revoked"])]


class IDToken(AbstractIDToken):
    class Meta(AbstractIDToken.Meta):
        swappable = "OAUTH2_PROVIDER_ID_TOKEN_MODEL"
        indexes = [models.Index(fields=["expires"])]
