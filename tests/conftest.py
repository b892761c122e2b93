"""Suite-wide settings and fixtures. Area fixtures live in tests/<area>/conftest.py.

- Hypothesis profiles (no deadlines: speed is measured in bench/, not here).
- ``clock`` / ``now``: the one clock the fixtures sign with and the tests verify with
  (tests/support/clock_support.py).
- ``pcscd`` / ``attach_card``: one pcscd for the whole session, shared by every area
  (tests/firmware_tools/pcscd_fixtures.py).
- A guard that fails any test (or the collection) that opens a file outside the repository,
  the temporary directory, the Python installation/venv and the system directories: the suite
  must pass in a clone with nothing beside it (tests/test_self_contained.py).
"""

from __future__ import annotations

import os
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from clock_support import CLOCK, Clock
from tests.firmware_tools.pcscd_fixtures import attach_card, pcscd  # noqa: F401

# CI machines are small and shared: no deadlines (speed is measured in bench/, not here).
settings.register_profile("ci", deadline=None, max_examples=200,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


# -- the clock -----------------------------------------------------------------------

@pytest.fixture(scope="session")
def clock() -> Clock:
    """The session's clock: what the PKI/credential fixtures sign with (the process clock)."""
    return CLOCK


@pytest.fixture
def now(clock: Clock) -> int:
    """This test's 'now' in epoch seconds, read from ``clock`` when the test starts."""
    return clock.now()


# -- nothing outside the repository -----------------------------------------------------

REPOSITORY = Path(__file__).resolve().parents[1]


def _allowed_roots() -> tuple[str, ...]:
    roots = {str(REPOSITORY), tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev", "/proc", "/sys",
             "/run", "/etc", "/usr", "/lib", "/lib64", "/var/lib", "/var/cache",
             sys.prefix, sys.base_prefix, sys.exec_prefix}
    roots.update(path for path in sysconfig.get_paths().values() if path)
    roots.update(os.path.realpath(root) for root in list(roots))
    return tuple(root.rstrip("/") + "/" for root in sorted(roots))


ALLOWED_ROOTS = _allowed_roots()
OPENED_OUTSIDE: list[str] = []  # paths opened outside ALLOWED_ROOTS, in order
_reported = 0


HOME = os.path.expanduser("~").rstrip("/") + "/"


# The folder that holds the checkout: its other entries (a shared folder, a sibling checkout) are
# exactly what a clone does not have, so they are refused even when that folder lies inside
# an allowed root such as /tmp (unless it is such a root itself).
BESIDE = str(REPOSITORY.parent).rstrip("/") + "/"
GUARD_BESIDE = BESIDE not in ALLOWED_ROOTS


def _is_allowed(path: str) -> bool:
    """Inside an allowed root, or a library's per-user dotfile (~/.reportlab_settings, ~/.cache/...).
    Only dot-names under the home directory: a checkout under ~ must not reach its siblings."""
    slashed = path.rstrip("/") + "/"
    if slashed.startswith(BESIDE) and not slashed.startswith(str(REPOSITORY) + "/") and GUARD_BESIDE:
        return False
    if slashed.startswith(ALLOWED_ROOTS):
        return True
    return path.startswith(HOME) and path[len(HOME):].startswith(".")


def _audit_open(event: str, args: tuple) -> None:
    """sys.addaudithook: every open() / os.open() of this process (PEP 578 event "open")."""
    if event != "open" or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    path = os.path.abspath(os.fsdecode(args[0]))
    if not _is_allowed(path) and not _is_allowed(os.path.realpath(path)):
        OPENED_OUTSIDE.append(path)


sys.addaudithook(_audit_open)  # audit hooks stay for the life of the process


def _take_new_outside() -> list[str]:
    global _reported
    new = OPENED_OUTSIDE[_reported:]
    _reported += len(new)
    return new


def pytest_collection_finish(session: pytest.Session) -> None:
    outside = _take_new_outside()
    if outside:
        raise pytest.UsageError(f"collection opened files outside the repository: {sorted(set(outside))}")


@pytest.fixture(autouse=True)
def _opens_nothing_outside() -> object:
    """Fails the test if it (or a fixture set up for it) opened a file outside the repository."""
    yield
    outside = _take_new_outside()
    if outside:
        pytest.fail(f"opened files outside the repository: {sorted(set(outside))}", pytrace=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    outside = _take_new_outside()
    if outside:
        print(f"\nsession teardown opened files outside the repository: {sorted(set(outside))}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
