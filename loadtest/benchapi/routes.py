"""The posts API's routes that only `make bench` has.

Both serve the same post list as GET /api/posts/, from the same API object, so the bench can tell
what token validation costs:
  /api/_bench/noauth/posts/    no authentication at all;
  /api/_bench/dblookup/posts/  the token looked up in the auth server's database on every request,
                               as stock DOT validates it.
"""

from datetime import datetime, timezone

from django.db import connections

from common.revocation import token_digest
from posts.auth import OAuth2, TokenInfo

# The query DOT's validator makes (AccessToken by token_checksum, with its application and user).
TOKEN_QUERY = """
    SELECT t.scope, t.expires, a.client_id, u.id, u.username
    FROM oauth_accesstoken t
    JOIN oauth_application a ON a.id = t.application_id
    LEFT JOIN auth_user u ON u.id = t.user_id
    WHERE t.token_checksum = %s
"""


class DatabaseLookup(OAuth2):
    def resolve(self, token: str) -> TokenInfo | None:
        with connections["auth"].cursor() as cursor:
            cursor.execute(TOKEN_QUERY, [token_digest(token)])
            row = cursor.fetchone()
        if row is None or row[1] <= datetime.now(timezone.utc):
            return None
        scope, expires, client_id, user_id, username = row
        return TokenInfo(frozenset(scope.split()), client_id, str(user_id) if user_id else None, username,
                         int(expires.timestamp()))


def mount(api, list_view, response):
    api.get("/_bench/noauth/posts/", response=response, auth=None, include_in_schema=False,
            url_name="bench_noauth_posts")(list_view)
    api.get("/_bench/dblookup/posts/", response=response, auth=DatabaseLookup("read"), include_in_schema=False,
            url_name="bench_dblookup_posts")(list_view)
