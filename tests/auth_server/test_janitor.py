"""The local stack runs the janitor Compose runs (stack/wiring.yaml): it deletes expired tokens, and the
expired device requests django-oauth-toolkit's cleartokens leaves."""

import hashlib
import time
from datetime import timedelta

from stack import flows


def test_local_janitor_deletes_expired_tokens_and_device_requests(stack, auth_orm):
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model, get_device_grant_model

    answer = flows.client_credentials_token(stack.url, flows.loadtest_client(stack))
    assert answer.status_code == 200, answer.text
    rows = get_access_token_model().objects.filter(
        token_checksum=hashlib.sha256(answer.json()["access_token"].encode()).hexdigest())
    rows.update(expires=timezone.now() - timedelta(seconds=1))  # expired, without a revocation event
    assert rows.exists()
    device = flows.device_client(stack).client_id
    codes = [flows.device_authorization(stack.url, device).json()["device_code"] for _ in range(2)]
    grants = get_device_grant_model().objects
    grants.filter(device_code=codes[0]).update(expires=timezone.now() - timedelta(minutes=11))
    grants.filter(device_code=codes[1]).update(expires=timezone.now() - timedelta(minutes=1))  # grace
    # Its loop runs clear_expired on start, then every CLEARTOKENS_INTERVAL (an hour): restart it.
    stack.stop("janitor")
    stack.start("janitor")
    deadline = time.monotonic() + 30
    while rows.exists() or grants.filter(device_code=codes[0]).exists():
        assert time.monotonic() < deadline, "the janitor did not delete the expired rows\n" + \
            stack.log("janitor").read_text()[-2000:]
        time.sleep(0.2)
    assert grants.filter(device_code=codes[1]).exists(), "a device still polling must hear expired_token"
