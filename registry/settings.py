"""Settings shared by the issuer and the wallet (environment variables ``ELICENCE_*``)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from keys import KeyStoreError, decode_master_key, load_or_create_master_key

from .db import database_backend

_PLACEHOLDERS = ("changeme", "change-me", "change_me", "secret", "password", "example", "default")
MIN_ADMIN_TOKEN_LENGTH = 24


def looks_like_placeholder(value: str) -> bool:
    """True for values nobody should run production with ("changeme", "secret", too short)."""
    lowered = value.strip().lower()
    return (
        len(lowered) < MIN_ADMIN_TOKEN_LENGTH
        or len(set(lowered)) < 6
        or any(word in lowered for word in _PLACEHOLDERS)
    )


class Settings(BaseSettings):
    """Configuration of one deployment. Outside development, placeholders are refused."""

    # hide_input_in_errors: a refused secret must not be echoed in the error message.
    model_config = SettingsConfigDict(
        env_prefix="ELICENCE_", extra="ignore", hide_input_in_errors=True
    )

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("./data")
    database_url: str = ""  # empty: the SQLite file in data_dir
    master_key: SecretStr | None = None
    admin_token: SecretStr | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    status_list_size: int = 131072
    status_list_ttl: int = 300
    presentation_ttl: int = 30
    # Largest import file ``POST /issuer/imports`` takes (bytes); 1 GiB is ~4 million rows.
    import_max_bytes: int = Field(default=1 << 30, gt=0)
    idp_issuer: str | None = None
    idp_audience: str | None = None
    idp_jwks_file: Path | None = None
    idp_jwks_url: str | None = None
    idp_id_claim: str = "id_number"
    dev_idp: bool = False
    # Requests per second each relying party may make (one token bucket per party, shared by the
    # worker processes; its burst is ``relying_party_burst``): above it, 429 with Retry-After.
    relying_party_rate: float = Field(default=50.0, gt=0)
    relying_party_burst: int = Field(default=100, ge=1)

    @model_validator(mode="after")
    def _fill_and_check(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'elicence.db'}"
        try:
            database_backend(self.database_url)
        except ValueError as exc:
            raise ValueError(f"ELICENCE_DATABASE_URL: {exc}") from None
        self.public_base_url = self.public_base_url.rstrip("/")
        if self.master_key is not None:
            try:
                decode_master_key(self.master_key.get_secret_value())
            except KeyStoreError as exc:
                raise ValueError(f"ELICENCE_MASTER_KEY: {exc}") from None
        if self.environment != "development":
            problems = []
            if self.master_key is None:
                problems.append("ELICENCE_MASTER_KEY must be set")
            if self.admin_token is not None and looks_like_placeholder(
                self.admin_token.get_secret_value()
            ):
                problems.append(
                    "ELICENCE_ADMIN_TOKEN looks like a placeholder "
                    f"(use at least {MIN_ADMIN_TOKEN_LENGTH} random characters)"
                )
            if self.dev_idp:
                problems.append("ELICENCE_DEV_IDP cannot be on")
            if problems:
                raise ValueError(f"refused in {self.environment}: " + "; ".join(problems))
        return self

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def master_key_path(self) -> Path:
        """Where development keeps its master key file (mode 0600)."""
        return self.data_dir / "master.key"


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment.

    Tests pass settings to ``create_app``; ``get_settings.cache_clear()`` rereads the
    environment. Routes take the settings the app was made with from its runtime.
    """
    return Settings()


def load_master_key(settings: Settings, *, create: bool) -> bytes:
    """The deployment's master key: ``ELICENCE_MASTER_KEY``, else the development key file
    (made, mode 0600, when ``create`` is true and it is missing). Raises ``KeyStoreError``."""
    secret = settings.master_key.get_secret_value() if settings.master_key else None
    return load_or_create_master_key(env_value=secret, path=settings.master_key_path, create=create)
