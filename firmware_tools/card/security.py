"""Reference card: the PIN, the unblocking code, and the chip key.

PIN handling follows ISO/IEC 7816-4:2005 §7.5.6 (VERIFY), §7.5.7 (CHANGE REFERENCE DATA)
and §7.5.10 (RESET RETRY COUNTER). As in a real chip, the try counter is decremented and
saved *before* the comparison and restored after a match, so pulling the card during
a wrong guess never gives the guess back.

The chip key follows ISO/IEC 7816-8:2004 §5.1 (GENERATE ASYMMETRIC KEY PAIR) and
ISO/IEC 7816-4:2005 §7.5.2 (INTERNAL AUTHENTICATE); the signed message is
:func:`firmware_tools.card.profile.aa_message`.
"""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from firmware_tools.card.profile import (CHALLENGE_LENGTHS, DG5, PIN_BLOCK_SIZE, PIN_REFERENCE,
                                         PIN_TRIES, PUBLIC_KEY_TEMPLATE, PUBLIC_POINT_TAG, PUK_TRIES,
                                         Lifecycle, aa_message, chip_key_payload, parse_pin_block,
                                         valid_pin, valid_puk)
from firmware_tools.card.session import (CardState, CommandError, Handler, Reply, expect_data_length,
                                         expect_no_data, expect_p1p2)
from firmware_tools.iso7816.apdu import CommandApdu
from firmware_tools.iso7816.sw import SW, counter
from firmware_tools.iso7816.tlv import Tlv

_X962, _UNCOMPRESSED = Encoding.X962, PublicFormat.UncompressedPoint


def _expect_pin_reference(command: CommandApdu, *p1_values: int) -> None:
    if command.p2 != PIN_REFERENCE:
        raise CommandError(SW.DATA_NOT_FOUND)
    if command.p1 not in p1_values:
        raise CommandError(SW.WRONG_P1P2)


def _pin_from(block: bytes) -> str:
    pin = parse_pin_block(block)
    if not valid_pin(pin):
        raise CommandError(SW.WRONG_DATA)
    return pin


def _check_pin(card: CardState, pin: str) -> None:
    """Compare with the PIN; on a mismatch raise 63Cx. The caller checked it is not blocked."""
    image = card.image
    image.pin_tries -= 1
    card.save()
    if not hmac.compare_digest(pin.encode(), image.pin.encode()):
        card.session.pin_verified = False
        raise CommandError(counter(image.pin_tries))
    image.pin_tries = PIN_TRIES
    card.save()
    card.session.pin_verified = True


def verify(card: CardState, command: CommandApdu) -> Reply:
    """P1 00: verify (no data: tell the status); P1 FF: forget the verification."""
    _expect_pin_reference(command, 0x00, 0xFF)
    if command.p1 == 0xFF:
        expect_no_data(command)
        card.session.pin_verified = False
        return Reply()
    if not command.data:
        if card.image.pin_tries == 0:
            raise CommandError(SW.AUTH_METHOD_BLOCKED)
        return Reply(b"", SW.OK if card.session.pin_verified else counter(card.image.pin_tries))
    expect_data_length(command, PIN_BLOCK_SIZE)
    pin = _pin_from(command.data)
    if card.image.pin_tries == 0:
        raise CommandError(SW.AUTH_METHOD_BLOCKED)
    _check_pin(card, pin)
    return Reply()


def change_reference_data(card: CardState, command: CommandApdu) -> Reply:
    """P1 00: current PIN block || new PIN block."""
    _expect_pin_reference(command, 0x00)
    expect_data_length(command, 2 * PIN_BLOCK_SIZE)
    old, new = _pin_from(command.data[:PIN_BLOCK_SIZE]), _pin_from(command.data[PIN_BLOCK_SIZE:])
    if card.image.pin_tries == 0:
        raise CommandError(SW.AUTH_METHOD_BLOCKED)
    _check_pin(card, old)
    card.image.pin = new
    card.save()
    return Reply()


def reset_retry_counter(card: CardState, command: CommandApdu) -> Reply:
    """P1 00: unblocking code || new PIN block; P1 01: unblocking code only."""
    _expect_pin_reference(command, 0x00, 0x01)
    expect_data_length(command, 2 * PIN_BLOCK_SIZE if command.p1 == 0x00 else PIN_BLOCK_SIZE)
    puk = parse_pin_block(command.data[:PIN_BLOCK_SIZE])
    new = _pin_from(command.data[PIN_BLOCK_SIZE:]) if command.p1 == 0x00 else None
    if not valid_puk(puk):
        raise CommandError(SW.WRONG_DATA)
    image = card.image
    if image.puk_tries == 0:
        raise CommandError(SW.AUTH_METHOD_BLOCKED)
    image.puk_tries -= 1
    card.save()
    if not hmac.compare_digest(puk.encode(), image.puk.encode()):
        raise CommandError(counter(image.puk_tries))
    image.puk_tries, image.pin_tries = PUK_TRIES, PIN_TRIES
    if new is not None:
        image.pin = new
    card.save()
    return Reply()


def _private_key(card: CardState) -> ec.EllipticCurvePrivateKey:
    scalar = card.image.private_key
    if scalar is None:
        raise CommandError(SW.DATA_NOT_FOUND)
    return ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())


def _public_key_template(key: ec.EllipticCurvePrivateKey) -> bytes:
    point = key.public_key().public_bytes(_X962, _UNCOMPRESSED)
    return Tlv.of(PUBLIC_KEY_TEMPLATE, [Tlv(PUBLIC_POINT_TAG, point)]).encode()


def generate_key_pair(card: CardState, command: CommandApdu) -> Reply:
    """P1 80: make a P-256 key in the card, write DG5; P1 81: return the public key."""
    if command.p2 != 0x00 or command.p1 not in (0x80, 0x81):
        raise CommandError(SW.WRONG_P1P2)
    expect_no_data(command)
    if command.p1 == 0x81:
        return Reply(_public_key_template(_private_key(card)))
    if card.image.lifecycle is not Lifecycle.PERSONALISING:
        raise CommandError(SW.CONDITIONS_NOT_SATISFIED)
    key = ec.generate_private_key(ec.SECP256R1())
    card.image.private_key = key.private_numbers().private_value.to_bytes(32, "big")
    point = key.public_key().public_bytes(_X962, _UNCOMPRESSED)
    card.image.files[DG5.fid] = DG5.wrap(chip_key_payload(point))
    card.save()
    return Reply(_public_key_template(key))


def internal_authenticate(card: CardState, command: CommandApdu) -> Reply:
    """Sign AA_CONTEXT || challenge with ECDSA P-256 / SHA-256; reply r || s."""
    expect_p1p2(command)
    if len(command.data) not in CHALLENGE_LENGTHS:
        raise CommandError(SW.WRONG_LENGTH)
    key = _private_key(card)
    r, s = decode_dss_signature(key.sign(aa_message(command.data), ec.ECDSA(hashes.SHA256())))
    return Reply(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


HANDLERS: dict[str, Handler] = {
    "VERIFY": verify,
    "CHANGE REFERENCE DATA": change_reference_data,
    "RESET RETRY COUNTER": reset_retry_counter,
    "GENERATE ASYMMETRIC KEY PAIR": generate_key_pair,
    "INTERNAL AUTHENTICATE": internal_authenticate,
}
