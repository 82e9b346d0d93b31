"""The one configuration loader (common/environment.py): NAME, or the file NAME_FILE names, as
Compose passes secrets; in this process, no stack."""

import environ
import pytest

from common.environment import Env, value


@pytest.fixture
def env(monkeypatch) -> Env:
    for name in ("SECRET_KEY", "SECRET_KEY_FILE", "DATABASE_URL", "DATABASE_URL_FILE"):
        monkeypatch.delenv(name, raising=False)
    return Env()


def test_a_plain_variable_is_read_as_it_is(env, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert env("SECRET_KEY") == "from-the-environment"


def test_a_file_named_by_name_file_is_read_without_its_final_newline(env, monkeypatch, tmp_path):
    (tmp_path / "key").write_text("from-a-file\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "key"))
    assert env("SECRET_KEY") == "from-a-file"
    (tmp_path / "url").write_text("postgres://auth:p%40ss@postgres:5432/auth")
    monkeypatch.setenv("DATABASE_URL_FILE", str(tmp_path / "url"))
    database = env.db("DATABASE_URL")
    assert (database["USER"], database["PASSWORD"], database["HOST"], database["NAME"]) == \
        ("auth", "p@ss", "postgres", "auth")
    assert value("DATABASE_URL") == "postgres://auth:p%40ss@postgres:5432/auth"


def test_a_missing_or_empty_file_stops_naming_the_variable(env, monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(environ.ImproperlyConfigured, match="SECRET_KEY_FILE names .*absent, which cannot be read"):
        env("SECRET_KEY")
    (tmp_path / "empty").write_text("\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "empty"))
    with pytest.raises(environ.ImproperlyConfigured, match="SECRET_KEY_FILE names .*empty, which is empty"):
        Env()("SECRET_KEY")


def test_a_missing_variable_is_named(env):
    with pytest.raises(environ.ImproperlyConfigured, match="SECRET_KEY"):
        env("SECRET_KEY")
    assert value("SECRET_KEY", default="fallback") == "fallback"
