"""Where a terminal keeps its state, and its settings from the environment.

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


def var_dir() -> Path:
    return Path(os.environ.get("SSC_VAR", "var"))


@dataclass(frozen=True)
class TerminalPaths:
    home: Path

    @classmethod
    def from_env(cls) -> TerminalPaths:
        return cls(Path(os.environ.get("SSC_TERMINAL_HOME", var_dir() / "terminal")))

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
    return os.environ.get("SSC_TERMINAL_ID") or socket.gethostname()


def forward_url() -> str | None:
    """Where the event log is forwarded (the issuer's endpoint), if configured."""
    return os.environ.get("SSC_EVENTS_URL") or None


def forward_key() -> str | None:
    """The terminal's API key for the issuer's event endpoint (`ssc-issuer terminals add`)."""
    return os.environ.get("SSC_EVENTS_KEY") or None
