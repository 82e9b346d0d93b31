"""The posts endpoints: CRUD, pagination, filtering, validation and who may do what."""

import uuid

import pytest

pytestmark = pytest.mark.e2e


def new_post(api, token, **fields):
    data = {"title": f"post {uuid.uuid4().hex[:8]}", "body": "hello", **fields}
    response = api.post("/posts/", token, json=data)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_get_update_delete(api, demo_token, stack):
    post = new_post(api, demo_token, title="First", body="Some text")
    assert post["title"] == "First" and post["body"] == "Some text"
    assert post["author_name"] == stack.env["DEMO_USERNAME"]
    assert post["created_at"] and post["updated_at"]

    assert api.get(f"/posts/{post['id']}/", demo_token).json() == post

    changed = api.patch(f"/posts/{post['id']}/", demo_token, json={"title": "Changed"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == "Changed" and changed.json()["body"] == "Some text"
    assert changed.json()["updated_at"] > post["updated_at"]

    assert api.delete(f"/posts/{post['id']}/", demo_token).status_code == 204
    gone = api.get(f"/posts/{post['id']}/", demo_token)
    assert gone.status_code == 404 and gone.json() == {"detail": "Not Found"}


def test_list_is_paginated_newest_first_and_filters_by_author(api, demo_token, admin_token):
    mine = [new_post(api, demo_token) for _ in range(3)]
    theirs = new_post(api, admin_token)

    first = api.get("/posts/", demo_token, params={"page_size": 2}).json()
    assert first["page"] == 1 and first["page_size"] == 2 and first["next_page"] == 2
    assert [p["id"] for p in first["items"]] == [theirs["id"], mine[2]["id"]]
    second = api.get("/posts/", demo_token, params={"page_size": 2, "page": 2}).json()
    assert [p["id"] for p in second["items"]][:2] == [mine[1]["id"], mine[0]["id"]]

    by_demo = api.get("/posts/", demo_token, params={"author": mine[0]["author"], "page_size": 100}).json()
    assert {p["author"] for p in by_demo["items"]} == {mine[0]["author"]}
    assert {p["id"] for p in mine} <= {p["id"] for p in by_demo["items"]}
    assert theirs["id"] not in {p["id"] for p in by_demo["items"]}
    # A page that exactly holds the rest has no next page; one short of it has.
    n = len(by_demo["items"])
    exact = api.get("/posts/", demo_token, params={"author": mine[0]["author"], "page_size": n}).json()
    assert len(exact["items"]) == n and exact["next_page"] is None
    short = api.get("/posts/", demo_token, params={"author": mine[0]["author"], "page_size": n - 1}).json()
    assert short["next_page"] == 2
    beyond = api.get("/posts/", demo_token, params={"page": 10_000}).json()
    assert beyond["items"] == [] and beyond["next_page"] is None


def test_only_the_author_may_change_or_delete(api, demo_token, admin_token):
    post = new_post(api, demo_token)
    for response in (api.patch(f"/posts/{post['id']}/", admin_token, json={"title": "mine now"}),
                     api.delete(f"/posts/{post['id']}/", admin_token)):
        assert response.status_code == 403
        assert "author" in response.json()["detail"]
        assert "WWW-Authenticate" not in response.headers  # the token is fine; the post is not theirs
    assert api.get(f"/posts/{post['id']}/", admin_token).json()["title"] == post["title"]


def test_client_credentials_token_reads_but_cannot_post(api, demo_token, client_token):
    token = client_token("read write")
    post = new_post(api, demo_token)
    assert api.get("/posts/", token).status_code == 200
    assert api.get(f"/posts/{post['id']}/", token).status_code == 200
    for response in (api.post("/posts/", token, json={"title": "by nobody", "body": ""}),
                     api.patch(f"/posts/{post['id']}/", token, json={"title": "x"}),
                     api.delete(f"/posts/{post['id']}/", token)):
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "insufficient_scope"
        assert response.headers["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')


@pytest.mark.parametrize("payload, fields", [
    ({"title": "x" * 201, "body": "ok"}, {"title"}),
    ({"title": "ok", "body": "x" * 10_001}, {"body"}),
    ({"title": "", "body": "x" * 10_001}, {"title", "body"}),
    ({"body": "no title"}, {"title"}),
    ({"title": 5, "body": None}, {"title", "body"}),
    ({"title": "nul \u0000 byte", "body": "ok"}, {"title"}),
    ({"title": "ok", "body": "lone surrogate \ud800"}, {"body"}),
])
def test_invalid_post_is_400_with_a_message_per_field(api, demo_token, payload, fields):
    response = api.post("/posts/", demo_token, json=payload)
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert set(errors) == fields
    assert all(errors[f] and all(isinstance(m, str) for m in errors[f]) for f in fields)


def test_longest_allowed_post_is_accepted(api, demo_token):
    post = new_post(api, demo_token, title="t" * 200, body="b" * 10_000)
    assert len(post["title"]) == 200 and len(post["body"]) == 10_000


@pytest.mark.parametrize("request_kwargs", [
    {"data": "{not json", "headers": {"Content-Type": "application/json"}},
    {"data": b"\xff\xfe", "headers": {"Content-Type": "application/json"}},
    {"data": {"title": "form", "body": "encoded"}},
])
def test_unreadable_body_is_400(api, demo_token, request_kwargs):
    response = api.post("/posts/", demo_token, **request_kwargs)
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("body", ["[null,null]", "[]", "null", "true", "1", '"a title"', '[{"title": "x"}]'])
def test_body_that_is_not_a_json_object_is_400_and_changes_nothing(api, demo_token, body):
    post = new_post(api, demo_token)
    json_body = {"headers": {"Content-Type": "application/json"}, "data": body}
    for response in (api.patch(f"/posts/{post['id']}/", demo_token, **json_body),
                     api.post("/posts/", demo_token, **json_body)):
        assert response.status_code == 400, response.text
        assert response.json() == {"detail": "invalid input", "errors": {"body": ["Value error, must be a JSON object"]}}
    assert api.get(f"/posts/{post['id']}/", demo_token).json() == post


@pytest.mark.parametrize("method", ["PUT", "POST", "OPTIONS", "PROPFIND", "TRACE"])
def test_method_not_allowed_is_json_with_allow(api, demo_token, method):
    post = new_post(api, demo_token)
    response = api.request(method, f"/posts/{post['id']}/", demo_token)
    assert response.status_code == 405 and response.headers["Allow"], response.headers
    assert response.headers["Content-Type"].startswith("application/json") and response.json()


def test_bad_query_and_path_values_are_400(api, demo_token):
    for path, params in (("/posts/", {"page": 0}), ("/posts/", {"page_size": 1000}), ("/posts/", {"page": "x"}),
                         (f"/posts/{2**70}/", {})):
        response = api.get(path, demo_token, params=params)
        assert response.status_code == 400, (path, params, response.text)
        assert response.json()["errors"]


def test_me_shows_user_scopes_and_client(api, user_tokens, stack, client_token):
    me = api.get("/me/", user_tokens("profile read")["access_token"])
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["user"]["username"] == stack.env["DEMO_USERNAME"]
    assert body["user"]["id"].isdigit()  # the stable `sub` (user pk), not the changeable username
    assert body["scopes"] == ["profile", "read"]
    assert body["client_id"] == stack.env["DEMO_CLIENT_ID"]


def test_public_is_open_personalized_with_a_token_and_refuses_a_bad_one(api, demo_token, stack):
    anonymous = api.get("/public/")
    assert anonymous.status_code == 200 and anonymous.json()["username"] is None
    personal = api.get("/public/", demo_token)
    assert personal.status_code == 200 and personal.json()["username"] == stack.env["DEMO_USERNAME"]
    bad = api.get("/public/", "not-a-real-token")
    assert bad.status_code == 401
    assert bad.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_the_product_has_no_benchmark_routes(api):
    assert api.get("/_bench/noauth/posts/").status_code == 404
    assert api.get("/_bench/dblookup/posts/").status_code == 404


def test_api_root_points_to_the_openapi_document(api, stack):
    response = api.get("/")
    assert response.status_code == 200
    assert response.json()["openapi"] == f"{stack.url}/api/openapi.json"
