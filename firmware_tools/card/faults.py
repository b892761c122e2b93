"""Faults the reference card can inject, so readers and the encoder are tested against a
card that misbehaves the way real ones do."""

from __future__ import annotations

from dataclasses import dataclass


class CardRemoved(Exception):
    """The card left the reader (an injected fault): this APDU gets no response.

    :meth:`ReferenceCard.process_apdu` raises it only when a :class:`FaultPlan` asks for a
    removal (`remove_after`) or a tear (`tear_update`); a transport turns it into a
    removal (the vpcd bridge closes its socket, :class:`EmulatorLink` raises
    :class:`~firmware_tools.link.CardRemovedError`). Without a fault plan it is never raised.
    """


@dataclass(frozen=True)
class FaultPlan:
    """What goes wrong, and when. Counts are over the card object's life and fire once."""

    remove_after: int | None = None     # answer this many APDUs, then leave the reader
    tear_update: int | None = None      # the n-th UPDATE BINARY (1-based) loses power mid-write...
    tear_keep: int = 0                  # ...after this many of its data bytes reached memory
    delay: float = 0.0                  # seconds to wait before each response
    short_apdus_only: bool = False      # extended Lc/Le get 6700; the ATR does not offer them
    corrupt_every: int | None = None    # every n-th response with data has a byte flipped

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
