"""deploy/: the systemd units of the issuer service and the terminal agent pass
`systemd-analyze verify` (Debian package systemd, in the Makefile's DEBIAN_PACKAGES), keep
their sandboxing options, and the example configuration files load into the settings
classes they are for (docs/operations.md, "Running as a service")."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from issuer.settings import Settings
from terminal.config import TerminalSettings

ROOT = Path(__file__).parents[1]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").iterdir())
SERVICES = [u for u in UNITS if u.suffix == ".service"]
BIN = Path(sys.executable).parent
SANDBOX = ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "ReadWritePaths=",
           "CapabilityBoundingSet=\n", "RestrictAddressFamilies=", "SystemCallFilter=@system-service",
           "RestrictNamespaces=yes", "ProtectKernelTunables=yes")
needs_systemd_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                           reason="systemd-analyze is absent (Debian package systemd; make deps "
                                                  "installs it)")


def installed_here(unit: Path, folder: Path) -> Path:
    """The unit as installed on this machine: its programs from this .venv."""
    copy = folder / unit.name
    copy.write_text(unit.read_text().replace("/opt/sscard/venv/bin/", f"{BIN}/"))
    return copy


@needs_systemd_analyze
def test_systemd_analyze_verify_accepts_every_unit(tmp_path):
    units = [installed_here(u, tmp_path) for u in UNITS]
    proc = subprocess.run(["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr  # unknown keys and bad values are only warnings: none allowed


@needs_systemd_analyze
@pytest.mark.parametrize("unit", SERVICES, ids=lambda u: u.name)
def test_each_service_is_sandboxed(unit, tmp_path):
    text = unit.read_text()
    missing = [option for option in SANDBOX if option not in text]
    assert not missing, f"{unit.name} lacks {missing}"
    proc = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(installed_here(unit, tmp_path))],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", proc.stdout)
    assert exposure and float(exposure.group(1)) <= 2.0, proc.stdout[-2000:] + proc.stderr


@pytest.mark.parametrize("unit", SERVICES, ids=lambda u: u.name)
def test_the_units_run_commands_that_exist(unit):
    command = re.search(r"^ExecStart=/opt/sscard/venv/bin/(\S+)(.*)$", unit.read_text(), re.M)
    program, args = command.group(1), command.group(2).split()
    proc = subprocess.run([str(BIN / program), *args, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_the_example_configuration_files_load(monkeypatch):
    for name in ("SSC_ISSUER_PORT", "SSC_TERMINAL_SITE", "SSC_TERMINAL_PORT"):
        monkeypatch.delenv(name, raising=False)
    issuer = Settings.from_config(DEPLOY / "issuer.toml")
    assert issuer.database.startswith("postgresql://") and issuer.port == 8400
    terminal = TerminalSettings.from_config(DEPLOY / "terminal.toml")
    assert terminal.site == "pharmacy" and terminal.sync_source.startswith("https://")
    docs = (ROOT / "docs" / "operations.md").read_text()
    for env_file in ("issuer.env", "terminal.env"):
        for variable in re.findall(r"^#? ?(SSC_[A-Z0-9_]+)=", (DEPLOY / env_file).read_text(), re.M):
            assert f"`{variable}`" in docs, f"{variable} of deploy/{env_file} is not in docs/operations.md"
