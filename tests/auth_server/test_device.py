"""The device authorization grant (RFC 8628): codes, the verification page, polling, and bad input."""

import re
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from stack import flows

USER_CODE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")


@pytest.fixture(scope="module")
def device(stack) -> str:
    return stack.env["DEVICE_CLIENT_ID"]


@pytest.fixture(scope="module")
def demo_session(stack):
    return flows.login(stack.url, stack.env["DEMO_USERNAME"], stack.env["DEMO_PASSWORD"])


def start(stack, device, scope="read") -> dict:
    answer = flows.device_authorization(stack.url, device, scope)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "application/json" and "no-store" in answer.headers["Cache-Control"]
    return answer.json()


def poll_after_interval(stack, device, started: dict) -> requests.Response:
    time.sleep(started["interval"] + 0.2)
    return flows.poll(stack.url, device, started["device_code"])


def assert_error(response, error: str, status: int = 400):
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == error


def assert_page(response, status: int, *texts: str):
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert "text/html" in response.headers["Content-Type"]
    for text in texts:
        assert text in response.text, text


# ---- the whole flow --------------------------------------------------------------------------------
@pytest.mark.e2e
def test_device_flow(stack, device, demo_session):
    started = start(stack, device, scope="read profile")
    assert USER_CODE.match(started["user_code"]), started["user_code"]
    assert started["verification_uri"] == f"{stack.url}/o/device/"
    complete = urlsplit(started["verification_uri_complete"])
    assert parse_qs(complete.query) == {"user_code": [started["user_code"]]}
    assert 0 < started["expires_in"] <= 600 and started["interval"] >= 1
    assert_error(poll_after_interval(stack, device, started), "authorization_pending")

    # The link (or QR code) opens the page with the code filled in; the user confirms it.
    page = demo_session.get(started["verification_uri_complete"])
    assert_page(page, 200, f'value="{started["user_code"]}"')
    confirmation = flows.submit_form(demo_session, page, {})
    assert_page(confirmation, 200, "Demo TV (device)", started["user_code"], "Read posts on your behalf",
                "See your username and name")
    assert_page(flows.answer_device(demo_session, confirmation), 200, "Your device is connected")

    tokens = poll_after_interval(stack, device, started)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "Bearer" and set(body["scope"].split()) == {"read", "profile"}
    me = requests.get(f"{stack.url}/api/me/", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["user"]["username"] == stack.env["DEMO_USERNAME"]
    assert me.json()["client_id"] == device

    # Single use: the device code is spent, and so is the user code.
    assert_error(poll_after_interval(stack, device, started), "invalid_grant")
    assert_page(flows.enter_user_code(demo_session, stack.url, started["user_code"]), 400,
                "No device is waiting for this code")


@pytest.mark.e2e
def test_without_scope_the_device_gets_the_default(stack, device):
    assert start(stack, device, scope=None)["scope"] == "read"


@pytest.mark.e2e
def test_sign_in_comes_first(stack, device):
    started = start(stack, device)
    answer = requests.get(started["verification_uri_complete"], allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/accounts/login/?next=")


@pytest.mark.e2e
@pytest.mark.parametrize("typed", [str.lower, lambda c: c.replace("-", ""), lambda c: " " + c.replace("-", " – ").lower()],
                         ids=["lower case", "no dash", "spaces and another dash"])
def test_the_code_may_be_typed_loosely(stack, device, demo_session, typed):
    started = start(stack, device)
    assert_page(flows.enter_user_code(demo_session, stack.url, typed(started["user_code"])), 200,
                started["user_code"], "Demo TV (device)")


# ---- the token endpoint's answers (RFC 8628 §3.5) ----------------------------------------------------
@pytest.mark.e2e
def test_denied(stack, device, demo_session):
    started = start(stack, device)
    confirmation = flows.enter_user_code(demo_session, stack.url, started["user_code"])
    assert_page(flows.answer_device(demo_session, confirmation, allow=False), 200, "Request denied")
    assert_error(poll_after_interval(stack, device, started), "access_denied")
    # The decision stands: the same code can't be allowed afterwards.
    assert_page(flows.answer_device(demo_session, confirmation), 400, "This code was already used")
    assert_error(poll_after_interval(stack, device, started), "access_denied")


@pytest.mark.e2e
def test_polling_too_fast_gets_slow_down_and_a_longer_interval(stack, device):
    started = start(stack, device)
    assert_error(poll_after_interval(stack, device, started), "authorization_pending")
    assert_error(flows.poll(stack.url, device, started["device_code"]), "slow_down")
    # The interval grew by 5 s: polling at the announced one is still too fast.
    assert_error(poll_after_interval(stack, device, started), "slow_down")


@pytest.mark.e2e
def test_unknown_device_code(stack, device):
    assert_error(flows.poll(stack.url, device, secrets.token_urlsafe(30)), "invalid_grant")


@pytest.mark.e2e
def test_missing_device_code(stack, device):
    assert_error(requests.post(f"{stack.url}/o/token/", data={"grant_type": flows.DEVICE_GRANT, "client_id": device}),
                 "invalid_request")


@pytest.mark.e2e
def test_unknown_client(stack, device):
    started = start(stack, device)
    assert_error(flows.poll(stack.url, "no-such-client", started["device_code"]), "invalid_client", 401)


@pytest.mark.e2e
def test_a_client_without_the_device_grant_is_refused(stack, device):
    started = start(stack, device)
    demo = flows.demo_client(stack)
    answer = requests.post(f"{stack.url}/o/token/", auth=demo.auth,
                           data={"grant_type": flows.DEVICE_GRANT, "device_code": started["device_code"]})
    assert_error(answer, "unauthorized_client")
    # Nor does it get device codes of its own (it could never poll for them).
    assert_error(requests.post(f"{stack.url}/o/device-authorization/", auth=demo.auth,
                               data={"client_id": demo.client_id}), "unauthorized_client")


def test_another_device_client_gets_invalid_grant(stack, device, auth_orm):
    from oauth2_provider.models import get_application_model

    other = get_application_model().objects.create(
        name=f"other device {secrets.token_hex(3)}", client_type="public", client_secret="",
        hash_client_secret=False, authorization_grant_type="urn:ietf:params:oauth:grant-type:device_code")
    started = start(stack, device)
    assert_error(poll_after_interval(stack, other.client_id, started), "invalid_grant")
    # The code's own client still polls as usual: nothing of it was spent.
    assert_error(flows.poll(stack.url, device, started["device_code"]), "authorization_pending")


@pytest.mark.e2e
@pytest.mark.parametrize("data, error", [
    ({"scope": "read"}, "invalid_request"),
    ({"client_id": "no-such-client"}, "invalid_client"),
    ({"client_id": "{device}", "scope": "introspection"}, "invalid_scope"),
    ({"client_id": "{device}", "scope": "openid"}, "invalid_scope"),
    ({"client_id": "{device}", "scope": "admin"}, "invalid_scope"),
], ids=["no client_id", "unknown client", "restricted scope", "openid", "unknown scope"])
def test_device_authorization_errors(stack, device, data, error):
    data = {name: value.format(device=device) for name, value in data.items()}
    answer = requests.post(f"{stack.url}/o/device-authorization/", data=data)
    assert answer.status_code in (400, 401) and answer.json()["error"] == error, answer.text


@pytest.mark.e2e
def test_device_authorization_refuses_get_and_json(stack, device):
    assert requests.get(f"{stack.url}/o/device-authorization/").status_code == 405
    answer = requests.post(f"{stack.url}/o/device-authorization/", json={"client_id": device})
    assert_error(answer, "invalid_request")


# ---- expiry -----------------------------------------------------------------------------------------
def test_expired_codes(stack, device, user_session, auth_orm):
    from django.utils import timezone
    from oauth2_provider.models import get_device_grant_model

    _, session = user_session
    started = start(stack, device)
    get_device_grant_model().objects.filter(device_code=started["device_code"]).update(expires=timezone.now())
    assert_page(flows.enter_user_code(session, stack.url, started["user_code"]), 400, "This code has expired")
    assert_error(poll_after_interval(stack, device, started), "expired_token")


def test_a_code_expiring_before_the_answer_is_not_granted(stack, device, user_session, auth_orm):
    from django.utils import timezone
    from oauth2_provider.models import get_device_grant_model

    _, session = user_session
    started = start(stack, device)
    confirmation = flows.enter_user_code(session, stack.url, started["user_code"])
    get_device_grant_model().objects.filter(device_code=started["device_code"]).update(expires=timezone.now())
    assert_page(flows.answer_device(session, confirmation), 400, "This code has expired")
    assert_error(poll_after_interval(stack, device, started), "expired_token")


# ---- the verification page: bad input and guessing ---------------------------------------------------
@pytest.mark.e2e
@pytest.mark.parametrize("typed", ["", "BCDF-GHJ", "BCDF-GHJKL", "BCD0-GHJK", "BCDO-GHJK", "BCD1-GHJK", "ABCD-EFGH",
                                   "<script>alert(1)</script>", "ß" * 8, "x" * 5000])
def test_malformed_codes_get_a_page(stack, demo_session, typed):
    answer = flows.enter_user_code(demo_session, stack.url, typed)
    assert_page(answer, 400, "a code from a device")
    assert "<script>alert" not in answer.text


def test_unknown_code_gets_a_page(stack, user_session):
    _, session = user_session
    assert_page(flows.enter_user_code(session, stack.url, "BCDF-GHJK"), 400, "No device is waiting for this code")


def test_guessing_is_stopped(stack, device, user_session, auth_orm):
    from django.conf import settings

    _, session = user_session
    for _ in range(settings.DEVICE_CODE_FAILURE_LIMIT):
        assert flows.enter_user_code(session, stack.url, "BCDF-GHJK").status_code == 400
    started = start(stack, device)
    # Even the right code is refused now: a guesser learns nothing more in this window.
    refused = flows.enter_user_code(session, stack.url, started["user_code"])
    assert_page(refused, 429, "Too many wrong codes")
    assert 0 < int(refused.headers["Retry-After"]) <= settings.DEVICE_CODE_FAILURE_WINDOW_SECONDS
    assert_error(poll_after_interval(stack, device, started), "authorization_pending")


def test_guessing_is_stopped_per_address_too(stack, device, new_user, auth_orm):
    """Many accounts, one address (in-process: the test stack's address limit is set high)."""
    from django.test import Client, override_settings

    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    with override_settings(DEVICE_CODE_FAILURE_ADDRESS_LIMIT=3, DEVICE_CODE_FAILURE_LIMIT=100):
        for i in range(4):
            browser = Client(HTTP_HOST="localhost", HTTP_X_REAL_IP=address)
            browser.force_login(new_user()[0])
            answer = browser.post("/o/device/", {"user_code": "BCDF-GHJK"})
            assert answer.status_code == (400 if i < 3 else 429), (i, answer.status_code)
        elsewhere = Client(HTTP_HOST="localhost", HTTP_X_REAL_IP="10.255.255.1")
        elsewhere.force_login(new_user()[0])
        assert elsewhere.post("/o/device/", {"user_code": "BCDF-GHJK"}).status_code == 400


@pytest.mark.e2e
def test_the_page_is_csrf_protected(stack, device, demo_session):
    started = start(stack, device)
    answer = demo_session.post(f"{stack.url}/o/device/", data={"user_code": started["user_code"], "allow": ""})
    assert answer.status_code == 403
    assert_error(poll_after_interval(stack, device, started), "authorization_pending")
