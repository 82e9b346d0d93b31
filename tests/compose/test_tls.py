"""Optional TLS (`make certs`): the same routes and headers on 8443, from the self-signed certificate."""

import pytest
import requests

from stack.local import ROOT

CERTIFICATE = ROOT / "nginx/certs/localhost.crt"


def test_https_on_the_tls_port(compose):
    if not CERTIFICATE.exists():
        pytest.skip("no certificate: `make certs` has not run")
    response = requests.get(f"https://localhost:{compose.env['TLS_PORT']}/o/.well-known/openid-configuration",
                            verify=CERTIFICATE)
    assert response.status_code == 200
    assert response.json()["issuer"] == f"{compose.url}/o"
    assert response.headers["Referrer-Policy"] == "no-referrer"
