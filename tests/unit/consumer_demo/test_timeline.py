"""What the demo's timeline shows of each exchange (walkthrough/timeline.py): secrets never, tokens
shortened, everything else as it was sent. No request leaves this process."""

import json
from datetime import timedelta

import pytest
import requests

from walkthrough.timeline import MASK, MAX_ENTRIES, Timeline, mask_body, mask_headers, mask_url, shorten

TOKEN = "tok_" + "x" * 40


def test_short_values_are_kept_and_long_ones_shortened():
    assert shorten("abc") == "abc"
    assert shorten(TOKEN) == f"{TOKEN[:8]}…{TOKEN[-4:]}"
    assert TOKEN not in shorten(TOKEN)


def test_urls_hide_codes_and_secrets_and_keep_the_rest_encoded():
    url = f"https://x/callback/?code={TOKEN}&state=a%2Bb&client_secret=s3cret&redirect_uri=https%3A%2F%2Fy%2F"
    shown = mask_url(url)
    assert TOKEN not in shown and "s3cret" not in shown
    assert f"code={shorten(TOKEN)}" in shown and f"client_secret={MASK}" in shown
    assert "state=a%2Bb" in shown and "redirect_uri=https%3A%2F%2Fy%2F" in shown
    assert mask_url("https://x/o/authorize/") == "https://x/o/authorize/"


@pytest.mark.parametrize("header, shown", [
    (f"Bearer {TOKEN}", f"Bearer {shorten(TOKEN)}"),
    ("Basic ZGVtbzpzM2NyZXQ=", f"Basic {MASK}"),
])
def test_authorization_headers_are_masked(header, shown):
    assert dict(mask_headers({"Authorization": header, "Accept": "application/json"})) == {
        "Authorization": shown, "Accept": "application/json"}


def test_cookies_are_never_shown():
    masked = dict(mask_headers({"Cookie": "sessionid=abc", "Set-Cookie": "sessionid=abc; HttpOnly"}))
    assert masked == {"Cookie": MASK, "Set-Cookie": MASK}


def test_json_bodies_are_masked_at_any_depth():
    body = json.dumps({"access_token": TOKEN, "nested": [{"refresh_token": TOKEN, "client_secret": "s3cret"}],
                       "scope": "read"})
    shown = mask_body(body.encode(), "application/json")
    assert TOKEN not in shown and "s3cret" not in shown
    data = json.loads(shown)
    assert data["access_token"] == shorten(TOKEN) and data["nested"][0]["client_secret"] == MASK
    assert data["scope"] == "read"


def test_form_bodies_are_one_masked_field_per_line():
    shown = mask_body(f"grant_type=refresh_token&refresh_token={TOKEN}&client_secret=s3cret",
                      "application/x-www-form-urlencoded")
    assert shown.splitlines() == ["grant_type=refresh_token", f"refresh_token={shorten(TOKEN)}",
                                  f"client_secret={MASK}"]


def test_a_body_that_only_looks_like_json_is_shown_as_text():
    assert mask_body(b"{not json", "text/plain") == "{not json"
    assert mask_body(b"", "application/json") == ""


def sent_and_answered():
    sent = requests.Request("POST", "http://auth/o/token/", auth=("demo", "s3cret"),
                            data={"grant_type": "authorization_code", "code": TOKEN}).prepare()
    answer = requests.Response()
    answer.status_code, answer.reason, answer.request = 200, "OK", sent
    answer.headers.update({"Content-Type": "application/json"})
    answer._content = json.dumps({"access_token": TOKEN, "token_type": "Bearer"}).encode()
    answer.elapsed = timedelta(milliseconds=12)
    return answer


def test_a_recorded_exchange_holds_no_secret():
    timeline = Timeline({})
    entry = timeline.response("Exchange the code", sent_and_answered())
    assert entry["n"] == 1 and entry["status"] == 200 and entry["ms"] == 12
    recorded = json.dumps(timeline.entries)
    assert TOKEN not in recorded and "s3cret" not in recorded and "ZGVtbzpzM2NyZXQ" not in recorded


def test_the_timeline_keeps_the_newest_entries_numbered_on():
    timeline = Timeline({})
    for i in range(MAX_ENTRIES + 5):
        timeline.browser(f"step {i}", "GET", "https://x/")
    assert len(timeline.entries) == MAX_ENTRIES
    assert timeline.entries[0]["n"] == 6 and timeline.entries[-1]["n"] == MAX_ENTRIES + 5
    timeline.clear()
    assert timeline.entries == []
