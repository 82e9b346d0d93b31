"""The auth server's system checks (oauth/checks.py): each refuses the configuration it names."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core import checks
from django.test import override_settings

PBKDF2, OURS = "django.contrib.auth.hashers.PBKDF2PasswordHasher", "oauth.hashers.ClientSecretSHA256Hasher"


def errors(deploy: bool = False) -> set[str]:
    return {message.id for message in checks.run_checks(include_deployment_checks=deploy)
            if message.level >= checks.ERROR and message.id.startswith("oauth.")}


def pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


RSA_KEY = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture
def key_file(tmp_path):
    """The signing key's file (OIDC_KEY_FILE), empty until a test writes it."""
    path = tmp_path / "private.pem"
    with override_settings(OIDC_KEY_FILE=path):
        yield path


def test_this_configuration_passes(key_file):
    key_file.write_text(RSA_KEY)
    assert errors(deploy=True) == set()


def test_the_client_secret_hasher_must_be_installed():
    with override_settings(PASSWORD_HASHERS=[PBKDF2]):
        assert "oauth.E001" in errors()


def test_users_passwords_must_not_get_the_fast_hash():
    with override_settings(PASSWORD_HASHERS=[OURS, PBKDF2]):
        assert "oauth.E002" in errors()


def test_every_restricted_scope_must_exist():
    with override_settings(RESTRICTED_SCOPES={"introspection", "admin"}):
        assert "oauth.E003" in errors()


@pytest.mark.parametrize("key, error", [("not a key", "oauth.E004"),
                                        (pem(ec.generate_private_key(ec.SECP256R1())), "oauth.E005")])
def test_the_signing_key_must_be_a_readable_rsa_private_key(key_file, key, error):
    key_file.write_text(key)
    assert error in errors()


def test_a_missing_signing_key_fails_the_deployment_check_only(key_file):
    assert "oauth.E006" not in errors()
    assert "oauth.E006" in errors(deploy=True)


@pytest.mark.parametrize("changes", [
    {"REVOCATION_HEARTBEAT_INTERVAL": 0},
    {"REVOCATION_HEARTBEAT_INTERVAL": 0.2, "REVOCATION_MEMORY_WINDOW": 0.1},  # trust would lapse between beats
    {"REVOCATION_HEARTBEAT_INTERVAL": 2, "REVOCATION_MEMORY_WINDOW": 0},
    {"REVOCATION_MEMORY_WINDOW": 3},
])
def test_heartbeats_must_come_within_every_window(changes):
    with override_settings(**changes):
        assert "oauth.E007" in errors()
    with override_settings(REVOCATION_MEMORY_WINDOW=0):
        assert "oauth.E007" not in errors()
