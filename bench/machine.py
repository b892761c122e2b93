"""The machine and software a run was made on, printed with every report."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=5, cwd=Path(__file__).parent).stdout.strip()
        return head or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def describe() -> dict:
    from cryptography.hazmat.backends.openssl.backend import backend

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git(),
        "nproc": usable, "cpu_model": _cpu_model(), "platform": platform.platform(),
        "python": sys.version.split()[0], "python_implementation": platform.python_implementation(),
        "cryptography": _version("cryptography"), "openssl": backend.openssl_version_text(),
        "cbor2": _version("cbor2"), "qrcode": _version("qrcode"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def report(info: dict) -> list[str]:
    return [f"machine: {info['nproc']} CPU(s), {info['cpu_model']}; {info['platform']}",
            f"software: Python {info['python']}, cryptography {info['cryptography']} ({info['openssl']}), "
            f"cbor2 {info['cbor2']}, qrcode {info['qrcode']}",
            f"run: {info['date']}, commit {info['git_commit']}, load average {info['load_average']}"]
