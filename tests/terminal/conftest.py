"""Fixtures of the terminal tests (helpers in tests/terminal/support.py); the real pcscd
with vpcd for the chip tests is the session's one (tests/conftest.py). The repository
root goes on sys.path so that tests can use bench/camera.py's camera frames."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.append(ROOT)

from tests.terminal.support import home, other_pki, pki  # noqa: E402,F401
