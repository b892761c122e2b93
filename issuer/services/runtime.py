"""The long-lived state a service call needs besides its session: settings, the database,
and the signing keys (loaded on first use, once per process: an HSM session is per process)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from issuer import keyring as keyring_module
from issuer.db import Database
from issuer.keyring import Keyring
from issuer.settings import Settings


class Runtime:
    def __init__(self, settings: Settings, database: Database | None = None, *,
                 keys: Keyring | None = None, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.db = database or Database(settings.database)
        self._keys = keys
        self._lock = threading.Lock()
        self.clock = clock
        # Fault injection for tests: called after a card's artefacts are signed and before the
        # transaction commits (crash-safety: nothing may survive a failure here).
        self.after_signing: Callable[[], None] = lambda: None

    @property
    def keys(self) -> Keyring:
        if self._keys is None:
            with self._lock:
                if self._keys is None:
                    s = self.settings
                    self._keys = keyring_module.load(
                        s.keys, s.issuer_code, s.passphrase(),
                        pin=s.pkcs11_pin.get_secret_value() if s.pkcs11_pin else None, module=s.pkcs11_module)
        return self._keys

    def now(self) -> int:
        return int(self.clock())

    def close(self) -> None:
        if self._keys is not None:
            self._keys.close()
            self._keys = None
        self.db.dispose()
