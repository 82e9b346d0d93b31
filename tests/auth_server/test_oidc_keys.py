"""Signing-key rotation (oauth/signing_keys.py, `manage.py oidc_keys`): ID tokens signed before a
rotation keep verifying through JWKS until their key is retired; new ones carry the new kid."""

import json
import os
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from stack import flows
from tests.oidc_keys import oidc_keys, published_kids


def verify(stack, id_token: str):
    """The ID token's header if it verifies against the JWKS published now (raises otherwise)."""
    jwks = requests.get(f"{stack.url}/o/.well-known/jwks.json").json()
    return jwt.decode(id_token, KeySet.import_key_set(jwks), registry=JWSRegistry(algorithms=["RS256"])).header


@pytest.fixture
def id_token(stack, demo):
    session = flows.login(stack.url, stack.env["DEMO_USERNAME"], stack.env["DEMO_PASSWORD"])

    def issue() -> str:
        return flows.authorization_code_tokens(stack.url, session, demo, scope="openid")["id_token"]

    issue.session = session
    return issue


@pytest.fixture
def one_key_after(stack):
    """Whatever a test leaves behind, the stack ends with one published key (the one that signs)."""
    yield
    oidc_keys(stack, "retire", "--all")
    assert len(published_kids(stack)) == 1


@pytest.mark.e2e
def test_rotation_keeps_earlier_id_tokens_valid_until_retirement(stack, id_token, one_key_after):
    [old_kid] = published_kids(stack)
    before = id_token()
    assert verify(stack, before)["kid"] == old_kid

    oidc_keys(stack, "rotate")
    new_kid, previous = published_kids(stack)  # the one that signs comes first
    assert previous == old_kid != new_kid
    assert verify(stack, before)["kid"] == old_kid, "a token signed before the rotation still verifies"
    assert verify(stack, id_token())["kid"] == new_kid, "new tokens are signed with the new key"

    # The server itself accepts the earlier token too: as id_token_hint at RP-initiated logout.
    logout = f"{stack.url}/o/logout/?{urlencode({'id_token_hint': before})}"
    assert id_token.session.get(logout).status_code == 200

    out = oidc_keys(stack, "retire")  # without --all: the old key signed tokens that are still valid
    assert f"kept {old_kid}" in out and published_kids(stack) == [new_kid, old_kid]

    oidc_keys(stack, "retire", "--all")
    assert published_kids(stack) == [new_kid]
    with pytest.raises(JoseError):
        verify(stack, before)
    refused = id_token.session.get(logout)
    assert refused.status_code == 400 and "can't be completed" in refused.text


@pytest.mark.e2e
def test_a_rotation_can_be_undone(stack, id_token, one_key_after):
    [original] = published_kids(stack)
    oidc_keys(stack, "rotate")
    rotated, _ = published_kids(stack)
    oidc_keys(stack, "activate", original)
    assert published_kids(stack) == [original, rotated]
    assert verify(stack, id_token())["kid"] == original


# ---- in this process: the command's logic on a key directory of the test's own ------------------
@pytest.fixture
def keys(auth_orm, tmp_path, settings_override):
    from django.core.management import call_command

    from oauth import signing_keys

    settings_override(OIDC_KEY_FILE=tmp_path / "private.pem", OIDC_KEY_RETIRE_AFTER=3600)
    call_command("ensure_oidc_key")

    def run(*args) -> str:
        from io import StringIO

        out = StringIO()
        call_command("oidc_keys", *args, stdout=out)
        return out.getvalue()

    run.current = signing_keys.current
    run.dir = tmp_path
    return run


@pytest.fixture
def settings_override():
    from django.test import override_settings

    active = []

    def apply(**values):
        o = override_settings(**values)
        o.enable()
        active.append(o)

    yield apply
    for o in reversed(active):
        o.disable()


def backdate(path, seconds: float):
    """Pretend a previous key was replaced `seconds` earlier than it was (its file name says when)."""
    from oauth import signing_keys

    stamp, kid = path.name.split("-", 1)
    then = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp() - seconds
    os.rename(path, path.with_name(signing_keys.previous_name(then, kid.removesuffix(".pem"))))


def test_rotation_is_seen_without_a_restart(keys):
    first = keys.current().active.thumbprint()
    keys("rotate")
    ring = keys.current()
    assert ring.active.thumbprint() != first
    assert [k.thumbprint() for k in ring.published()] == [ring.active.thumbprint(), first]
    assert ring.active.has_private and oct(os.stat(keys.dir / "private.pem").st_mode & 0o777) == "0o600"
    [previous] = (keys.dir / "previous").iterdir()
    assert oct(previous.stat().st_mode & 0o777) == "0o600" and first in previous.name


def test_retire_keeps_what_unexpired_tokens_need(keys):
    from oauth2_provider.settings import oauth2_settings

    keys("rotate")
    keys("rotate")
    older, newer = sorted((keys.dir / "previous").iterdir())
    backdate(older, oauth2_settings.ID_TOKEN_EXPIRE_SECONDS + 1)
    out = keys("retire")
    assert out.startswith("retired ") and "kept " in out
    assert len(keys.current().published()) == 2
    keys("retire", "--all")
    assert len(keys.current().published()) == 1 and not any((keys.dir / "previous").iterdir())


def test_previous_keys_retire_by_age_without_a_command(keys):
    keys("rotate")
    [previous] = (keys.dir / "previous").iterdir()
    assert len(keys.current().published()) == 2
    backdate(previous, 3600)  # OIDC_KEY_RETIRE_AFTER in this test
    assert len(keys.current().published()) == 1
    assert "retired (age)" in keys("list")


def test_an_id_token_takes_its_kid_and_signature_from_one_key(keys):
    from oauth import signing_keys

    with signing_keys.pinned():
        before = signing_keys.current().active.thumbprint()
        keys("rotate")
        assert signing_keys.current().active.thumbprint() == before
    assert signing_keys.current().active.thumbprint() != before


def test_jwks_lists_the_keys_on_disk_now(keys):
    from django.test import RequestFactory

    from oauth.views import JwksInfoView

    keys("rotate")
    response = JwksInfoView.as_view()(RequestFactory().get("/o/.well-known/jwks.json"))
    published = json.loads(response.content)["keys"]
    assert [k["kid"] for k in published] == [k.thumbprint() for k in keys.current().published()]
    assert all("d" not in k and k["alg"] == "RS256" and k["use"] == "sig" for k in published)


def test_bad_requests_get_a_clear_error(keys):
    from django.core.management import CommandError

    assert keys("retire") == "no previous key to retire\n"
    with pytest.raises(CommandError, match="No published previous key"):
        keys("activate", "no-such-kid")
    (keys.dir / "private.pem").unlink()
    with pytest.raises(CommandError, match="ensure_oidc_key"):
        keys("rotate")
