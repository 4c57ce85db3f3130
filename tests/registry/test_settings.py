"""registry.settings: defaults, derived database URL, refusals outside development."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from keys import encode_master_key
from registry.settings import Settings, get_settings

GOOD_TOKEN = "q3V9x7Lk2Rt8Zp4Wm6Yn1Bc5"


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ELICENCE_"):
            monkeypatch.delenv(name)
    settings = Settings()
    assert settings.environment == "development"
    assert settings.data_dir == Path("data")
    assert settings.database_url == "sqlite:///data/elicence.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.status_list_size == 131072
    assert settings.status_list_ttl == 300
    assert settings.presentation_ttl == 30
    assert settings.idp_id_claim == "id_number"
    assert settings.dev_idp is False
    assert settings.master_key_path == Path("data/master.key")


def test_environment_variables_with_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ELICENCE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ELICENCE_PORT", "9001")
    monkeypatch.setenv("ELICENCE_PUBLIC_BASE_URL", "https://licences.example.gov/")
    settings = Settings()
    assert settings.database_url == f"sqlite:///{tmp_path}/elicence.db"
    assert settings.port == 9001
    assert settings.public_base_url == "https://licences.example.gov"


def test_get_settings_is_cached_and_can_be_reread(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    monkeypatch.setenv("ELICENCE_PORT", "8123")
    first = get_settings()
    monkeypatch.setenv("ELICENCE_PORT", "8124")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().port == 8124
    get_settings.cache_clear()


def test_production_needs_a_master_key() -> None:
    with pytest.raises(ValidationError, match="ELICENCE_MASTER_KEY must be set"):
        Settings(environment="production")


@pytest.mark.parametrize("token", ["changeme", "secret", "short-but-random-9", "x" * 30])
def test_production_refuses_placeholder_admin_token(token: str) -> None:
    with pytest.raises(ValidationError, match="placeholder") as caught:
        Settings(
            environment="production",
            master_key=encode_master_key(os.urandom(32)),
            admin_token=token,
        )
    assert token not in str(caught.value).replace("secrets", "")


def test_production_refuses_dev_idp() -> None:
    with pytest.raises(ValidationError, match="DEV_IDP"):
        Settings(
            environment="production",
            master_key=encode_master_key(os.urandom(32)),
            dev_idp=True,
        )


def test_production_accepts_real_secrets() -> None:
    master = encode_master_key(os.urandom(32))
    settings = Settings(environment="production", master_key=master, admin_token=GOOD_TOKEN)
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == GOOD_TOKEN
    assert master not in repr(settings)
    assert GOOD_TOKEN not in repr(settings)


def test_development_allows_placeholders() -> None:
    settings = Settings(admin_token="changeme", dev_idp=True)
    assert settings.dev_idp


def test_malformed_master_key_refused_everywhere() -> None:
    with pytest.raises(ValidationError, match="MASTER_KEY"):
        Settings(master_key="changeme")


@pytest.mark.parametrize(
    "url", ["mysql://root:hunter2-secret@db/elicence", "not a url at all", "oracle://u:p@h/x"]
)
def test_only_sqlite_or_postgresql_and_the_url_is_not_repeated(url: str) -> None:
    from registry.db import make_engine

    with pytest.raises(ValidationError) as caught:
        Settings(database_url=url)
    message = str(caught.value)
    assert "ELICENCE_DATABASE_URL" in message and "sqlite" in message
    assert url not in message and "hunter2" not in message
    with pytest.raises(ValueError, match="sqlite:///PATH or postgresql://"):
        make_engine(url)
    assert Settings(database_url="postgresql://u:p@127.0.0.1/x").database_url.startswith("postgres")
