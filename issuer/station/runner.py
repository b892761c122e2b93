"""One card at the issuance station (docs/operations.md "Issuance station"):

1. look at the card: the application (SELECT), its life cycle state, and its chip key if it
   has one (EF.DG5 is written by the card in one step, so it is there or not);
2. claim the job: a blank card gets the next free job; a card that has a chip key asks
   for the job signed for that chip (a personalisation that stopped earlier, here or at
   another station) and resumes it;
3. personalise (firmware_tools.personalise): the card makes its key, the issuer signs the
   security object for it, every file is written, read back and compared, the card is
   locked; a card found locked already is read back and compared instead;
4. report the chip (ATR, chip id) and the personalised state to the issuer.

If anything stops before step 4, the job is released with the reason (or, if this station
dies, freed when its lease expires) and the card is left blank or personalising — never
issued with partial data, so no terminal accepts it (firmware_tools.reader.read_card
refuses a card that is not issued). Putting the same card back resumes the job; a new
blank takes the job only if no security object was signed yet, or after the chip was
reported spoiled (`spoil`). The issuer marks a card personalised only on step 4, that is
after the chip was locked and read back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from crypto.chip import Group
from firmware_tools.card import apdus
from firmware_tools.card.profile import DG5, SECURITY_OBJECT, ElementaryFile, Lifecycle, Read, chip_key_point
from firmware_tools.card_io import EF_FOR_GROUP, CardStatusError, CountingLink, FileFormatError, Traffic, chip_id
from firmware_tools.iso7816.tlv import TlvError
from firmware_tools.link import CardLink, LinkError
from firmware_tools.personalise import CardContent, PersonalisationError, Step, personalise
from firmware_tools.reader import CardReader, NotSscardError, PinBlockedError, WrongPinError
from issuer.station.client import IssuerClient, IssuerUnreachable, Job, StationClientError

StepCallback = Callable[[Step, ElementaryFile | None], None]


class StationError(Exception):
    """The station could not finish a card; `exit_code` for the command line."""

    exit_code = 1


class CardNotUsable(StationError):
    """The card in the reader cannot take a job (not an sscard card, terminated, or locked
    with data the issuer did not make)."""


class NoJob(StationError):
    """Nothing to do for this card: the queue is empty, or the locked card has no open job."""

    exit_code = 4


class JobStopped(StationError):
    """Personalisation stopped (card removed, refused, issuer refused); the job was released."""

    def __init__(self, message: str, job: Job, cause: Exception):
        super().__init__(message)
        self.job, self.cause = job, cause


@dataclass(frozen=True)
class CardState:
    lifecycle: Lifecycle
    chip_id: str | None   # the chip's key id when EF.DG5 is written
    atr: bytes


@dataclass
class StationResult:
    job_id: int
    card_id: int
    card_number: str
    chip_id: str
    atr: bytes
    before: Lifecycle               # the card's state when it came in
    resumed: bool                   # the job was the one of this chip (a restart)
    already_done: bool = False      # the issuer had recorded it done already
    traffic: Traffic = field(default_factory=Traffic)
    seconds: float = 0.0
    issuer_seconds: float = 0.0     # of `seconds`, waiting for the issuer
    job: Job | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {"job": self.job_id, "card_id": self.card_id, "card_number": self.card_number,
                "chip_id": self.chip_id, "atr": self.atr.hex(), "before": self.before.name.lower(),
                "resumed": self.resumed, "already_done": self.already_done, **self.traffic.to_dict(),
                "seconds": round(self.seconds, 4), "issuer_seconds": round(self.issuer_seconds, 4)}


def inspect(link: CardLink) -> CardState:
    """The card's life cycle state and chip id (a connected link; LinkError propagates)."""
    reader = CardReader(link)
    try:
        reader.select_application()
        state = reader.lifecycle()
        chip = None
        if state in (Lifecycle.PERSONALISING, Lifecycle.ISSUED):
            raw = reader.read_file(DG5)
            if raw:
                chip = chip_id(chip_key_point(DG5.unwrap(raw)))
    except NotSscardError:
        raise CardNotUsable("the card has no sscard application: is it one of the centre's blanks?") from None
    except (CardStatusError, FileFormatError, TlvError, ValueError) as exc:
        raise CardNotUsable(f"the card does not follow the profile: {exc}") from None
    if state is Lifecycle.TERMINATED:
        raise CardNotUsable("the card is terminated (a spoiled card): put it aside")
    return CardState(state, chip, link.atr)


class _Timed:
    """The issuer client, timing its calls (to tell the card's time from the issuer's)."""

    def __init__(self, client: IssuerClient):
        self.client, self.seconds = client, 0.0

    def __getattr__(self, name: str):
        call = getattr(self.client, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
        return timed


def personalise_next(link: CardLink, client: IssuerClient, *, pin: str,
                     on_step: StepCallback | None = None,
                     on_job: Callable[[Job, CardState], None] | None = None) -> StationResult:
    """Do the job for the card on `link` (connected by the caller, exclusively). Raises a
    StationError subclass, or StationClientError when the issuer cannot be asked before
    anything was claimed."""
    started = time.perf_counter()
    counting = CountingLink(link)
    issuer = _Timed(client)
    card = inspect(counting)
    job = issuer.claim(chip_id=card.chip_id, locked=card.lifecycle is Lifecycle.ISSUED)
    if job is None:
        if card.lifecycle is Lifecycle.ISSUED:
            raise NoJob(f"the card is locked already (chip {card.chip_id}) and no open job is signed for it")
        raise NoJob("no job waits for a card" + (" like this one" if card.chip_id else "")
                    + ": the queue is empty (jobs bound to a chip wait for that card)")
    if on_job is not None:
        on_job(job, card)
    result = StationResult(job.id, job.card_id, job.card_number, job.chip_id or "", card.atr, card.lifecycle,
                           job.resumed, job=job)
    if job.state == "done":  # reported before; the answer was lost
        if card.lifecycle is not Lifecycle.ISSUED:
            raise CardNotUsable(f"job {job.id} of chip {card.chip_id} is done, yet the card is not locked")
        result.already_done = True
    else:
        try:
            result.chip_id = _write(counting, issuer, job, card, pin, on_step)
            issuer.complete(job, chip_id=result.chip_id, atr=card.atr)
        except (PersonalisationError, LinkError, StationClientError, CardNotUsable) as exc:
            _release(issuer, job, exc)
            raise JobStopped(_stopped(exc), job, exc) from exc
        except BaseException as exc:  # Ctrl-C, a bug: never keep the job longer than needed
            _release(issuer, job, exc)
            raise
    result.traffic, result.seconds = counting.traffic, time.perf_counter() - started
    result.issuer_seconds = issuer.seconds
    return result


def _write(link: CountingLink, issuer: _Timed, job: Job, card: CardState, pin: str,
           on_step: StepCallback | None) -> str:
    """Personalise (or, for a locked card, read back); the chip id."""
    if card.lifecycle is Lifecycle.ISSUED:
        _compare_locked(link, job, card, pin)
        return card.chip_id
    content = CardContent(job.files)
    result = personalise(link, content, lambda files: issuer.sign_security_object(job, files[Group.CHIP_KEY]),
                         pin=pin, allow_restart=card.lifecycle is Lifecycle.PERSONALISING, on_step=on_step)
    return result.chip_id


def _compare_locked(link: CardLink, job: Job, card: CardState, pin: str) -> None:
    """A locked card whose job is open: the ACTIVATE FILE reached it, the report did not.
    It is complete only if it holds exactly the job's files and security object."""
    if job.chip_id != card.chip_id or job.security_object is None:
        raise CardNotUsable(f"the locked card's chip {card.chip_id} is not the one job {job.id} was signed for")
    expected = {EF_FOR_GROUP[g]: raw for g, raw in job.files.items()}
    expected[SECURITY_OBJECT] = job.security_object
    reader = CardReader(link)
    if any(ef.read is Read.PIN for ef in expected):
        try:
            reader.verify_pin(pin)
        except (WrongPinError, PinBlockedError, ValueError) as exc:
            raise CardNotUsable(f"cannot read the locked card back: {exc}") from None
    try:
        for ef, raw in expected.items():
            if reader.read_to_end(ef) != raw:
                raise CardNotUsable(f"the locked card's {ef.name} differs from the issuer's: put it aside "
                                    "(ssc-issuer station spoil)")
    finally:
        if any(ef.read is Read.PIN for ef in expected):
            try:
                link.send(apdus.forget_pin())  # end the PIN's security status
            except LinkError:
                pass


def _release(issuer: _Timed, job: Job, exc: BaseException) -> None:
    try:
        issuer.release(job, f"{type(exc).__name__}: {exc}")
    except StationClientError:
        pass  # the lease expires on its own


def _stopped(exc: Exception) -> str:
    if isinstance(exc, PersonalisationError):
        where = f"personalisation stopped at {exc}"
        if exc.step is Step.ACTIVATE:
            return where + "; the card may be locked already: put it back and run again"
        return where + "; the card is not issued and no terminal accepts it: put it back and run again (it resumes)"
    if isinstance(exc, IssuerUnreachable):
        return f"{exc}; the card is not reported: put it back and run again once the issuer answers"
    return f"{exc}; put the card back and run again"
