"""The issuer service's configuration: one pydantic-settings class, read from the environment
and, with ``--config FILE`` or ``SSC_ISSUER_CONFIG``, a TOML file (the environment wins;
firmware_tools.settings_file; docs/operations.md "Configuration").

Every setting has an embedded default so that ``ssc-issuer serve`` runs out of the box for
development (SQLite under ``$SSC_VAR``, software keys under ``$SSC_VAR/keys``). Production
sets ``SSC_ISSUER_DATABASE_URL`` (PostgreSQL), ``SSC_ISSUER_TOKEN_SECRET`` and the PKCS#11
settings. Secrets are :class:`SecretStr`: they never appear in ``repr()`` or a log line.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from firmware_tools.settings_file import FileSettings

DEV_PASSPHRASE = "sscard-development-only"


def var_dir() -> Path:
    """The folder for development state (keys, SQLite file, outputs): ``$SSC_VAR`` or ./var."""
    return Path(os.environ.get("SSC_VAR", "var"))


CONFIG_VARIABLE = "SSC_ISSUER_CONFIG"


class Settings(FileSettings):
    """Configuration of one issuer instance (environment variables ``SSC_ISSUER_*``, and the
    same names in lower case, without the prefix, in the TOML file)."""

    model_config = SettingsConfigDict(env_prefix="SSC_ISSUER_", extra="ignore", populate_by_name=True)

    var: Path = Field(default_factory=var_dir, validation_alias="SSC_VAR", description="development state folder")
    database_url: str = Field("", description="SQLAlchemy URL; default sqlite:///$SSC_VAR/issuer.db")
    issuer_code: str = Field("SH01", pattern=r"^[A-Z0-9-]{1,16}$", description="issuing centre code")
    key_dir: Path | None = Field(None, description="keys and certificates; default $SSC_VAR/keys")
    key_passphrase: SecretStr | None = Field(None, validation_alias="SSC_KEY_PASSPHRASE",
                                             description="passphrase of the encrypted PKCS#8 key files")
    pkcs11_module: str = "/usr/lib/softhsm/libsofthsm2.so"
    pkcs11_pin: SecretStr | None = Field(None, description="user PIN of the HSM token (PKCS#11 key back-end)")

    token_secret: SecretStr | None = Field(None, description="HMAC key of access tokens; default: a random "
                                           "key kept in $SSC_VAR/issuer-token-secret (mode 0600)")
    token_minutes: int = Field(15, ge=1, le=24 * 60, description="lifetime of an officer's access token")
    login_max_failures: int = Field(5, ge=1, description="failed logins allowed per window and account")
    login_window_seconds: int = Field(300, ge=1)

    photo_max_upload_bytes: int = Field(2 * 1024 * 1024, ge=1024)
    photo_min_width: int = 240
    photo_min_height: int = 300
    photo_max_pixels: int = 40_000_000  # refuse decompression bombs before decoding

    card_validity_years: int = Field(5, ge=1, le=10)
    trust_list_hours: int = Field(24, ge=1, description="next_update of a published trust list")
    idempotency_hours: int = Field(24, ge=1, description="how long a stored Idempotency-Key answer is replayed")

    # the e-card (docs/spec.md §12.6)
    ecard_code_minutes: int = Field(60, ge=1, le=7 * 24 * 60, description="how long an e-card activation code "
                                    "is valid once an officer made it")
    ecard_max_failures: int = Field(5, ge=1, description="failed e-card activations allowed per holder and window "
                                    "(ten times as many per client address)")
    ecard_window_seconds: int = Field(900, ge=1, description="the e-card activation throttling window")
    ecard_validity_days: int = Field(0, ge=0, le=3660, description="lifetime of an e-card credential; 0: until "
                                     "the card expires")
    station_lease_seconds: int = Field(300, ge=5, le=24 * 3600, description="how long a station holds a job it "
                                       "claimed; a job whose station died is free again after this")

    host: str = "127.0.0.1"
    port: int = 8400

    @classmethod
    def from_config(cls, path: str | Path | None = None) -> Settings:
        """The settings from the environment and the TOML file `path` (default: $SSC_ISSUER_CONFIG)."""
        return cls.load(path or os.environ.get(CONFIG_VARIABLE) or None)

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.var / 'issuer.db'}"

    @property
    def keys(self) -> Path:
        return self.key_dir or self.var / "keys"

    def passphrase(self) -> bytes:
        if self.key_passphrase is None:
            return DEV_PASSPHRASE.encode()
        return self.key_passphrase.get_secret_value().encode()

    @cached_property
    def token_key(self) -> bytes:
        """The HMAC key for access tokens; generated once per development folder."""
        if self.token_secret is not None:
            return self.token_secret.get_secret_value().encode()
        path = self.var / "issuer-token-secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
            try:
                os.link(tmp, path)  # first writer wins; a concurrent start reads the same key
            except FileExistsError:
                pass
            os.unlink(tmp)
        return path.read_text().strip().encode()
