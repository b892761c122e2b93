"""Faults the reference card can inject, so readers and the encoder are tested against a
card that misbehaves the way real ones do."""

from __future__ import annotations

from dataclasses import dataclass, field


class CardRemoved(Exception):
    """The card left the reader (an injected fault): this APDU gets no response.

    :meth:`ReferenceCard.process_apdu` raises it only when a :class:`FaultPlan` asks for a
    removal (`remove_after`) or a tear (`tear_update`); a transport turns it into a
    removal (the vpcd bridge closes its socket, :class:`EmulatorLink` raises
    :class:`~firmware_tools.link.CardRemovedError`). Without a fault plan it is never raised.
    """


def _doc(default: object, text: str) -> object:
    return field(default=default, metadata={"doc": text})


@dataclass(frozen=True)
class FaultPlan:
    """What goes wrong, and when. Counts are over the card object's life and fire once."""

    remove_after: int | None = _doc(None, "answer this many APDUs, then leave the reader: "
                                          "the next APDU raises CardRemoved")
    tear_update: int | None = _doc(None, "the n-th UPDATE BINARY (1-based) loses power mid-write: "
                                         "`tear_keep` of its data bytes are saved, then CardRemoved")
    tear_keep: int = _doc(0, "data bytes of the torn UPDATE BINARY that reach memory")
    delay: float = _doc(0.0, "seconds to wait before each response")
    short_apdus_only: bool = _doc(False, "extended Lc/Le answer 6700; the ATR does not offer them")
    corrupt_every: int | None = _doc(None, "every n-th response with data has its middle byte "
                                           "inverted (the status word is left alone)")

    def __post_init__(self) -> None:
        for name in ("remove_after", "tear_update", "corrupt_every"):
            value = getattr(self, name)
            if value is not None and value < (0 if name == "remove_after" else 1):
                raise ValueError(f"FaultPlan.{name} out of range: {value}")
        if self.tear_keep < 0 or self.delay < 0:
            raise ValueError("FaultPlan.tear_keep and delay cannot be negative")


def corrupt(data: bytes) -> bytes:
    """`data` with its middle byte inverted: passes framing, fails any digest or signature."""
    if not data:
        return data
    middle = len(data) // 2
    return data[:middle] + bytes((data[middle] ^ 0xFF,)) + data[middle + 1:]
