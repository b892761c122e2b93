"""Example sessions with the reference card: shown in docs/card.md, replayed by the tests.

Each :class:`Trace` starts from an example image (:func:`example_image`) and lists its
commands with the status word the card must answer, so the documentation cannot show a
trace the card does not produce. The payloads are illustrative CBOR, not the credential
schema of docs/spec.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from crypto import cbor
from firmware_tools.card import apdus
from firmware_tools.card.image import CardImage
from firmware_tools.card.profile import (BY_HEADER, CARD_INFO, DG1, DG4, DG5, SECURITY_OBJECT, ElementaryFile,
                                         Lifecycle, chip_key_payload)
from firmware_tools.iso7816.apdu import CommandApdu, ResponseApdu

EXAMPLE_PIN, EXAMPLE_PUK = "123456", "12345678"
# A fixed key so the traces are reproducible. Never a real card's key.
EXAMPLE_KEY_SCALAR = hashlib.sha256(b"sscard example chip key (documentation only)").digest()

EXAMPLE_PAYLOADS: dict[ElementaryFile, bytes] = {
    CARD_INFO: cbor.dumps({1: "SSC2024000123", 2: 1, 3: 1, 4: 20060, 5: 23712, 6: "110000"}),
    DG1: cbor.dumps({1: "DOE", 2: "JANE", 4: "GBR", 5: 6647, 6: 2}),
    DG4: cbor.dumps({1: [1, 19724, 649], 2: [1, 19724, 649], 3: [1, 19724], 4: [1, 19724, 649], 5: [1, 19724]}),
    SECURITY_OBJECT: bytes.fromhex("d28443a10126a0f640"),  # an empty COSE_Sign1 shape
}


def example_public_point() -> bytes:
    key = ec.derive_private_key(int.from_bytes(EXAMPLE_KEY_SCALAR, "big"), ec.SECP256R1())
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def example_image(state: Lifecycle = Lifecycle.ISSUED) -> CardImage:
    """A card in `state`: blank has nothing; the others have every example file and the key."""
    image = CardImage(lifecycle=state, pin=EXAMPLE_PIN, puk=EXAMPLE_PUK)
    if state is not Lifecycle.BLANK:
        image.files = {ef.fid: ef.wrap(payload) for ef, payload in EXAMPLE_PAYLOADS.items()}
        image.files[DG5.fid] = DG5.wrap(chip_key_payload(example_public_point()))
        image.private_key = EXAMPLE_KEY_SCALAR
    return image


def example_file(ef: ElementaryFile) -> bytes:
    return example_image().files[ef.fid]


@dataclass(frozen=True)
class Step:
    label: str
    command: CommandApdu
    sw: int
    random: bool = False  # the response data is random: shown as <n bytes>


@dataclass(frozen=True)
class Trace:
    title: str
    start: Lifecycle
    steps: tuple[Step, ...]


def _writes(ef: ElementaryFile) -> list[Step]:
    """The encoder's SELECT, ERASE BINARY, UPDATE BINARY... for one file, all answered 9000."""
    script = apdus.write_file(ef, example_file(ef))
    return [Step(f"{BY_HEADER[(c.cla, c.ins)].name} {ef.name}", c, 0x9000) for c in script]


_CARD_INFO_SIZE = len(example_file(CARD_INFO))
_CHALLENGE = bytes.fromhex("1f8e2a6b0c9d47e3b5a01c22d9f46e71")

TRACES: tuple[Trace, ...] = (
    Trace("A terminal reads an issued card", Lifecycle.ISSUED, (
        Step("SELECT the application, no FCI", apdus.select_application(), 0x9000),
        Step("READ BINARY EF.CardInfo by SFI: the first 8 bytes", apdus.read_binary(0, 8, ef=CARD_INFO), 0x9000),
        Step("READ BINARY the rest (size from the TLV header)",
             apdus.read_binary(8, _CARD_INFO_SIZE - 8), 0x9000),
        Step("READ BINARY EF.DG4 before the PIN", apdus.read_binary(0, ef=DG4), 0x6982),
        Step("VERIFY without data: tries left", apdus.verify_status(), 0x63C3),
        Step("VERIFY the PIN", apdus.verify(EXAMPLE_PIN), 0x9000),
        Step("READ BINARY EF.DG4, Le 00: the file ends first", apdus.read_binary(0, ef=DG4), 0x6282),
        Step("INTERNAL AUTHENTICATE a 16-byte challenge", apdus.internal_authenticate(_CHALLENGE), 0x9000, True),
        Step("UPDATE BINARY on an issued card", apdus.update_binary(0, b"\x00"), 0x6985),
    )),
    Trace("Personalisation at the issuance centre", Lifecycle.BLANK, (
        Step("SELECT the application", apdus.select_application(), 0x9000),
        Step("START PERSONALISATION", apdus.start_personalisation(), 0x9000),
        *_writes(CARD_INFO),
        *_writes(DG1),
        Step("GENERATE ASYMMETRIC KEY PAIR: the card writes EF.DG5", apdus.generate_key_pair(), 0x9000, True),
        Step("ACTIVATE FILE before the security object is written", apdus.activate(), 0x6985),
        *_writes(SECURITY_OBJECT),
        Step("ACTIVATE FILE: the card is issued", apdus.activate(), 0x9000),
        Step("GET DATA life cycle status: 05 issued", apdus.get_lifecycle(), 0x9000),
    )),
    Trace("PIN blocked, then unblocked", Lifecycle.ISSUED, (
        Step("SELECT the application", apdus.select_application(), 0x9000),
        Step("VERIFY a wrong PIN", apdus.verify("000000"), 0x63C2),
        Step("VERIFY a wrong PIN", apdus.verify("000000"), 0x63C1),
        Step("VERIFY a wrong PIN", apdus.verify("000000"), 0x63C0),
        Step("VERIFY the right PIN, too late", apdus.verify(EXAMPLE_PIN), 0x6983),
        Step("RESET RETRY COUNTER with the unblocking code and a new PIN",
             apdus.unblock_pin(EXAMPLE_PUK, "654321"), 0x9000),
        Step("VERIFY the new PIN", apdus.verify("654321"), 0x9000),
    )),
    Trace("A response longer than Le", Lifecycle.ISSUED, (
        Step("GET DATA card info with Le = 16", apdus.get_data(CARD_INFO.tag, ne=16), 0x6100 | (_CARD_INFO_SIZE - 16)),
        Step("GET RESPONSE", apdus.get_response(), 0x9000),
    )),
)


def run_trace(trace: Trace) -> list[tuple[str, str, str]]:
    """(command, label, response) as text; AssertionError when the card answers otherwise."""
    from firmware_tools.card.emulator import ReferenceCard  # the emulator imports this package

    card = ReferenceCard(example_image(trace.start))
    card.power_on()
    shown = []
    for step in trace.steps:
        response = ResponseApdu.decode(card.process_apdu(step.command.encode()))
        if response.sw != step.sw:
            raise AssertionError(f"{trace.title}: {step.label}: card answered {response.sw:04X}, "
                                 f"the trace says {step.sw:04X}")
        text = f"<{len(response.data)} bytes> {response.sw:04X}" if step.random and response.data else str(response)
        shown.append((str(step.command), step.label, text))
    return shown
