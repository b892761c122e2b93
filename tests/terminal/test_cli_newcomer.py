"""What a newcomer hit at the command line (issue 11, item 9): each answer says what to do,
with a usage exit code and never a traceback or a false INVALID."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.terminal.support import env_for

BIN = Path(sys.executable).parent


def run(command: str, *args, env: dict, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / command), *args], capture_output=True, text=True, env=env, timeout=60,
                          stdin=stdin)


def test_sync_before_the_root_is_pinned_names_the_documented_path_and_how_to_pin(tmp_path):
    home = tmp_path / "var" / "terminal"
    env = dict(os.environ, SSC_VAR=str(tmp_path / "var"), SSC_TERMINAL_HOME=str(home))
    proc = run("ssc-terminal", "sync", str(tmp_path / "usb"), env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"ROOT_MISSING: cannot load the pinned root {home / 'root-ca.pem'}" in proc.stderr
    assert "keys/root-ca.pem" not in proc.stderr  # not the issuer's development folder
    assert "to pin the root" in proc.stderr and "fingerprint" in proc.stderr
    assert f"copy it to {home / 'root-ca.pem'} ($SSC_TERMINAL_HOME/root-ca.pem)" in proc.stderr
    # the same root is what verify-qr needs; it says the same
    proc = run("ssc-terminal", "verify-qr", "SSC1:ABC", env=env)
    assert proc.returncode == 2 and "to pin the root" in proc.stderr and "Traceback" not in proc.stderr


def test_the_documented_root_path_is_the_one_the_terminal_reads(tmp_path, pki):
    """docs/operations.md: "copy ... root-ca.pem ... to $SSC_TERMINAL_HOME/root-ca.pem"."""
    docs = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    assert "`$SSC_TERMINAL_HOME/root-ca.pem`" in docs
    home = tmp_path / "elsewhere"
    home.mkdir()
    shutil.copy(pki.root_path, home / "root-ca.pem")
    env = dict(os.environ, SSC_VAR=str(tmp_path / "var"), SSC_TERMINAL_HOME=str(home))
    proc = run("ssc-terminal", "sync", str(tmp_path / "no-such-folder"), env=env)
    assert "ROOT_MISSING" not in proc.stderr and proc.returncode == 4, proc.stderr  # the root is found


@pytest.mark.parametrize("site", [[], ["--site", "pharmacy"]], ids=["no-site", "pharmacy"])
def test_verify_qr_of_a_missing_picture_is_a_usage_error_not_invalid(home, site):
    proc = run("ssc-terminal", "verify-qr", "/path/that/does/not/exist.png", *site, env=env_for(home))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "INVALID" not in proc.stdout + proc.stderr and "QR_PREFIX" not in proc.stdout
    assert "no such file: /path/that/does/not/exist.png" in proc.stderr
    proc = run("ssc-terminal", "verify-qr", "card.jpg", *site, env=env_for(home))  # a relative name too
    assert proc.returncode == 2 and "no such file: card.jpg" in proc.stderr
    proc = run("ssc-terminal", "verify-qr", str(home), *site, env=env_for(home))
    assert proc.returncode == 2 and "is a folder" in proc.stderr


def test_verify_qr_still_refuses_a_code_that_is_not_ours(home):
    """Text that is neither our prefix nor shaped like a path is a scanned code of another kind."""
    proc = run("ssc-terminal", "verify-qr", "4006381333931", "--site", "pharmacy", env=env_for(home))
    assert proc.returncode == 1 and "QR_PREFIX" in proc.stdout


def test_users_add_without_a_terminal_or_a_password_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SSC_ISSUER_NEW_PASSWORD", "SSC_ISSUER_PASSWORD")}
    env["SSC_VAR"] = str(tmp_path / "var")
    proc = run("ssc-issuer", "users", "add", "newcomer", "--role", "auditor", env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "GetPassWarning" not in proc.stderr and "EOFError" not in proc.stderr
    assert "set SSC_ISSUER_NEW_PASSWORD" in proc.stderr
    proc = run("ssc-issuer", "approve", "1", "--user", "alan", env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and "set SSC_ISSUER_PASSWORD" in proc.stderr and "Traceback" not in proc.stderr
    env.pop("SSC_WALLET_PASSPHRASE", None)
    proc = run("ssc-card", "wallet", "show", "--wallet", str(tmp_path / "wallet"), env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and "set SSC_WALLET_PASSPHRASE" in proc.stderr and "Traceback" not in proc.stderr


def closed_pipe_run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    """Run with stdout a pipe whose reader has gone already (as `| head -c 1500` after it
    read enough): every write fails with EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(args, stdout=write_end, stderr=subprocess.PIPE, text=True, env=env, timeout=60)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("command", [["ssc-terminal", "verify-qr", "QR", "--json"], ["ssc-terminal", "--help"],
                                     ["ssc-issuer", "--help"], ["ssc-issuer", "keys", "list"],
                                     ["ssc-card", "--help"]], ids=lambda c: " ".join(c[:2]))
def test_a_closed_pipe_ends_every_command_quietly(command, home, pki):
    args = [str(BIN / command[0]), *[pki.qr() if a == "QR" else a for a in command[1:]]]
    env = env_for(home) | {"SSC_VAR": str(pki.folder.parent / "var-none")}
    if command[:2] == ["ssc-issuer", "keys"]:
        env |= {"SSC_ISSUER_KEY_DIR": str(pki.folder), "SSC_KEY_PASSPHRASE": "terminal-tests"}
    if command[0] == "ssc-terminal" and command[1] == "verify-qr":
        env["SSC_VAR"] = str(home.parent)
    proc = closed_pipe_run(args, env)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert proc.stderr == ""
    # argparse's --help ignores a failed write itself (exit 0); the commands exit 1 (Python's recipe)
    assert proc.returncode == (0 if "--help" in command else 1)
