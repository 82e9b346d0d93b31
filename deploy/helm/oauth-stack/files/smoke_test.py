"""`helm test`'s smoke test, run in the cluster with the auth_server image (standard library only):
through nginx, as a client of the public URL would, check discovery, a client-credentials token,
an API call with it, and that the API refuses it once revoked. Exits non-zero on the first failure."""

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ENTRY = os.environ["ENTRY_URL"].rstrip("/")
PUBLIC = os.environ["PUBLIC_URL"].rstrip("/")
# Django answers the public host name only: requests name it, whatever address they go to.
HOST = urllib.parse.urlsplit(PUBLIC).netloc
CLIENT = base64.b64encode(
    f"{os.environ['LOADTEST_CLIENT_ID']}:{os.environ['LOADTEST_CLIENT_SECRET']}".encode()).decode()


def call(path, data=None, headers=None):
    request = urllib.request.Request(ENTRY + path, headers={"Host": HOST, **(headers or {})},
                                     data=urllib.parse.urlencode(data).encode() if data else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""), flush=True)
    if not ok:
        sys.exit(1)


status, body = call("/o/.well-known/openid-configuration")
check("discovery answers", status == 200, f"{status} {body[:200]!r}")
check("issuer is the public URL", json.loads(body)["issuer"] == PUBLIC + "/o", body[:200])

status, body = call("/o/token/", {"grant_type": "client_credentials", "scope": "read"},
                    {"Authorization": f"Basic {CLIENT}"})
check("client-credentials token", status == 200, f"{status} {body[:200]!r}")
token = json.loads(body)["access_token"]
bearer = {"Authorization": f"Bearer {token}"}

status, body = call("/api/posts/", headers=bearer)
check("API call with the token", status == 200, f"{status} {body[:200]!r}")

status, body = call("/o/revoke_token/", {"token": token}, {"Authorization": f"Basic {CLIENT}"})
check("revocation accepted", status == 200, f"{status} {body[:200]!r}")

# The revocation reaches every API replica within a second or two (relay, Redis); allow ten.
deadline = time.monotonic() + 10
while (status := call("/api/posts/", headers=bearer)[0]) != 401 and time.monotonic() < deadline:
    time.sleep(0.5)
check("API refuses the revoked token", status == 401, str(status))
