"""PC/SC card link over pyscard (pcsc-lite's ``SCard*`` API).

``PcscLink`` is the :class:`~firmware_tools.link.CardLink` for a real reader, or for the
reference card attached to pcscd through vpcd (firmware_tools.vpcd). It uses pyscard's
low-level ``smartcard.scard`` module so that every PC/SC return code can be mapped to a
typed error (the table is in docs/pcsc.md):

- SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED: PcscUnavailableError (pcscd not running)
- SCARD_E_UNKNOWN_READER, _READER_UNAVAILABLE, _NO_READERS_AVAILABLE: ReaderGoneError
- SCARD_E_NO_SMARTCARD, SCARD_W_UNPOWERED_CARD: NoCardError
- SCARD_W_REMOVED_CARD, SCARD_W_RESET_CARD: CardRemovedError (the session is lost)
- a failed transaction (SCARD_E_NOT_TRANSACTED...): CardRemovedError if pcscd reports the
  slot empty within ``removal_grace`` seconds, else LinkError
- anything else: LinkError

``transmit`` follows ISO/IEC 7816-4:2005 §5.1.3 and §7.6.1 (and ISO/IEC 7816-3 §12.2
case 2/4 over T=0): on SW 61xx it sends GET RESPONSE until the card has nothing more and
returns the joined data with the last status word; on 6Cxx it sends the same command again
once, with Le = xx.
"""

from __future__ import annotations

import time

from smartcard import scard

from firmware_tools.iso7816.apdu import ApduError, CommandApdu
from firmware_tools.link import (CardLink, CardRemovedError, LinkError, NoCardError,
                                 PcscUnavailableError, ReaderGoneError,
                                 extended_length_from_atr)

_PROTOCOLS = {
    "any": scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
    "T0": scard.SCARD_PROTOCOL_T0,
    "T1": scard.SCARD_PROTOCOL_T1,
}
_DISPOSITIONS = {
    "leave": scard.SCARD_LEAVE_CARD,
    "reset": scard.SCARD_RESET_CARD,
    "unpower": scard.SCARD_UNPOWER_CARD,
}
_ERROR_CLASSES: dict[int, type[LinkError]] = {
    scard.SCARD_E_NO_SERVICE: PcscUnavailableError,
    scard.SCARD_E_SERVICE_STOPPED: PcscUnavailableError,
    scard.SCARD_E_UNKNOWN_READER: ReaderGoneError,
    scard.SCARD_E_READER_UNAVAILABLE: ReaderGoneError,
    scard.SCARD_E_NO_READERS_AVAILABLE: ReaderGoneError,
    scard.SCARD_E_NO_SMARTCARD: NoCardError,
    scard.SCARD_W_UNPOWERED_CARD: NoCardError,
    scard.SCARD_W_REMOVED_CARD: CardRemovedError,
    scard.SCARD_W_RESET_CARD: CardRemovedError,
}
_ERRORS = {code & 0xFFFFFFFF: error for code, error in _ERROR_CLASSES.items()}
# Failures of the I/O with the card itself: a removal mid-command looks like these.
_TRANSPORT_FAILURES = {code & 0xFFFFFFFF for code in (
    scard.SCARD_E_NOT_TRANSACTED, scard.SCARD_F_COMM_ERROR, scard.SCARD_E_COMM_DATA_LOST,
    scard.SCARD_F_UNKNOWN_ERROR, scard.SCARD_W_UNRESPONSIVE_CARD)}
GET_RESPONSE_INS = 0xC0
MAX_GET_RESPONSE_ROUNDS = 512  # 512 x 256 bytes: far more than any file of this card


def _hresult_u32(hresult: int) -> int:
    return hresult & 0xFFFFFFFF


def pcsc_error(hresult: int, doing: str) -> LinkError:
    """The typed error for a PC/SC return code."""
    code = _hresult_u32(hresult)
    cls = _ERRORS.get(code, LinkError)
    return cls(f"{doing}: {scard.SCardGetErrorMessage(hresult)} (0x{code:08X})")


def _check(hresult: int, doing: str) -> None:
    if hresult != scard.SCARD_S_SUCCESS:
        raise pcsc_error(hresult, doing)


def establish_context() -> int:
    """A PC/SC context; PcscUnavailableError when pcscd is not running."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    _check(hresult, "establishing a PC/SC context")
    return context


def list_readers() -> list[str]:
    """Names of the readers pcscd knows (empty list when there are none)."""
    context = establish_context()
    try:
        hresult, readers = scard.SCardListReaders(context, [])
        if _hresult_u32(hresult) == _hresult_u32(scard.SCARD_E_NO_READERS_AVAILABLE):
            return []
        _check(hresult, "listing readers")
        return list(readers)
    finally:
        scard.SCardReleaseContext(context)


class PcscLink(CardLink):
    """A card in a PC/SC reader.

    ``reader``: a reader name (exact, or a unique prefix); None takes the first reader
    with a card. ``protocol``: "any", "T0" or "T1". ``extended_length``: True/False to
    state it, None to read it from the ATR's card capabilities. ``disposition``: what
    ``disconnect`` does to the card ("leave", "reset", "unpower"). ``removal_grace``:
    seconds to wait, after a failed transaction, for pcscd to report a removal.
    """

    def __init__(self, reader: str | None = None, *, protocol: str = "any",
                 extended_length: bool | None = None, disposition: str = "leave",
                 exclusive: bool = False, removal_grace: float = 1.0) -> None:
        if protocol not in _PROTOCOLS:
            raise ValueError(f"protocol must be one of {sorted(_PROTOCOLS)}")
        if disposition not in _DISPOSITIONS:
            raise ValueError(f"disposition must be one of {sorted(_DISPOSITIONS)}")
        self.reader = reader
        self.protocol = protocol
        self.disposition = disposition
        self.exclusive = exclusive
        self.removal_grace = removal_grace
        self._extended_setting = extended_length
        self._context: int | None = None
        self._card: int | None = None
        self._active_protocol = 0
        self._atr = b""

    # -- CardLink -------------------------------------------------------------------

    @property
    def atr(self) -> bytes:
        return self._atr

    @property
    def extended_length(self) -> bool:
        if self._extended_setting is not None:
            return self._extended_setting
        return extended_length_from_atr(self._atr)

    @property
    def active_protocol(self) -> str:
        """"T=0" or "T=1" while connected, "" otherwise."""
        return {scard.SCARD_PROTOCOL_T0: "T=0", scard.SCARD_PROTOCOL_T1: "T=1"}.get(
            self._active_protocol, "")

    def connect(self) -> None:
        """Connect to the card in the reader; NoCardError when the slot is empty."""
        self.disconnect()
        context = self._ensure_context()
        name = self._resolve_reader(context)
        share = scard.SCARD_SHARE_EXCLUSIVE if self.exclusive else scard.SCARD_SHARE_SHARED
        hresult, card, active = scard.SCardConnect(context, name, share,
                                                   _PROTOCOLS[self.protocol])
        _check(hresult, f"connecting to the card in {name!r}")
        self.reader, self._card, self._active_protocol = name, card, active
        self._read_status()

    def disconnect(self) -> None:
        """Release the card (per ``disposition``) and the PC/SC context; idempotent."""
        if self._card is not None:
            scard.SCardDisconnect(self._card, _DISPOSITIONS[self.disposition])
            self._card = None
        if self._context is not None:
            scard.SCardReleaseContext(self._context)
            self._context = None
        self._active_protocol = 0

    def transmit(self, apdu: bytes) -> bytes:
        """Send a command APDU; the response data + SW, after 61xx/6Cxx handling."""
        if len(apdu) < 4:
            raise ValueError(f"a command APDU has at least 4 bytes, got {len(apdu)}")
        response = self._transmit_raw(apdu)
        if response[-2] == 0x6C:
            response = self._transmit_raw(_with_le(apdu, response[-1] or 256))
        data = bytearray()
        rounds = 0
        while response[-2] == 0x61:
            rounds += 1
            if rounds > MAX_GET_RESPONSE_ROUNDS:
                raise LinkError("card keeps answering 61xx: GET RESPONSE loop stopped")
            data += response[:-2]
            cla = apdu[0] & ~0x10 & 0xFF  # same class, without the chaining bit
            response = self._transmit_raw(bytes([cla, GET_RESPONSE_INS, 0, 0,
                                                 response[-1]]))
        return bytes(data) + response

    def wait_for_card(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a card in the reader (any reader when the
        link names none); True when one is present. Does not connect."""
        context = self._ensure_context()
        names = [self._resolve_reader(context, need_card=False)] if self.reader else \
            self._list(context)
        if not names:
            raise ReaderGoneError("no PC/SC reader is connected")
        states = [(name, scard.SCARD_STATE_UNAWARE) for name in names]
        deadline = time.monotonic() + max(timeout, 0.0)
        wait_ms = 0
        while True:
            hresult, states = scard.SCardGetStatusChange(context, wait_ms, states)
            if hresult == scard.SCARD_S_SUCCESS:
                for name, event, _atr in states:
                    if event & scard.SCARD_STATE_UNKNOWN:
                        raise ReaderGoneError(f"reader {name!r} is gone")
                    if event & scard.SCARD_STATE_PRESENT and not event & scard.SCARD_STATE_MUTE:
                        if self.reader is None:
                            self.reader = name
                        return True
                states = [(n, e & ~scard.SCARD_STATE_CHANGED) for n, e, _ in states]
            elif _hresult_u32(hresult) != _hresult_u32(scard.SCARD_E_TIMEOUT):
                raise pcsc_error(hresult, "waiting for a card")
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            wait_ms = max(1, int(left * 1000))

    # -- beyond CardLink --------------------------------------------------------------

    def reset(self, *, cold: bool = False) -> bytes:
        """Warm reset (or, with ``cold``, power the card off and on); the new ATR."""
        if self._card is None:
            raise NoCardError("not connected to a card")
        action = scard.SCARD_UNPOWER_CARD if cold else scard.SCARD_RESET_CARD
        share = scard.SCARD_SHARE_EXCLUSIVE if self.exclusive else scard.SCARD_SHARE_SHARED
        hresult, active = scard.SCardReconnect(self._card, share, _PROTOCOLS[self.protocol],
                                               action)
        _check(hresult, "resetting the card")
        self._active_protocol = active
        self._read_status()
        return self._atr

    def __enter__(self) -> PcscLink:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()

    # -- internals --------------------------------------------------------------------

    def _ensure_context(self) -> int:
        if self._context is None:
            self._context = establish_context()
        return self._context

    @staticmethod
    def _list(context: int) -> list[str]:
        hresult, readers = scard.SCardListReaders(context, [])
        if _hresult_u32(hresult) == _hresult_u32(scard.SCARD_E_NO_READERS_AVAILABLE):
            return []
        _check(hresult, "listing readers")
        return list(readers)

    def _resolve_reader(self, context: int, *, need_card: bool = True) -> str:
        readers = self._list(context)
        if not readers:
            raise ReaderGoneError("no PC/SC reader is connected")
        if self.reader is None:
            if not need_card:
                return readers[0]
            _, states = scard.SCardGetStatusChange(
                context, 0, [(r, scard.SCARD_STATE_UNAWARE) for r in readers])
            for name, event, _atr in states:
                if event & scard.SCARD_STATE_PRESENT:
                    return name
            raise NoCardError(f"no card in any reader ({', '.join(readers)})")
        if self.reader in readers:
            return self.reader
        matches = [r for r in readers if r.startswith(self.reader)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise ReaderGoneError(f"reader {self.reader!r} matches several: {', '.join(matches)}")
        raise ReaderGoneError(f"reader {self.reader!r} not found (have: {', '.join(readers)})")

    def _read_status(self) -> None:
        hresult, _name, _state, _protocol, atr = scard.SCardStatus(self._card)
        _check(hresult, "reading the card status")
        self._atr = bytes(atr)

    def _transmit_raw(self, apdu: bytes) -> bytes:
        if self._card is None:
            raise NoCardError("not connected to a card: call connect() first")
        pci = scard.SCARD_PCI_T0 if self._active_protocol == scard.SCARD_PROTOCOL_T0 \
            else scard.SCARD_PCI_T1
        hresult, response = scard.SCardTransmit(self._card, pci, list(apdu))
        if hresult != scard.SCARD_S_SUCCESS:
            error = pcsc_error(hresult, "transmitting an APDU")
            raise self._classify(error) if _hresult_u32(hresult) in _TRANSPORT_FAILURES \
                else error
        if len(response) < 2:
            raise self._classify(LinkError(f"response of {len(response)} bytes has no SW"))
        return bytes(response)

    def _classify(self, error: LinkError) -> LinkError:
        """A transport failure is a removal if the reader turns up empty soon after.

        pcscd learns of a removal from the driver's presence poll (every 400 ms for vpcd
        and serial readers), so a card pulled during a command first shows as a failed
        transaction; waiting up to ``removal_grace`` seconds tells the two apart.
        """
        context, name = self._context, self.reader
        if context is None or name is None:
            return error
        states = [(name, scard.SCARD_STATE_UNAWARE)]
        deadline = time.monotonic() + self.removal_grace
        wait_ms = 0
        while True:
            hresult, states = scard.SCardGetStatusChange(context, wait_ms, states)
            if hresult == scard.SCARD_S_SUCCESS:
                event = states[0][1]
                if not event & scard.SCARD_STATE_PRESENT:
                    if self._card is not None:
                        scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
                        self._card = None
                    return CardRemovedError(f"{error}; the card has left {name!r}")
                states = [(n, e & ~scard.SCARD_STATE_CHANGED) for n, e, _ in states]
            elif _hresult_u32(hresult) != _hresult_u32(scard.SCARD_E_TIMEOUT):
                return error
            left = deadline - time.monotonic()
            if left <= 0:
                return error
            wait_ms = max(1, int(left * 1000))


def _with_le(apdu: bytes, le: int) -> bytes:
    """The same command with Le = ``le`` (6Cxx handling, ISO/IEC 7816-3 §12.2.2)."""
    try:
        command = CommandApdu.decode(apdu)
    except ApduError as exc:
        raise LinkError(f"card asked for another Le, but the command is malformed: {exc}") \
            from exc
    return CommandApdu(command.cla, command.ins, command.p1, command.p2, command.data,
                       ne=le, extended=command.extended).encode()
