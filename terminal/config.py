"""Where a terminal keeps its state, and its settings: one pydantic-settings class read from
the environment and, with ``ssc-terminal --config FILE`` or ``SSC_TERMINAL_CONFIG``, a TOML
file (the environment wins; docs/operations.md "Configuration of a terminal").

``SSC_TERMINAL_HOME`` (default ``$SSC_VAR/terminal``, ``var/terminal``) holds the pinned
root (``root-ca.pem``), the synced trust list (``trust/``) and the event log
(``events.sqlite``). On a development machine that also runs the issuer, the root and the
trust list the issuer writes under ``$SSC_VAR/keys`` and ``$SSC_VAR/trust`` are used until
the terminal has its own.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from firmware_tools.settings_file import FileSettings

CONFIG_VARIABLE = "SSC_TERMINAL_CONFIG"


class TerminalSettings(FileSettings):
    """A terminal's settings: environment ``SSC_TERMINAL_*`` (and ``SSC_VAR``,
    ``SSC_EVENTS_URL``, ``SSC_EVENTS_KEY``); in the TOML file the field names."""

    model_config = SettingsConfigDict(env_prefix="SSC_TERMINAL_", extra="ignore", populate_by_name=True)

    var: Path = Field(Path("var"), validation_alias="SSC_VAR", description="the development folder")
    home: Path | None = Field(None, description="root, trust list, event log; default $SSC_VAR/terminal")
    site: str | None = Field(None, description="pharmacy, hospital, bureau, or a policy file")
    id: str | None = Field(None, description="the terminal's name in the forwarded event log; default the host name")
    sync_source: str | None = Field(None, description="the trust-list URL or folder `ssc-terminal sync` uses "
                                    "when none is given")
    port: int = Field(8765, ge=1, le=65535, description="the counter page's port on 127.0.0.1")
    events_url: str | None = Field(None, validation_alias="SSC_EVENTS_URL", description="the issuer's event endpoint")
    events_key: str | None = Field(None, validation_alias="SSC_EVENTS_KEY",
                                   description="the terminal's API key for it (ssc-issuer terminals add)")

    @classmethod
    def from_config(cls, path: str | Path | None = None) -> TerminalSettings:
        return cls.load(path or os.environ.get(CONFIG_VARIABLE) or None)


_current: TerminalSettings | None = None


def settings() -> TerminalSettings:
    """The settings in force: those `use` set (the command line's --config), else the environment's."""
    return _current if _current is not None else TerminalSettings.from_config()


def use(value: TerminalSettings | None) -> None:
    global _current
    _current = value


def var_dir() -> Path:
    return settings().var


@dataclass(frozen=True)
class TerminalPaths:
    home: Path

    @classmethod
    def from_env(cls) -> TerminalPaths:
        s = settings()
        return cls(s.home or s.var / "terminal")

    @property
    def own_root(self) -> Path:
        """Where a terminal's root is pinned (docs/operations.md, "Setting one up")."""
        return self.home / "root-ca.pem"

    @property
    def pinned_root(self) -> Path:
        """The terminal's own pinned root; on a development machine without one, the root
        the issuer made under $SSC_VAR/keys if it is there. When neither exists, the
        terminal's own path: that is where it must be pinned, and what an error names."""
        if self.own_root.exists():
            return self.own_root
        development = var_dir() / "keys" / "root-ca.pem"
        return development if development.exists() else self.own_root

    @property
    def trust_folder(self) -> Path:
        return self.home / "trust"

    @property
    def issuer_trust_list(self) -> Path:
        """The development fallback: the list `ssc-issuer trust-list` writes."""
        return var_dir() / "trust" / "trustlist.cose"

    @property
    def events(self) -> Path:
        return self.home / "events.sqlite"


def terminal_id() -> str:
    return settings().id or socket.gethostname()


def forward_url() -> str | None:
    """Where the event log is forwarded (the issuer's endpoint), if configured."""
    return settings().events_url or None


def forward_key() -> str | None:
    """The terminal's API key for the issuer's event endpoint (`ssc-issuer terminals add`)."""
    return settings().events_key or None
