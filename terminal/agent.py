"""`ssc-terminal run`: the terminal agent. It watches the card readers and the QR scanners,
verifies what they deliver for its site, logs every result, forwards the log when the
issuer is reachable, and serves the counter page on 127.0.0.1.

Threads: one per serial scanner, one for the keyboard wedge (stdin), one watching PC/SC
(terminal.chip.CardWatcher), the event forwarder, and uvicorn for the page. Each input
thread only calls the Verifier; the Verifier logs, then publishes to the page.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from terminal.config import TerminalPaths, terminal_id
from terminal.ecard import PresentationStore
from terminal.eventlog import EventLog, Forwarder
from terminal.inputs import ScannerInput, WedgeInput
from terminal.policy import SitePolicy
from terminal.trust import TrustCache, TrustState
from terminal.verifier import Verifier
from terminal.web import PageServer, ResultHub, create_app

log = logging.getLogger(__name__)


@dataclass
class AgentOptions:
    port: int = 8765
    scanners: list[str] = field(default_factory=list)
    scanner_terminator: str = "CR"
    scanner_aim: bool = False
    stdin: bool = False
    readers: bool = True               # watch PC/SC readers
    reader: str | None = None          # only this reader (name or unique prefix)
    pin: str | None = None             # development: the PIN for sites that read PIN-protected groups
    forward_url: str | None = None
    forward_interval: float = 30.0
    trust_list: Path | None = None     # a fixed trust list file instead of the synced one


class Agent:
    def __init__(self, policy: SitePolicy, paths: TerminalPaths, options: AgentOptions, *,
                 clock=time.time) -> None:
        self.policy, self.paths, self.options, self.clock = policy, paths, options, clock
        self.events = EventLog(paths.events, terminal_id=terminal_id())
        self.trust = TrustCache(TrustState(paths.trust_folder, paths.pinned_root),
                                fallback=paths.issuer_trust_list, fixed=options.trust_list)
        self.presentations = PresentationStore(paths.events, clock=clock)  # e-card replay cache, challenges
        self.verifier = Verifier(policy, self.trust.store, events=self.events, clock=clock,
                                 presentations=self.presentations)
        self.hub = ResultHub()
        self.verifier.subscribe(lambda result: self.hub.publish(result.to_public()))
        self.server = PageServer(create_app(self.hub, self.status), options.port)
        self.threads: list[threading.Thread] = []
        self.scanners: list[ScannerInput] = []
        self.watcher = None
        self.forwarder: Forwarder | None = None
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/"

    def start(self) -> Agent:
        self.server.start()
        for device in self.options.scanners:
            scanner = ScannerInput(self.verifier, device, terminator=self.options.scanner_terminator,
                                   strip_aim=self.options.scanner_aim)
            self.scanners.append(scanner)
            scanner.start()
        if self.options.stdin:
            wedge = WedgeInput(self.verifier, sys.stdin.buffer)
            self.threads.append(wedge)
            wedge.start()
        if self.options.readers:
            self.watcher = self._card_watcher()
            if self.watcher is not None:
                self.watcher.start()
        if self.options.forward_url:
            self.forwarder = Forwarder(self.events, self.options.forward_url, interval=self.options.forward_interval)
            self.forwarder.start()
        return self

    def _card_watcher(self):
        try:
            from terminal.chip import CardWatcher
        except ImportError as exc:  # pyscard or the chip reader missing: QR only
            log.warning("no chip reading: %s", exc)
            return None
        return CardWatcher(self.verifier, self.trust.store, reader=self.options.reader, pin=self.options.pin)

    def status(self) -> dict:
        now = int(self.clock())
        return {"site": self.policy.to_dict(), "terminal": self.events.terminal_id, "now": now,
                "trust": self.trust.status(now, self.policy.revocation_max_age),
                "readers": self.watcher.readers() if self.watcher else [],
                "scanners": [f"{s.scanner.config.port} ({s.state})" for s in self.scanners]
                + (["keyboard wedge (stdin)"] if self.options.stdin else []),
                "events": self.events.counts(),
                "forwarding": (self.forwarder.last.__dict__ if self.forwarder and self.forwarder.last else None)}

    def wait(self) -> None:
        """Block until stop() (or Ctrl-C in the caller)."""
        while not self._stopped.wait(0.5):
            pass

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        for scanner in self.scanners:
            scanner.stop()
        if self.watcher is not None:
            self.watcher.stop()
        if self.forwarder is not None:
            self.forwarder.stop()
        self.server.stop()
        for thread in (*self.scanners, *([self.watcher] if self.watcher else [])):
            thread.join(timeout=3)
        self.events.close()
        self.presentations.close()
