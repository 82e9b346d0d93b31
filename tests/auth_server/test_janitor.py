"""The local stack runs the janitor Compose runs (stack/wiring.yaml): cleartokens deletes expired tokens."""

import hashlib
import time
from datetime import timedelta

from stack import flows


def test_local_janitor_deletes_an_expired_token(stack, auth_orm):
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model

    answer = flows.client_credentials_token(stack.url, flows.loadtest_client(stack))
    assert answer.status_code == 200, answer.text
    rows = get_access_token_model().objects.filter(
        token_checksum=hashlib.sha256(answer.json()["access_token"].encode()).hexdigest())
    rows.update(expires=timezone.now() - timedelta(seconds=1))  # expired, without a revocation event
    assert rows.exists()
    # Its loop runs cleartokens on start, then every CLEARTOKENS_INTERVAL (an hour): restart it.
    stack.stop("janitor")
    stack.start("janitor")
    deadline = time.monotonic() + 30
    while rows.exists():
        assert time.monotonic() < deadline, "the janitor did not delete the expired token\n" + \
            stack.log("janitor").read_text()[-2000:]
        time.sleep(0.2)
