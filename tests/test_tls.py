"""TLS on the local stack's nginx (the settings of nginx/templates/default.conf.template, the
certificate `make certs` makes): tokens over HTTPS with the certificate pinned, old protocols
refused, sessions resumed from the shared cache."""

import base64
import http.client
import json
import socket
import ssl
from dataclasses import dataclass

import pytest

from tests.conftest import ExternalStack


@pytest.fixture(scope="module")
def tls(stack):
    if isinstance(stack, ExternalStack):
        pytest.skip("the local stack's TLS port (the Compose stack's: tests/compose/test_tls.py)")
    return stack


def pinned(stack) -> ssl.SSLContext:
    """Trusts the stack's self-signed certificate and nothing else."""
    return ssl.create_default_context(cafile=stack.tls_certs / "localhost.crt")


@dataclass
class Handshake:
    version: str
    session_reused: bool
    session: ssl.SSLSession


def client_credentials(stack, context: ssl.SSLContext, session: ssl.SSLSession | None = None):
    """One token request on a new connection: the answer, and what the handshake gave."""
    conn = http.client.HTTPSConnection("localhost", stack.ports.tls, timeout=10)
    # http.client cannot pass a session to resume: it is given the connection made here.
    raw = socket.create_connection(("localhost", stack.ports.tls), timeout=10)
    conn.sock = context.wrap_socket(raw, server_hostname="localhost", session=session)
    basic = base64.b64encode(f"{stack.env['LOADTEST_CLIENT_ID']}:{stack.env['LOADTEST_CLIENT_SECRET']}".encode())
    conn.request("POST", "/o/token/", body="grant_type=client_credentials&scope=read",
                 headers={"Authorization": f"Basic {basic.decode()}",
                          "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    answer = response.status, json.loads(response.read())
    # A TLS 1.3 server sends its session tickets after the handshake: read by now with the answer.
    handshake = Handshake(conn.sock.version(), conn.sock.session_reused, conn.sock.session)
    conn.close()
    return answer, handshake


def test_token_over_https_with_the_certificate_pinned(tls):
    (status, body), sock = client_credentials(tls, pinned(tls))
    assert status == 200, body
    assert body["token_type"] == "Bearer" and body["access_token"]
    assert sock.version == "TLSv1.3"


def test_the_certificate_is_ecdsa_and_tls12_uses_a_forward_secret_aead_suite(tls):
    context = pinned(tls)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("localhost", tls.ports.tls), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as sock:
        name, version, _ = sock.cipher()
        assert version == "TLSv1.2"
        assert name.startswith("ECDHE-ECDSA-") and ("GCM" in name or "CHACHA20" in name), name


def test_an_unpinned_client_refuses_the_self_signed_certificate(tls):
    with pytest.raises(ssl.SSLCertVerificationError):
        client_credentials(tls, ssl.create_default_context())


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls_1_0_and_1_1_are_refused(tls, version):
    context = pinned(tls)
    # A client that can speak the old protocol (OpenSSL 3 allows it only at security level 0): the
    # refusal must come from the server, as a protocol_version alert.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version = context.maximum_version = version
    with socket.create_connection(("localhost", tls.ports.tls), timeout=10) as raw:
        with pytest.raises(ssl.SSLError) as refused:
            context.wrap_socket(raw, server_hostname="localhost")
    assert "ALERT_PROTOCOL_VERSION" in str(refused.value) or "alert protocol version" in str(refused.value)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_a_new_connection_resumes_the_session(tls, version):
    context = pinned(tls)
    context.minimum_version = context.maximum_version = version
    (status, _), first = client_credentials(tls, context)
    assert status == 200 and not first.session_reused
    session = first.session
    assert session is not None
    (status, body), second = client_credentials(tls, context, session)
    assert status == 200, body
    assert second.session_reused
