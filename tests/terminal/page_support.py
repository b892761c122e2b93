"""Running `ssc-terminal run` as a process and looking at its page in headless Chromium."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tests.terminal.support import env_for

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


class AgentProcess:
    def __init__(self, proc: subprocess.Popen, url: str) -> None:
        self.proc, self.url = proc, url

    def type_line(self, text: str) -> None:
        """A keyboard-wedge scan: the code and Enter."""
        self.proc.stdin.write((text + "\r\n").encode())
        self.proc.stdin.flush()


@contextlib.contextmanager
def agent(home: Path, *args: str, env: dict | None = None) -> Iterator[AgentProcess]:
    """`ssc-terminal run --port 0 ARGS`, stopped by its pid at the end."""
    proc = subprocess.Popen([str(BIN / "ssc-terminal"), "run", "--port", "0", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env or env_for(home))
    try:
        deadline = time.monotonic() + 30
        url = None
        while time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            if not line and proc.poll() is not None:
                raise RuntimeError(f"the agent stopped: exit {proc.returncode}")
            found = re.search(r"counter page: (http://127\.0\.0\.1:\d+/)", line)
            if found:
                url = found.group(1)
                break
        assert url, "the agent did not announce its page"
        # Keep reading its output (the access log) so that a full pipe never blocks the agent.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield AgentProcess(proc, url)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)


def browser_environment() -> dict[str, str]:
    """The browser's environment, without libfaketime: Chromium hangs under it (the shifted-clock
    runs, scripts/shifted_clock.py). The page shows the times the agent puts in its answers."""
    return {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}


@contextlib.contextmanager
def browser_page() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=browser_environment())
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            yield page
        finally:
            browser.close()


def wait_outcome(page, outcome: str, previous: str | None = None, timeout: float = 15_000) -> None:
    """Wait until the banner shows `outcome` for a result other than `previous` (by id)."""
    page.wait_for_function(
        "([o, prev]) => { const b = document.getElementById('banner');"
        " return b.dataset.outcome === o && b.dataset.id !== prev; }", arg=[outcome, previous], timeout=timeout)
