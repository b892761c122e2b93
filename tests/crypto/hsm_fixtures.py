"""SoftHSM2 fixtures: a private token directory per test session, a fresh token per test.

Import the fixtures into a test module (``from hsm_fixtures import softhsm_token, ...``).

SoftHSM reads SOFTHSM2_CONF and scans its token directory at C_Initialize only, and
python-pkcs11 loads the module once per process. So: the session fixture writes a
softhsm2.conf pointing at a temporary directory and sets SOFTHSM2_CONF before anything loads
the module; each test creates its token with softhsm2-util (a separate process) and, if the
already-initialised library does not see it, re-initialises the library (C_Finalize +
C_Initialize), which re-reads the configuration and the token directory. Re-initialising
ends every open session in the process, so a Pkcs11Token must not outlive its test.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SOFTHSM_MODULE = os.environ.get("SSC_TEST_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so")
USER_PIN = "246810"
SO_PIN = "13579135"
_counter = itertools.count(1)


@dataclass(frozen=True)
class TokenInfo:
    label: str
    pin: str
    so_pin: str
    module: str
    directory: Path

    def __repr__(self) -> str:  # keep PINs out of pytest's failure output
        return f"TokenInfo(label={self.label!r}, module={self.module!r})"


@pytest.fixture(scope="session")
def softhsm_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    util = shutil.which("softhsm2-util")
    if util is None or not os.path.isfile(SOFTHSM_MODULE):
        pytest.skip("SoftHSM2 is not installed (Debian package softhsm2)")
    root = tmp_path_factory.mktemp("softhsm")
    tokens = root / "tokens"
    tokens.mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\nslots.mechanisms = ALL\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        yield root
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous


def _visible_labels(lib) -> set[str]:
    return {slot.get_token().label for slot in lib.get_slots(token_present=True)}


def create_token(directory: Path, label: str | None = None) -> TokenInfo:
    """Initialise a new SoftHSM token and make the in-process library see it."""
    import pkcs11

    label = label or f"sscard-{next(_counter)}-{uuid.uuid4().hex[:8]}"  # token labels: 32 bytes max
    result = subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label,
                             "--pin", USER_PIN, "--so-pin", SO_PIN],
                            env=dict(os.environ), capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        pytest.fail(f"softhsm2-util --init-token failed: {result.stdout}{result.stderr}")
    lib = pkcs11.lib(SOFTHSM_MODULE)
    if label not in _visible_labels(lib):
        lib.reinitialize()
        if label not in _visible_labels(lib):
            pytest.fail(f"SoftHSM does not see the new token {label!r} (SOFTHSM2_CONF="
                        f"{os.environ.get('SOFTHSM2_CONF')})")
    return TokenInfo(label, USER_PIN, SO_PIN, SOFTHSM_MODULE, directory)


@pytest.fixture
def softhsm_token(softhsm_dir: Path) -> TokenInfo:
    """A fresh, empty SoftHSM token with a distinct label."""
    return create_token(softhsm_dir)


@pytest.fixture
def hsm(softhsm_token: TokenInfo):
    """A read-write, logged-in Pkcs11Token on a fresh token; closed after the test."""
    from crypto.pkcs11_signer import Pkcs11Token

    token = Pkcs11Token(softhsm_token.label, softhsm_token.pin, module=softhsm_token.module, rw=True)
    try:
        yield token
    finally:
        token.close()
