"""The configuration file beside the environment (docs/operations.md "Configuration"): a TOML
file for the issuer and for the terminal, the environment wins over it, and a bad file is a
usage error that names the problem."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_tools.settings_file import ConfigFileError
from issuer.settings import Settings
from terminal.config import TerminalPaths, TerminalSettings, use

BIN = Path(sys.executable).parent
ISSUER_FILE = """\
database_url = "postgresql://ssc@db.example/issuer"
issuer_code = "BJ02"
key_passphrase = "from-the-file"
port = 8500
card_validity_years = 6
"""
TERMINAL_FILE = """\
home = "/srv/terminal"
site = "bureau"
id = "counter-7"
sync_source = "https://issuer.example/trust-list"
port = 8801
events_url = "https://issuer.example/api/terminal-events"
"""


@pytest.fixture
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("SSC_ISSUER_", "SSC_TERMINAL_", "SSC_EVENTS_")) or name in ("SSC_KEY_PASSPHRASE",):
            monkeypatch.delenv(name)
    yield monkeypatch
    use(None)


def test_the_issuer_reads_its_file_and_the_environment_wins(tmp_path, clean_env):
    path = tmp_path / "issuer.toml"
    path.write_text(ISSUER_FILE)
    s = Settings.from_config(path)
    assert (s.database, s.issuer_code, s.port, s.card_validity_years) == (
        "postgresql://ssc@db.example/issuer", "BJ02", 8500, 6)
    assert s.passphrase() == b"from-the-file"
    clean_env.setenv("SSC_ISSUER_PORT", "8600")
    clean_env.setenv("SSC_KEY_PASSPHRASE", "from-the-environment")
    s = Settings.from_config(path)
    assert (s.port, s.issuer_code, s.passphrase()) == (8600, "BJ02", b"from-the-environment")
    path.write_text(ISSUER_FILE + 'var = "/from/the/file"\n')
    assert Settings.from_config(path).var == Path("/from/the/file")
    clean_env.setenv("SSC_VAR", str(tmp_path / "from-the-environment"))
    assert Settings.from_config(path).var == tmp_path / "from-the-environment"
    clean_env.setenv("SSC_ISSUER_CONFIG", str(path))  # the variable names the file when --config does not
    assert Settings.from_config().issuer_code == "BJ02"
    assert Settings().issuer_code == "SH01"  # without a file: the environment and the defaults only


@pytest.mark.parametrize("text, problem", [
    ('databse_url = "sqlite://"\n', "unknown setting(s): databse_url"),
    ("port = \n", "is not valid TOML"),
    ('port = "eighty"\n', "port: Input should be a valid integer"),
    ("card_validity_years = 40\n", "card_validity_years"),
])
def test_a_bad_issuer_file_is_refused_with_the_reason(tmp_path, clean_env, text, problem):
    path = tmp_path / "issuer.toml"
    path.write_text(text)
    with pytest.raises(ConfigFileError, match="issuer.toml") as caught:
        Settings.from_config(path)
    assert problem in str(caught.value)


def test_the_terminal_reads_its_file_and_the_environment_wins(tmp_path, clean_env):
    path = tmp_path / "terminal.toml"
    path.write_text(TERMINAL_FILE)
    s = TerminalSettings.from_config(path)
    assert (s.home, s.site, s.id, s.sync_source, s.port) == (
        Path("/srv/terminal"), "bureau", "counter-7", "https://issuer.example/trust-list", 8801)
    assert s.events_url == "https://issuer.example/api/terminal-events"
    clean_env.setenv("SSC_TERMINAL_HOME", str(tmp_path / "home"))
    clean_env.setenv("SSC_EVENTS_URL", "https://other.example/events")
    s = TerminalSettings.from_config(path)
    assert (s.home, s.site, s.events_url) == (tmp_path / "home", "bureau", "https://other.example/events")
    use(s)
    assert TerminalPaths.from_env().own_root == tmp_path / "home" / "root-ca.pem"
    with pytest.raises(ConfigFileError, match="unknown setting"):
        TerminalSettings.from_config(_write(tmp_path / "t.toml", 'hmoe = "/x"\n'))
    with pytest.raises(ConfigFileError, match="cannot read"):
        TerminalSettings.from_config(tmp_path / "missing.toml")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_command_lines_take_config(tmp_path, clean_env):
    home = tmp_path / "home"
    conf = _write(tmp_path / "terminal.toml", f'home = "{home}"\nsite = "bureau"\n')
    env = {k: v for k, v in os.environ.items()} | {"SSC_VAR": str(tmp_path / "var")}
    proc = subprocess.run([str(BIN / "ssc-terminal"), "--config", str(conf), "status", "--json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert json.loads(proc.stdout)["root"] == str(home / "root-ca.pem"), proc.stderr
    proc = subprocess.run([str(BIN / "ssc-terminal"), "status"], capture_output=True, text=True, timeout=60,
                          env=env | {"SSC_TERMINAL_CONFIG": str(_write(tmp_path / "bad.toml", "sight = 1\n"))})
    assert proc.returncode == 2 and "unknown setting(s): sight" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([str(BIN / "ssc-issuer"), "--config", str(tmp_path / "none.toml"), "keys", "list"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2 and "cannot read the configuration file" in proc.stderr
    assert "Traceback" not in proc.stderr
