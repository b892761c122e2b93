"""The terminal's side of the chip (docs/spec.md §10.3), in JMRTD's layers.

- :class:`CardReader`, the file system reader over any :class:`CardLink`: select the
  application, read a file learning its length from the first bytes (BER-TLV header,
  ISO/IEC 7816-4:2005 §5.2.2) and reading the rest in blocks as large as the link allows,
  verify the PIN, and active authentication (INTERNAL AUTHENTICATE, §7.5.2).
- :func:`read_card`, the protocol: the security object and its verdict
  (:func:`crypto.verify_security_object`), passive authentication of each file read
  (`chip_data`), active authentication (`chip_genuine`); one :class:`ChipReadResult`.

The PIN goes only to a chip that has proved genuine: the groups behind it are read after
active authentication. A read that does not finish (card removed, no card, a transport
failure) gives a result with no verdict: the terminal asks for the card again and never
judges partial data. The result types and the chip reason codes are in
:mod:`firmware_tools.chip_result` (re-exported here).
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from crypto import TrustStore, verify_security_object
from crypto.chip import Group, SecurityObject, decode_group
from crypto.errors import SscError
from crypto.reasons import Reason
from crypto.verdict import CREDENTIAL_CHECKS, NOT_CHECKED, Check, CheckResult, Status, Verdict
from crypto.verify import DEFAULT_LEEWAY
from firmware_tools.card import apdus
from firmware_tools.card.profile import (SECURITY_OBJECT, SIGNATURE_SIZE, ElementaryFile, Lifecycle, Read,
                                         aa_message, chip_key_point, valid_pin)
from firmware_tools.card_io import EF_FOR_GROUP, CardStatusError, CountingLink, FileFormatError, chip_id, expect_ok
from firmware_tools.chip_result import MESSAGES, ChipReadResult, ChipReason, ReadStatus
from firmware_tools.iso7816.sw import SW
from firmware_tools.iso7816.tlv import TlvError, TlvTruncatedError, decode_header
from firmware_tools.link import (CardLink, CardRemovedError, LinkError, NoCardError, PcscUnavailableError,
                                 ReaderGoneError)

__all__ = ["CardReader", "ChipReadResult", "ChipReason", "MESSAGES", "NotSscardError", "PinBlockedError",
           "ReadStatus", "WrongPinError", "read_card", "verify_aa_signature"]

HEAD_BYTES = 0x20         # first read of a file: holds any header of this profile (at most 1 + 4 bytes)
SHORT_BLOCK = 0xFF        # short Le for the rest
EXTENDED_BLOCK = 0xFFFD   # extended Le: response + SW within one 65,535-byte vpcd frame
CHALLENGE_BYTES = 32      # INTERNAL AUTHENTICATE takes 8 to 64 (profile.CHALLENGE_LENGTHS)


class WrongPinError(Exception):
    """VERIFY failed; `tries_left` tries remain."""

    def __init__(self, tries_left: int):
        super().__init__(f"wrong PIN, {tries_left} tries left")
        self.tries_left = tries_left


class PinBlockedError(Exception):
    """The PIN is blocked (6983)."""


class NotSscardError(Exception):
    """The card has no sscard application (SELECT by AID answered 6A82)."""


class CardReader:
    """The file system of the sscard application on `link` (connected by the caller)."""

    def __init__(self, link: CardLink):
        self.link = link

    def select_application(self) -> None:
        """SELECT by AID; a terminated card answers 6285, which selects it too."""
        response = self.link.send(apdus.select_application())
        if response.sw == SW.FILE_NOT_FOUND:
            raise NotSscardError("no sscard application on this card")
        if response.sw not in (SW.OK, SW.FILE_TERMINATED):
            raise CardStatusError("SELECT the application", response.sw)

    def lifecycle(self) -> Lifecycle:
        """GET DATA 008A: the life cycle status byte."""
        data = expect_ok(self.link, apdus.get_lifecycle(), "GET DATA (life cycle)")
        if len(data) != 3 or data[:2] != b"\x8a\x01" or data[2] not in Lifecycle._value2member_map_:
            raise CardStatusError(f"GET DATA (life cycle) answered {data.hex()}", SW.OK)
        return Lifecycle(data[2])

    def _block(self) -> int:
        return EXTENDED_BLOCK if self.link.extended_length else SHORT_BLOCK

    def _read(self, ef: ElementaryFile, offset: int, ne: int, *, by_sfi: bool = False) -> tuple[bytes, bool]:
        """(data, the file ended) of one READ BINARY."""
        command = apdus.read_binary(offset, ne, ef=ef if by_sfi else None)
        response = self.link.send(command)
        if response.sw not in (SW.OK, SW.END_OF_FILE):
            raise CardStatusError(f"READ BINARY {ef.name} at {offset}", response.sw)
        return response.data, response.sw == SW.END_OF_FILE or len(response.data) < ne

    def read_file(self, ef: ElementaryFile) -> bytes:
        """The file's data object, TLV included (b"" for an empty file).

        The first READ BINARY (by short EF identifier, so no SELECT) asks for
        HEAD_BYTES; the header says how long the object is; the rest comes in blocks of
        SHORT_BLOCK, or EXTENDED_BLOCK when the link has extended length. Bytes after the
        object are not read. FileFormatError when the header is not a BER-TLV header of
        this file, claims more than the file may hold, or the file ends first.
        """
        head, ended = self._read(ef, 0, HEAD_BYTES, by_sfi=True)
        if not head:
            return b""
        try:
            tag, length, value_at = decode_header(head)
        except TlvTruncatedError:
            raise FileFormatError(ef, "the file ends inside its TLV header") from None
        except TlvError as exc:
            raise FileFormatError(ef, f"not a BER-TLV object ({exc})") from None
        if tag != ef.tag:
            raise FileFormatError(ef, f"starts with tag {tag:X}, expected {ef.tag:X}")
        total = value_at + length
        if total > ef.max_size:
            raise FileFormatError(ef, f"its header claims {total} bytes; the file holds {ef.max_size}")
        data, block = bytearray(head[:total]), self._block()
        while len(data) < total:
            if ended:
                raise FileFormatError(ef, f"the file ends after {len(data)} of the {total} bytes its header claims")
            chunk, ended = self._read(ef, len(data), min(block, total - len(data)))
            data += chunk
        return bytes(data)

    def read_to_end(self, ef: ElementaryFile) -> bytes:
        """Every byte of the file, whatever it holds: READ BINARY until the card says the
        file ends (6282). For checking what was written, not for reading untrusted cards."""
        data, block = bytearray(), self._block()
        chunk, ended = self._read(ef, 0, block, by_sfi=True)
        data += chunk
        while not ended and len(data) < ef.max_size:
            chunk, ended = self._read(ef, len(data), block)
            data += chunk
        return bytes(data)

    def verify_pin(self, pin: str) -> None:
        """VERIFY (ISO/IEC 7816-4:2005 §7.5.6); WrongPinError or PinBlockedError."""
        if not valid_pin(pin) or not pin.isdigit():
            raise ValueError("a PIN is 6 to 8 decimal digits")
        sw = self.link.send(apdus.verify(pin)).sw
        if sw == SW.OK:
            return
        if sw == SW.AUTH_METHOD_BLOCKED:
            raise PinBlockedError("the PIN is blocked")
        if sw & 0xFFF0 == 0x63C0:
            raise WrongPinError(sw & 0x0F)
        raise CardStatusError("VERIFY", sw)

    def forget_pin(self) -> None:
        expect_ok(self.link, apdus.forget_pin(), "VERIFY (forget)")

    def active_authenticate(self, public_point: bytes) -> bool:
        """Send a fresh random challenge to INTERNAL AUTHENTICATE; True when the answer is an
        ECDSA P-256/SHA-256 signature over profile.aa_message(challenge) by `public_point`."""
        challenge = os.urandom(CHALLENGE_BYTES)
        response = self.link.send(apdus.internal_authenticate(challenge))
        if response.sw != SW.OK:
            return False
        return verify_aa_signature(public_point, challenge, response.data)


def verify_aa_signature(public_point: bytes, challenge: bytes, signature: bytes) -> bool:
    """r || s (32 bytes each) over AA_CONTEXT || challenge, by the uncompressed P-256 point."""
    if len(signature) != SIGNATURE_SIZE:
        return False
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_point)
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        key.verify(der, aa_message(challenge), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def read_card(link: CardLink, groups: Iterable[Group], store: TrustStore, now: int, pin: str | None = None, *,
              leeway: int = DEFAULT_LEEWAY, revocation_max_age: int | None = None) -> ChipReadResult:
    """Read and verify a chip on `link` (connected by the caller), docs/spec.md §10.3.

    Reads EF.SO and verifies it; reads only the requested `groups` and DG5; passive
    authentication of every file read; active authentication. Never raises for anything the
    card does; ReaderGoneError and PcscUnavailableError (the terminal's hardware) propagate.
    """
    wanted = tuple(dict.fromkeys(Group(g) for g in groups if Group(g) is not Group.CHIP_KEY))
    counting = CountingLink(link)
    started = time.perf_counter()
    try:
        result = _read_card(CardReader(counting), wanted, store, now, pin, leeway, revocation_max_age)
    except CardRemovedError:
        result = ChipReadResult(ReadStatus.CARD_REMOVED)
    except NoCardError:
        result = ChipReadResult(ReadStatus.NO_CARD)
    except (ReaderGoneError, PcscUnavailableError):
        raise
    except LinkError:
        result = ChipReadResult(ReadStatus.READ_FAILED)
    except Exception as exc:  # noqa: BLE001 - fail closed: a bug is never a VALID
        result = _refused(Check.FORMAT, Reason.INTERNAL_ERROR, f"the chip read stopped: {type(exc).__name__}")
    message = result.message or MESSAGES.get(result.status, "")
    return ChipReadResult(result.status, result.verdict, result.groups, result.absent, result.security_object,
                          result.chip_id, message, result.tries_left, counting.traffic,
                          time.perf_counter() - started)


def _refused(check: Check, reason: enum.Enum, message: str) -> ChipReadResult:
    """An INVALID verdict without a security object: `check` failed, the rest not checked."""
    checks = [CheckResult(check, Status.FAILED, reason, message) if c is check else NOT_CHECKED[c]
              for c in (*CREDENTIAL_CHECKS, Check.CHIP_DATA, Check.CHIP_GENUINE)]
    return ChipReadResult(ReadStatus.COMPLETE, Verdict.from_checks(tuple(checks)), message=message)


def _read_card(reader: CardReader, wanted: tuple[Group, ...], store: TrustStore, now: int, pin: str | None,
               leeway: int, revocation_max_age: int | None) -> ChipReadResult:
    try:
        reader.select_application()
        state = reader.lifecycle()
    except NotSscardError:
        return ChipReadResult(ReadStatus.NOT_SSCARD)
    except CardStatusError as exc:
        return _refused(Check.CHIP_DATA, ChipReason.CHIP_FILE_MALFORMED, f"the card does not follow the profile: {exc}")
    if state is Lifecycle.TERMINATED:
        return _refused(Check.CHIP_DATA, ChipReason.CHIP_TERMINATED, "the card is terminated (cancelled)")
    if state is not Lifecycle.ISSUED:
        return _refused(Check.CHIP_DATA, ChipReason.CHIP_NOT_ISSUED,
                        f"the card is {state.name.lower()}: its personalisation was not finished")
    if any(EF_FOR_GROUP[g].read is Read.PIN for g in wanted):
        if pin is None:
            return ChipReadResult(ReadStatus.PIN_REQUIRED)
        if not valid_pin(pin) or not pin.isdigit():
            return ChipReadResult(ReadStatus.PIN_WRONG, message="a PIN is 6 to 8 digits")

    try:
        cose = SECURITY_OBJECT.unwrap(reader.read_file(SECURITY_OBJECT))
    except (FileFormatError, TlvError, CardStatusError) as exc:
        return _refused(Check.FORMAT, ChipReason.CHIP_FILE_MALFORMED, f"EF.SO cannot be read: {exc}")
    verdict = verify_security_object(cose, store, now=now, leeway=leeway, revocation_max_age=revocation_max_age)
    so = verdict.claims
    if not isinstance(so, SecurityObject):  # the digests cannot be trusted: nothing more to check
        return ChipReadResult(ReadStatus.COMPLETE, verdict.with_checks(NOT_CHECKED[Check.CHIP_DATA],
                                                                        NOT_CHECKED[Check.CHIP_GENUINE]))
    return _authenticate(reader, wanted, pin, so, verdict)


class _ChipDataFailed(Exception):
    def __init__(self, reason: ChipReason, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


def _authenticate(reader: CardReader, wanted: tuple[Group, ...], pin: str | None, so: SecurityObject,
                  verdict: Verdict) -> ChipReadResult:
    """Passive authentication of the groups anyone may read and of DG5, active
    authentication, and only then - the chip has proved it is the one issued - VERIFY and
    the groups behind the PIN: a copied or fake card never receives the holder's PIN."""
    decoded: dict[Group, object] = {}
    absent: list[Group] = []
    protected = tuple(g for g in wanted if EF_FOR_GROUP[g].read is Read.PIN)
    try:
        for group in wanted:
            if group not in protected:
                _passive(reader, so, group, decoded, absent)
        point = _passive(reader, so, Group.CHIP_KEY, decoded, absent)
    except _ChipDataFailed as failed:
        return _chip_data_failed(verdict, so, failed.reason, failed.message)
    if not reader.active_authenticate(point):
        genuine = CheckResult(Check.CHIP_GENUINE, Status.FAILED, ChipReason.CHIP_NOT_GENUINE,
                              "the chip did not prove it holds the key of EF.DG5: a copied or altered card")
        return ChipReadResult(ReadStatus.COMPLETE,
                              verdict.with_checks(CheckResult(Check.CHIP_DATA, Status.PASSED), genuine),
                              security_object=so, chip_id=chip_id(point), message=genuine.message)
    if protected:
        try:
            reader.verify_pin(pin)
            for group in protected:
                _passive(reader, so, group, decoded, absent)
            reader.forget_pin()  # the PIN's security status ends with this read
        except WrongPinError as exc:
            return ChipReadResult(ReadStatus.PIN_WRONG, tries_left=exc.tries_left,
                                  message=f"wrong PIN, {exc.tries_left} tries left")
        except PinBlockedError:
            return ChipReadResult(ReadStatus.PIN_BLOCKED, tries_left=0)
        except _ChipDataFailed as failed:
            return _chip_data_failed(verdict, so, failed.reason, failed.message)
    checks = (CheckResult(Check.CHIP_DATA, Status.PASSED), CheckResult(Check.CHIP_GENUINE, Status.PASSED))
    ordered = {g: decoded[g] for g in wanted if g in decoded}
    return ChipReadResult(ReadStatus.COMPLETE, verdict.with_checks(*checks), ordered,
                          tuple(g for g in wanted if g in absent), so, chip_id(point))


def _passive(reader: CardReader, so: SecurityObject, group: Group, decoded: dict[Group, object],
             absent: list[Group]) -> bytes | None:
    """Read one group's file and check it against its digest (docs/spec.md §10.3 step 2);
    decode it into `decoded` (or note it in `absent`). Returns DG5's point for CHIP_KEY."""
    ef = EF_FOR_GROUP[group]
    try:
        raw = reader.read_file(ef)
    except (FileFormatError, CardStatusError) as exc:
        raise _ChipDataFailed(ChipReason.CHIP_FILE_MALFORMED, str(exc)) from None
    if not raw and int(group) not in so.digests and group is not Group.CHIP_KEY:
        absent.append(group)
        return None
    if not so.digest_matches(group, raw):
        why = "has no digest in the security object" if int(group) not in so.digests else \
            "does not match its digest in the security object"
        raise _ChipDataFailed(ChipReason.CHIP_DIGEST_MISMATCH, f"{ef.name} {why}")
    try:
        payload = ef.unwrap(raw)
        if group is Group.CHIP_KEY:
            return chip_key_point(payload)
        decoded[group] = _checked_item(group, decode_group(group, payload))
    except (TlvError, SscError, ValueError) as exc:
        raise _ChipDataFailed(ChipReason.CHIP_FILE_MALFORMED, f"{ef.name}: {exc}") from None
    return None


def _chip_data_failed(verdict: Verdict, so: SecurityObject, reason: ChipReason, message: str) -> ChipReadResult:
    failed = CheckResult(Check.CHIP_DATA, Status.FAILED, reason, message)
    return ChipReadResult(ReadStatus.COMPLETE, verdict.with_checks(failed, NOT_CHECKED[Check.CHIP_GENUINE]),
                          security_object=so, message=message)


# docs/spec.md §10.1: the top-level shape of each group's CBOR item.
_SHAPES: dict[Group, tuple[type, frozenset[int] | None]] = {
    Group.CARD_INFO: (dict, frozenset({0, 6})),
    Group.HOLDER: (dict, frozenset({2, 3})),
    Group.PHOTO: (bytes, None),
    Group.PERMIT: (dict, frozenset({4})),
    Group.INSURANCE: (dict, frozenset({5})),
}


def _checked_item(group: Group, item: object) -> object:
    kind, keys = _SHAPES[group]
    if not isinstance(item, kind) or (keys is not None and set(item) != keys):
        raise ValueError(f"group {group.name} is not {kind.__name__}" + (f" with keys {sorted(keys)}" if keys else ""))
    return item
