"""Client secrets: the fast hash and the policy that makes it safe (oauth/hashers.py, oauth/models.py)."""

import secrets

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from oauth2_provider.generators import generate_client_secret

from oauth.hashers import ClientSecretSHA256Hasher
from oauth.models import is_hashed, looks_random, secret_entropy_bits


def test_the_hash_verifies_its_secret_only():
    secret = generate_client_secret()
    stored = make_password(secret, hasher="client-secret-sha256")
    assert stored.startswith("client-secret-sha256$")
    assert check_password(secret, stored)
    assert not check_password(secret + "x", stored)
    assert not check_password(secret[:-1], stored)


def test_each_hash_has_its_own_salt():
    secret = generate_client_secret()
    first, second = make_password(secret, hasher="client-secret-sha256"), make_password(secret, hasher="client-secret-sha256")
    assert first != second and check_password(secret, first) and check_password(secret, second)


def test_the_hash_is_identified_masked_and_never_upgraded():
    stored = make_password(generate_client_secret(), hasher="client-secret-sha256")
    hasher = identify_hasher(stored)
    assert isinstance(hasher, ClientSecretSHA256Hasher)
    assert not hasher.must_update(stored)
    summary = hasher.safe_summary(stored)
    assert stored.split("$")[2] not in str(summary.values())


def test_users_passwords_keep_pbkdf2():
    assert make_password("a user's password").startswith("pbkdf2_sha256$")


@pytest.mark.parametrize("secret", [generate_client_secret(), secrets.token_urlsafe(32), secrets.token_urlsafe(48)])
def test_generated_secrets_look_random(secret):
    assert looks_random(secret)


@pytest.mark.parametrize("secret", ["", "short-secret", "a" * 64, "password" * 8, "correct horse battery staple" * 2,
                                    "0123456789" * 5])
def test_typed_secrets_do_not(secret):
    assert not looks_random(secret)


def test_entropy_bound():
    assert secret_entropy_bits("aaaa") == 0
    assert secret_entropy_bits("ab") == 2
    assert 180 < secret_entropy_bits(secrets.token_urlsafe(32)) <= 43 * 6


def test_hashed_secrets_are_recognised():
    assert is_hashed(make_password("x" * 50, hasher="client-secret-sha256"))
    assert is_hashed(make_password("x" * 50))
    assert not is_hashed(secrets.token_urlsafe(48))


def test_random_secrets_repeat_no_run_in_a_thousand():
    assert all(looks_random(secrets.token_urlsafe(32)) for _ in range(1000))
