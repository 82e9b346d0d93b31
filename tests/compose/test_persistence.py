"""What users created is still there after `docker compose down` + `up`: the volumes hold it."""

import requests

from stack import flows


def test_data_survives_down_and_up(compose):
    env, url = compose.env, compose.url
    session = flows.login(url, env["DEMO_USERNAME"], env["DEMO_PASSWORD"])
    tokens = flows.authorization_code_tokens(url, session, flows.demo_client(compose))
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    post = requests.post(f"{url}/api/posts/", json={"title": "kept", "body": "across restarts"}, headers=auth)
    assert post.status_code == 201, post.text
    jwks = requests.get(f"{url}/o/.well-known/jwks.json").json()

    compose.down()
    compose.up(build=False)

    # Postgres (users, tokens, posts) and the OIDC signing key (its own volume) were kept.
    assert requests.get(f"{url}/api/posts/{post.json()['id']}/", headers=auth).json()["title"] == "kept"
    assert requests.get(f"{url}/o/.well-known/jwks.json").json() == jwks
    assert flows.refresh(url, flows.demo_client(compose), tokens["refresh_token"]).status_code == 200
