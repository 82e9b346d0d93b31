"""Password guessing: django-axes locks a username at one address for a cool-off; nginx limits sign-in POSTs.

Each test speaks from loopback addresses of its own (127.0.0.x as the source, the stack's nginx as the
destination), so the locks and rate limits it provokes touch no other test, which all come from 127.0.0.1.
"""

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest
import requests
from requests.adapters import HTTPAdapter

from stack import flows

STYLESHEET = "/static/auth_server/oauth/site.css"


class _FromAddress(HTTPAdapter):
    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs, source_address=(self.address, 0))


def session_from(address: str) -> requests.Session:
    """A browser session whose connections come from `address` (what nginx sees as the client)."""
    session = requests.Session()
    session.mount("http://", _FromAddress(address))
    return session


def sign_in(stack, session, username, password, path="/accounts/login/"):
    page = session.get(f"{stack.url}{path}")
    assert page.status_code == 200, page.status_code
    return flows.submit_form(session, page, {"username": username, "password": password}, allow_redirects=False)


def signed_in(response) -> bool:
    return response.status_code in (302, 303) and "/login/" not in urlparse(response.headers["Location"]).path


@pytest.fixture
def axes_settings(auth_orm):
    from django.conf import settings

    return settings


def test_repeated_wrong_passwords_lock_the_account_at_that_address_only(stack, new_user, axes_settings,
                                                                         audit_log):
    user, password = new_user()
    limit = axes_settings.AXES_FAILURE_LIMIT
    attacker = session_from("127.0.0.2")
    answers = [sign_in(stack, attacker, user.username, f"guess-{i}").status_code for i in range(limit)]
    assert answers == [200] * (limit - 1) + [429]

    # Now even the right password is refused from there: a readable page, with when to come back.
    locked = sign_in(stack, attacker, user.username, password)
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == str(int(axes_settings.AXES_COOLOFF_TIME.total_seconds()))
    assert "Too many failed sign-ins" in locked.text and f'href="{STYLESHEET}"' in locked.text
    assert "no-store" in locked.headers["Cache-Control"]

    # The same user elsewhere is not locked out, nor is another user at the attacker's address.
    assert signed_in(sign_in(stack, session_from("127.0.0.3"), user.username, password))
    other, other_password = new_user()
    assert signed_in(sign_in(stack, session_from("127.0.0.2"), other.username, other_password))

    assert len(audit_log.events("login_failed")) >= limit
    assert any(e["user"] == user.username for e in audit_log.events("login_locked_out"))
    assert any(e["user"] == user.username for e in audit_log.events("login_succeeded"))


def test_lock_ends_after_the_cool_off(stack, new_user, axes_settings, auth_orm):
    from axes.models import AccessAttempt
    from django.utils import timezone

    user, password = new_user()
    session = session_from("127.0.0.4")
    for i in range(axes_settings.AXES_FAILURE_LIMIT):
        sign_in(stack, session, user.username, f"guess-{i}")
    assert sign_in(stack, session, user.username, password).status_code == 429

    # The cool-off passes (moved, rather than waited for).
    AccessAttempt.objects.filter(username=user.username).update(
        attempt_time=timezone.now() - axes_settings.AXES_COOLOFF_TIME)
    assert signed_in(sign_in(stack, session, user.username, password))


def test_admin_sign_in_is_locked_too(stack, new_user, axes_settings):
    user, password = new_user(is_staff=True)
    session = session_from("127.0.0.5")
    answers = [sign_in(stack, session, user.username, f"guess-{i}", path="/admin/login/").status_code
               for i in range(axes_settings.AXES_FAILURE_LIMIT)]
    assert answers[-1] == 429 and set(answers[:-1]) == {200}
    locked = sign_in(stack, session, user.username, password, path="/admin/login/")
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    assert "Retry-After" in locked.headers


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_nginx_limits_a_burst_of_sign_in_posts(stack, path):
    # From an address of its own: the limit is per address, and the 127.0.0.1 of the other tests stays untouched.
    session = session_from("127.0.0.6" if path.startswith("/accounts") else "127.0.0.7")
    page = session.get(f"{stack.url}{path}")
    assert page.status_code == 200
    form = flows.forms(page.text)[-1]
    fields = form["fields"]

    def guess(i):
        # A new username each time: these are nginx's refusals, not a django-axes lock.
        data = {**fields, "username": f"nobody-{i}", "password": "guess"}
        return session.post(f"{stack.url}{path}", data=data, headers={"Referer": page.url}, allow_redirects=False)

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(guess, range(40)))
    limited = [r for r in answers if r.status_code == 429]
    assert limited, [r.status_code for r in answers]
    # nginx's own answer, for a person: a page in the site's look, not JSON.
    assert limited[0].headers["Content-Type"].startswith("text/html")
    assert "Too many sign-in attempts" in limited[0].text and f'href="{STYLESHEET}"' in limited[0].text
    # Page loads are not sign-in attempts and stay unlimited by it.
    assert session.get(f"{stack.url}{path}").status_code == 200
