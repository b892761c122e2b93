"""Printing through CUPS: the card's PDF goes to the card printer with `lp` when a printer
is configured (argument, or SSC_ISSUER_CARD_PRINTER; SSC_ISSUER_PROOF_PRINTER for proof
sheets, which go to an A4 printer); the files are written in every case.

The card PDF has two pages, front then back: a duplex card printer prints them on the two
sides of one card. Driver settings (duplex, ribbon, overlay) are the queue's own, or passed
as `lp -o NAME=VALUE` options.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

from issuer.artwork.card import CardArtwork
from issuer.artwork.errors import PrintError
from issuer.artwork.proof import ProofSheet

CARD_PRINTER_ENV = "SSC_ISSUER_CARD_PRINTER"
PROOF_PRINTER_ENV = "SSC_ISSUER_PROOF_PRINTER"
LP_TIMEOUT = 60
_QUEUE = re.compile(r"[^\s/#\\-][^\s/#\\]{0,126}")  # a CUPS queue name, never an option


@dataclass(frozen=True)
class PrintResult:
    files: tuple[Path, ...]
    printer: str | None = None
    job_id: str | None = None

    @property
    def printed(self) -> bool:
        return self.printer is not None


def configured_printer(printer: str | None, env: str = CARD_PRINTER_ENV) -> str | None:
    return printer or os.environ.get(env) or None


def send_to_printer(pdf: Path, printer: str, *, title: str, copies: int = 1, options: Sequence[str] = (),
                    timeout: float = LP_TIMEOUT) -> str | None:
    """Queue `pdf` on `printer` with `lp`; the CUPS request id ("queue-42"), or PrintError."""
    if not _QUEUE.fullmatch(printer):
        raise PrintError(f"{printer!r} is not a CUPS printer name (no spaces, '/', '#'; not starting with '-')")
    if not 1 <= copies <= 100:
        raise PrintError(f"copies must be between 1 and 100, not {copies}")
    lp = shutil.which("lp")
    if lp is None:
        raise PrintError("the CUPS command `lp` is not installed (Debian package cups-client): install it, or "
                         "configure no printer to only write the files")
    cmd = [lp, "-d", printer, "-t", title, "-n", str(copies)]
    for option in options:
        if not option or option.startswith("-"):
            raise PrintError(f"{option!r} is not an lp option (give NAME=VALUE, e.g. sides=two-sided-long-edge)")
        cmd += ["-o", option]
    cmd.append(str(Path(pdf).resolve()))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise PrintError(f"`lp` did not answer within {timeout:g} s: is the CUPS scheduler running?") from None
    except OSError as exc:
        raise PrintError(f"`lp` could not be started: {exc}") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip() or "no message"
        raise PrintError(f"`lp` refused the job for printer {printer!r} (exit status {done.returncode}): {detail}")
    found = re.search(r"request id is (\S+)", done.stdout)
    return found.group(1) if found else None


def print_or_write(artwork: Union[CardArtwork, ProofSheet], out_dir: Path, *, printer: str | None = None,
                   options: Sequence[str] = (), copies: int = 1) -> PrintResult:
    """Write the artwork's files into `out_dir`; then, if a printer is configured, queue its PDF."""
    proof = isinstance(artwork, ProofSheet)
    files = tuple(artwork.write(Path(out_dir)))
    queue = configured_printer(printer, PROOF_PRINTER_ENV if proof else CARD_PRINTER_ENV)
    if queue is None:
        return PrintResult(files)
    pdf = next(f for f in files if f.suffix == ".pdf")
    title = f"proof sheet {pdf.stem}" if proof else f"card {artwork.card_number}"
    job = send_to_printer(pdf, queue, title=title, copies=copies, options=options)
    return PrintResult(files, queue, job)
