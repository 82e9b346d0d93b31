"""The demo's device chapter: the demo plays a TV (RFC 8628), the visitor answers on "their phone"."""

import re
import time

import pytest
from playwright.sync_api import expect

from stack import flows
from tests.consumer_demo.conftest import text_of
from tests.consumer_demo.test_browser import page, sign_in  # noqa: F401 (the page fixture)

USER_CODE = r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}"


@pytest.mark.e2e
def test_device_chapter(page, stack, screenshot):  # noqa: F811
    page.goto(f"{stack.url}/device/")
    expect(page.get_by_role("heading", name="Sign in a TV that has no keyboard")).to_be_visible()
    page.get_by_role("button", name="Switch on the TV").click()
    # From here the TV polls by itself: each poll reloads the page, with that poll's answer as the result.
    expect(page.locator("#user-code")).to_have_text(re.compile(f"^{USER_CODE}$"))
    code = page.locator("#user-code").inner_text()
    link = f"{stack.url}/o/device/?user_code={code}"
    expect(page.locator("#verification-uri")).to_have_attribute("href", link)
    expect(page.locator("#tv figure.qr svg")).to_be_visible()
    # (No screenshot of it now: a full-page screenshot can't finish while the page reloads every second.)

    # The visitor's phone: the link (what the QR code holds) opens the auth server, sign-in first.
    phone = page.context.new_page()
    phone.goto(link)
    sign_in(phone, stack)
    phone.locator("button[type=submit]").click()
    phone.wait_for_url("**/o/device/**")
    expect(phone.locator("#id_user_code")).to_have_value(code)
    phone.get_by_role("button", name="Continue").click()
    expect(phone.get_by_role("heading", name="Allow Demo TV (device) on your device?")).to_be_visible()
    expect(phone.locator("ul.scopes")).to_contain_text("Read posts on your behalf")
    screenshot(phone, "phone-confirms")
    phone.get_by_role("button", name="Allow").click()
    expect(phone.get_by_role("heading", name="Your device is connected")).to_be_visible()

    # The TV, polling by itself, gets its tokens and calls the API with them.
    expect(page.locator("#tv h2")).to_have_text("Signed in", timeout=30_000)
    expect(page.locator("#result")).to_contain_text("The TV has its tokens")
    screenshot(page, "tv-signed-in")
    page.get_by_role("button", name="Call the API with the TV's token").click()
    expect(page.locator("#result h3")).to_have_text("The API answered 200 OK")
    expect(page.locator("#result")).to_contain_text(stack.env["DEMO_USERNAME"])

    page.goto(f"{stack.url}/timeline/")
    for label in ("Device authorization request", "the TV polls with its device code", "the TV's token"):
        expect(page.locator("body")).to_contain_text(label)


@pytest.mark.e2e
def test_polls_before_the_answer_are_explained_and_a_denial_stops_the_tv(visitor):
    def wait_and_poll(page):
        time.sleep(int(re.search(r'data-interval="(\d+)"', page.text).group(1)) + 0.2)
        return visitor.post("/device/poll/")

    started = visitor.post("/device/start/")
    assert "The TV has its codes" in text_of(started) and "Device authorization request" in text_of(started)
    pending = wait_and_poll(started)
    assert "Not yet: authorization_pending" in text_of(pending)
    too_soon = visitor.post("/device/poll/")
    assert "Too soon: slow_down" in text_of(too_soon)
    code = re.search(rf'id="user-code">({USER_CODE})<', pending.text).group(1)
    session = flows.login(visitor.url, visitor.env["DEMO_USERNAME"], visitor.env["DEMO_PASSWORD"])
    flows.answer_device(session, flows.enter_user_code(session, visitor.url, code), allow=False)
    denied = wait_and_poll(too_soon)  # the page now shows the interval grown by slow_down
    assert "Refused: access_denied" in text_of(denied) and "You denied the TV" in text_of(denied)
    assert 'id="device-poll"' not in denied.text  # the TV stopped polling


@pytest.mark.e2e
def test_the_chapter_explains_itself_without_a_tv(visitor):
    assert "Start the TV first" in text_of(visitor.post("/device/poll/"))
    assert visitor.get("/device/nonsense/").status_code == 405
