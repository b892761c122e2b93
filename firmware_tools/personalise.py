"""Personalisation: the issuance encoder's script, built from the profile and run over any
:class:`~firmware_tools.link.CardLink` (docs/pcsc.md "Personalisation", docs/spec.md §10).

The steps, in order (:class:`Step`):

1. SELECT the application; GET DATA 008A: the card must be blank (or, with
   `allow_restart`, personalising: see below).
2. START PERSONALISATION (blank → personalising).
3. GENERATE ASYMMETRIC KEY PAIR: the chip makes its key and writes EF.DG5 itself; read
   EF.DG5 and check it holds the key the command returned.
4. Write EF.CardInfo, EF.DG1..DG4: SELECT, (ERASE BINARY on a restart,) UPDATE BINARY in
   chunks of 255 bytes, or larger ones when the link has extended length.
5. Ask the caller's `sign_security_object(files)` for the security object over every
   file's bytes (DG5 as read from the card) and write it to EF.SO.
6. Read every file back (VERIFY the PIN first when EF.DG4 is written) and compare byte
   for byte.
7. ACTIVATE FILE: the card is issued and locked.

A link failure raises :class:`PersonalisationLinkError` naming the step; a refusal by the
card :class:`CardRefusedError`. What is left on the card:

- stopped before step 2: the card is still blank; run again;
- stopped in steps 2-6: the card is personalising; it is never accepted by a terminal
  (:func:`firmware_tools.reader.read_card` refuses a card that is not issued). Run again with
  `allow_restart=True`: the profile allows ERASE BINARY and UPDATE BINARY while
  personalising, so every file is erased and written again. The chip key is kept (the
  card writes EF.DG5 with its key in one step, so it cannot be torn), which lets an
  issuer that signs one security object per chip key give the same one back; pass
  `new_chip_key=True` to make a new key instead;
- stopped during step 7: the ACTIVATE FILE may or may not have reached the card; if
  the card reads as issued, check it with read_card (it is complete: activation is the
  last command); else restart as above.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from crypto.chip import Group, group_payloads
from crypto.schema import Credential
from firmware_tools.card import apdus
from firmware_tools.card.profile import (DG5, PUBLIC_KEY_TEMPLATE, PUBLIC_POINT_TAG, SECURITY_OBJECT,
                                         ElementaryFile, Lifecycle, Read, chip_key_point)
from firmware_tools.card_io import (EF_FOR_GROUP, CardStatusError, CountingLink, FileFormatError, Traffic, chip_id,
                                   expect_ok)
from firmware_tools.iso7816.apdu import CommandApdu
from firmware_tools.iso7816.sw import SW
from firmware_tools.iso7816.tlv import Tlv, TlvError
from firmware_tools.link import CardLink, CardRemovedError, LinkError
from firmware_tools.reader import CardReader, NotSscardError, PinBlockedError, WrongPinError

SHORT_CHUNK = apdus.UPDATE_CHUNK   # 255: short Lc
EXTENDED_CHUNK = 0xFFF0            # extended Lc: a whole file of this profile in one command
COSE_SIGN1_TAG = 0xD2              # CBOR tag 18, the first byte of a COSE_Sign1 (RFC 9052 §4.2)

SignSecurityObject = Callable[[dict[Group, bytes]], bytes]


class Step(str, enum.Enum):
    SELECT = "select the application"
    CHECK_STATE = "read the life cycle state"
    START = "START PERSONALISATION"
    GENERATE_KEY = "GENERATE ASYMMETRIC KEY PAIR"
    READ_CHIP_KEY = "read the chip key"
    WRITE = "write"
    SIGN = "sign the security object"
    WRITE_SO = "write the security object"
    VERIFY_PIN = "VERIFY the PIN to read EF.DG4 back"
    READ_BACK = "read back"
    ACTIVATE = "ACTIVATE FILE"


class PersonalisationError(Exception):
    """Personalisation stopped at `step` (on `ef`, if one)."""

    def __init__(self, step: Step, message: str, ef: ElementaryFile | None = None):
        where = step.value + (f" {ef.name}" if ef is not None else "")
        super().__init__(f"{where}: {message}")
        self.step, self.ef, self.message = step, ef, message


class CardNotBlankError(PersonalisationError):
    """The card is not blank (and not a personalising card to restart)."""

    def __init__(self, lifecycle: Lifecycle, message: str):
        super().__init__(Step.CHECK_STATE, message)
        self.lifecycle = lifecycle


class PersonalisationLinkError(PersonalisationError):
    """The link failed during a step; `removed` when the card left the reader."""

    def __init__(self, step: Step, cause: LinkError, ef: ElementaryFile | None = None):
        super().__init__(step, f"{type(cause).__name__}: {cause}", ef)
        self.cause = cause
        self.removed = isinstance(cause, CardRemovedError)


class CardRefusedError(PersonalisationError):
    """The card answered a status word the step does not allow (`sw`)."""

    def __init__(self, step: Step, message: str, sw: int | None = None, ef: ElementaryFile | None = None):
        super().__init__(step, message, ef)
        self.sw = sw


class ReadBackMismatchError(PersonalisationError):
    """A file read back differs from what was written."""


class SigningError(PersonalisationError):
    """`sign_security_object` failed or returned something that is not a security object."""


@dataclass(frozen=True)
class CardContent:
    """The files the issuer makes: EF.CardInfo and EF.DG1-DG4 as file bytes (TLV included)."""

    files: Mapping[Group, bytes]

    def __post_init__(self) -> None:
        files = {Group(g): bytes(b) for g, b in self.files.items()}
        if Group.CHIP_KEY in files:
            raise ValueError("EF.DG5 is made by the card, not written")
        for group in (Group.CARD_INFO, Group.HOLDER):
            if group not in files:
                raise ValueError(f"{EF_FOR_GROUP[group].name} is required")
        for group, raw in files.items():
            ef = EF_FOR_GROUP[group]
            if len(raw) > ef.max_size:
                raise ValueError(f"{ef.name}: {len(raw)} bytes, the file holds {ef.max_size}")
            ef.unwrap(raw)  # TlvError unless it is <tag> L 53 L <payload>
        object.__setattr__(self, "files", dict(sorted(files.items())))

    @classmethod
    def from_payloads(cls, payloads: Mapping[Group, bytes]) -> "CardContent":
        """From each group's CBOR (crypto.chip.group_payloads), wrapped per the profile."""
        return cls({Group(g): EF_FOR_GROUP[Group(g)].wrap(p) for g, p in payloads.items()})

    @classmethod
    def from_credential(cls, credential: Credential, photo_jpeg: bytes) -> "CardContent":
        return cls.from_payloads(group_payloads(credential, photo_jpeg))

    @property
    def needs_pin(self) -> bool:
        """Reading the content back needs the holder's PIN (EF.DG4)."""
        return any(EF_FOR_GROUP[g].read is Read.PIN for g in self.files)


@dataclass(frozen=True)
class PersonalisationResult:
    atr: bytes
    chip_id: str                     # profile has no chip serial: derived from the chip key (card_io.chip_id)
    public_key: bytes                # the chip's uncompressed P-256 point
    files: dict[Group, bytes]        # every hashed file as on the card, DG5 included
    security_object: bytes           # EF.SO's file bytes
    restarted: bool                  # the card was personalising when we started
    traffic: Traffic = field(default_factory=Traffic)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"atr": self.atr.hex(), "chip_id": self.chip_id, "restarted": self.restarted,
                "files": {EF_FOR_GROUP[g].name: len(b) for g, b in self.files.items()},
                "security_object_bytes": len(self.security_object), **self.traffic.to_dict(),
                "seconds": round(self.seconds, 4)}


def write_commands(ef: ElementaryFile, content: bytes, *, chunk: int = SHORT_CHUNK,
                   erase: bool = False) -> list[CommandApdu]:
    """SELECT, ERASE BINARY (when `erase`), then UPDATE BINARY in `chunk`-byte pieces."""
    script = apdus.write_file(ef, content, chunk=chunk)
    return script if erase else [c for c in script if c.ins != 0x0E]


def as_security_object_file(signed: bytes) -> bytes:
    """EF.SO's bytes from what a signer returns: a COSE_Sign1, or the EF.SO file itself."""
    signed = bytes(signed)
    if signed[:1] == bytes((COSE_SIGN1_TAG,)):
        return SECURITY_OBJECT.wrap(signed)
    SECURITY_OBJECT.unwrap(signed)  # TlvError unless it is EF.SO's layout
    return signed


def personalise(link: CardLink, content: CardContent, sign_security_object: SignSecurityObject, *,
                pin: str | None = None, allow_restart: bool = False, new_chip_key: bool = False,
                chunk: int | None = None,
                on_step: Callable[[Step, ElementaryFile | None], None] | None = None) -> PersonalisationResult:
    """Personalise the card on `link` (connected by the caller); see the module docstring.

    `pin`: the card's PIN as delivered (the transport PIN), needed when `content` has
    EF.DG4 to read it back. `chunk`: UPDATE BINARY data size (default 255, or EXTENDED_CHUNK
    when the link has extended length).
    """
    if content.needs_pin and pin is None:
        raise ValueError("reading EF.DG4 back needs the card's PIN (the transport PIN it was delivered with)")
    return _Run(link, content, sign_security_object, pin, allow_restart, new_chip_key, chunk, on_step).run()


class _Run:
    def __init__(self, link: CardLink, content: CardContent, sign: SignSecurityObject, pin: str | None,
                 allow_restart: bool, new_chip_key: bool, chunk: int | None,
                 on_step: Callable[[Step, ElementaryFile | None], None] | None):
        self.link = CountingLink(link)
        self.reader = CardReader(self.link)
        self.content, self.sign, self.pin = content, sign, pin
        self.allow_restart, self.new_chip_key = allow_restart, new_chip_key
        self.chunk = chunk or (EXTENDED_CHUNK if link.extended_length else SHORT_CHUNK)
        self.on_step = on_step or (lambda step, ef: None)

    @contextmanager
    def step(self, step: Step, ef: ElementaryFile | None = None, *, announce: bool = True) -> Iterator[None]:
        if announce:
            self.on_step(step, ef)
        try:
            yield
        except PersonalisationError:
            raise
        except LinkError as exc:
            raise PersonalisationLinkError(step, exc, ef) from exc
        except CardStatusError as exc:
            raise CardRefusedError(step, str(exc), exc.sw, ef) from exc
        except (FileFormatError, TlvError) as exc:
            raise ReadBackMismatchError(step, str(exc), ef) from exc

    def run(self) -> PersonalisationResult:
        started = time.perf_counter()
        restarted = self.check_state()
        if not restarted:
            with self.step(Step.START):
                expect_ok(self.link, apdus.start_personalisation(), "START PERSONALISATION")
        point, dg5 = self.chip_key(restarted)
        for group, raw in self.content.files.items():
            self.write(Step.WRITE, EF_FOR_GROUP[group], raw, erase=restarted)
        files = {**self.content.files, Group.CHIP_KEY: dg5}
        with self.step(Step.SIGN):
            try:
                so_file = as_security_object_file(self.sign(dict(files)))
            except Exception as exc:  # noqa: BLE001 - the issuer's signer: any failure stops here
                raise SigningError(Step.SIGN, f"{type(exc).__name__}: {exc}") from exc
            if len(so_file) > SECURITY_OBJECT.max_size:
                raise SigningError(Step.SIGN, f"{len(so_file)} bytes; EF.SO holds {SECURITY_OBJECT.max_size}")
        self.write(Step.WRITE_SO, SECURITY_OBJECT, so_file, erase=restarted)
        self.read_back({**{EF_FOR_GROUP[g]: b for g, b in files.items()}, SECURITY_OBJECT: so_file})
        with self.step(Step.ACTIVATE):
            expect_ok(self.link, apdus.activate(), "ACTIVATE FILE")
        return PersonalisationResult(self.link.atr, chip_id(point), point, files, so_file, restarted,
                                     self.link.traffic, time.perf_counter() - started)

    def check_state(self) -> bool:
        """True when restarting a personalising card; CardNotBlankError unless blank."""
        with self.step(Step.SELECT):
            try:
                self.reader.select_application()
            except NotSscardError as exc:
                raise CardRefusedError(Step.SELECT, f"{exc}: is it an sscard blank?", SW.FILE_NOT_FOUND) from None
        with self.step(Step.CHECK_STATE):
            state = self.reader.lifecycle()
        if state is Lifecycle.BLANK:
            return False
        if state is Lifecycle.PERSONALISING and self.allow_restart:
            return True
        if state is Lifecycle.PERSONALISING:
            raise CardNotBlankError(state, "the card is personalising: an earlier personalisation stopped; "
                                           "restart it (allow_restart, ssc-card personalise --restart)")
        raise CardNotBlankError(state, f"the card is {state.name.lower()}; only a blank card is personalised")

    def chip_key(self, restarted: bool) -> tuple[bytes, bytes]:
        """The chip's public point and EF.DG5: made now, or (restart) the one the card has."""
        template = None
        if restarted and not self.new_chip_key:
            with self.step(Step.GENERATE_KEY):
                response = self.link.send(apdus.read_public_key())
                if response.sw == SW.OK:
                    template = response.data
                elif response.sw != SW.DATA_NOT_FOUND:  # 6A88: no key yet, make one
                    raise CardStatusError("GENERATE ASYMMETRIC KEY PAIR (read)", response.sw)
        if template is None:
            with self.step(Step.GENERATE_KEY):
                template = expect_ok(self.link, apdus.generate_key_pair(), "GENERATE ASYMMETRIC KEY PAIR")
        with self.step(Step.READ_CHIP_KEY, DG5):
            point = _point_of(template)
            dg5 = self.reader.read_file(DG5)
            if chip_key_point(DG5.unwrap(dg5)) != point:
                raise ReadBackMismatchError(Step.READ_CHIP_KEY, "EF.DG5 does not hold the key the card made", DG5)
        return point, dg5

    def write(self, step: Step, ef: ElementaryFile, raw: bytes, *, erase: bool) -> None:
        with self.step(step, ef):
            for command in write_commands(ef, raw, chunk=self.chunk, erase=erase):
                name = {0xA4: "SELECT", 0x0E: "ERASE BINARY", 0xD6: "UPDATE BINARY"}[command.ins]
                expect_ok(self.link, command, f"{name} {ef.name}")

    def read_back(self, expected: dict[ElementaryFile, bytes]) -> None:
        if any(ef.read is Read.PIN for ef in expected):
            with self.step(Step.VERIFY_PIN):
                try:
                    self.reader.verify_pin(self.pin)
                except (WrongPinError, PinBlockedError, ValueError) as exc:
                    raise CardRefusedError(Step.VERIFY_PIN, f"{exc} (is it the card's transport PIN?)") from exc
        for ef, raw in expected.items():
            with self.step(Step.READ_BACK, ef):
                if self.reader.read_to_end(ef) != raw:
                    raise ReadBackMismatchError(Step.READ_BACK, "the card holds other bytes than were written", ef)
        if any(ef.read is Read.PIN for ef in expected):
            with self.step(Step.READ_BACK, announce=False):
                self.reader.forget_pin()  # end the PIN's security status before locking


def _point_of(template: bytes) -> bytes:
    """The point 04||X||Y of a 7F49 { 86 } public key template (ISO/IEC 7816-8:2004 §5.1)."""
    outer = Tlv.decode(template)
    inner = outer.child(PUBLIC_POINT_TAG) if outer.tag == PUBLIC_KEY_TEMPLATE else None
    if inner is None or len(inner.value) != 65 or inner.value[0] != 0x04:
        raise FileFormatError(DG5, "the card's public key template holds no uncompressed P-256 point")
    return inner.value
