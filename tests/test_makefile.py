"""`make demo` / `make test` show a newcomer the steps, not pip's noise (the machine's extra
index warnings, setuptools' editable-install banner): pip runs with -qq, which keeps its
ERROR lines, and each step says what it does."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is absent")
def test_the_install_steps_are_announced_and_pip_is_quiet():
    proc = subprocess.run(["make", "-n", "-W", "pyproject.toml", ".venv/.installed"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    pip = [line for line in proc.stdout.splitlines() if " pip " in line]
    assert len(pip) == 2 and all(" -qq " in line and "--disable-pip-version-check" in line for line in pip), pip
    assert any(line.startswith('echo "sscard: installing') for line in proc.stdout.splitlines())


def test_quiet_pip_still_shows_a_failure(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-qq", "install",
                           "--no-index", str(tmp_path / "no-such-project")], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "ERROR" in proc.stderr
