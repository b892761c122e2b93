"""The reference card's non-volatile memory, and the file it lives in between runs.

A :class:`CardImage` is what a real chip keeps in EEPROM: the lifecycle state, the EF
contents, the PIN and unblocking code with their try counters, and the chip's private
key. The key is stored here because the image *is* the chip's memory; no command reads it
out. Protect an image file as you would the card (it is written with mode 0600).

The file is JSON when its name ends in ".json" (readable, for fixtures and debugging),
CBOR otherwise. Every save is atomic: a temporary file in the same directory, fsync,
rename over the old one, fsync of the directory; a crash leaves the old or the new image,
never a mix.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cbor2

from firmware_tools.card.profile import (BY_FID, PIN_TRIES, PUK_TRIES, Lifecycle, valid_pin,
                                         valid_puk)

IMAGE_FORMAT = 1
MAX_IMAGE_BYTES = 1 << 20


class ImageError(ValueError):
    """The card image file is unreadable or not a consistent card."""


@dataclass
class CardImage:
    """Everything the card keeps across power-off."""

    lifecycle: Lifecycle = Lifecycle.BLANK
    files: dict[int, bytes] = field(default_factory=dict)  # FID -> contents; absent means empty
    pin: str = "123456"
    pin_tries: int = PIN_TRIES
    puk: str = "12345678"
    puk_tries: int = PUK_TRIES
    private_key: bytes | None = None  # P-256 private scalar, 32 bytes big-endian

    def __post_init__(self) -> None:
        self.lifecycle = Lifecycle(self.lifecycle)
        self.check()

    def check(self) -> None:
        """Raise :class:`ImageError` unless this is a card the profile allows."""
        for fid, content in self.files.items():
            ef = BY_FID.get(fid)
            if ef is None:
                raise ImageError(f"file {fid:04X} is not in the profile")
            if not isinstance(content, bytes) or len(content) > ef.max_size:
                raise ImageError(f"{ef.name} holds more than its {ef.max_size} bytes")
        if not valid_pin(self.pin) or not self.pin.isdigit():
            raise ImageError("the PIN must be 6 to 8 digits")
        if not valid_puk(self.puk) or not self.puk.isdigit():
            raise ImageError("the unblocking code must be 8 digits")
        if not 0 <= self.pin_tries <= PIN_TRIES or not 0 <= self.puk_tries <= PUK_TRIES:
            raise ImageError("a try counter is out of range")
        if self.private_key is not None and len(self.private_key) != 32:
            raise ImageError("the chip private key must be a 32-byte P-256 scalar")

    def copy(self) -> "CardImage":
        return replace(self, files=dict(self.files))

    # --- serialisation ---------------------------------------------------------------------
    def to_plain(self, *, text: bool) -> dict[str, Any]:
        """A dict of plain values; bytes become hex strings when `text`."""
        def blob(value: bytes | None) -> Any:
            return value.hex() if text and value is not None else value
        return {"format": IMAGE_FORMAT, "lifecycle": self.lifecycle.name,
                "files": {f"{fid:04X}": blob(content) for fid, content in sorted(self.files.items())},
                "pin": self.pin, "pin_tries": self.pin_tries, "puk": self.puk,
                "puk_tries": self.puk_tries, "private_key": blob(self.private_key)}

    @classmethod
    def from_plain(cls, plain: Any) -> "CardImage":
        if not isinstance(plain, dict) or plain.get("format") != IMAGE_FORMAT:
            raise ImageError(f"not a card image of format {IMAGE_FORMAT}")
        try:
            files = {int(fid, 16): _blob(content) for fid, content in plain["files"].items()}
            return cls(lifecycle=Lifecycle[plain["lifecycle"]], files=files, pin=plain["pin"],
                       pin_tries=plain["pin_tries"], puk=plain["puk"], puk_tries=plain["puk_tries"],
                       private_key=_blob(plain["private_key"]))
        except ImageError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ImageError(f"card image field missing or of the wrong type ({exc!r})") from None

    def dumps(self, *, text: bool) -> bytes:
        if text:
            return (json.dumps(self.to_plain(text=True), indent=1, sort_keys=True) + "\n").encode()
        return cbor2.dumps(self.to_plain(text=False), canonical=True)

    @classmethod
    def loads(cls, raw: bytes, *, text: bool) -> "CardImage":
        if len(raw) > MAX_IMAGE_BYTES:
            raise ImageError("card image file too large")
        try:
            plain = json.loads(raw) if text else cbor2.loads(raw)
        except (ValueError, cbor2.CBORDecodeError, UnicodeDecodeError) as exc:
            raise ImageError(f"card image file is not {'JSON' if text else 'CBOR'} ({exc})") from None
        return cls.from_plain(plain)

    def save(self, path: Path | str) -> None:
        """Write the image to `path` atomically."""
        path = Path(path)
        raw = self.dumps(text=is_text(path))
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(raw)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @classmethod
    def load(cls, path: Path | str) -> "CardImage":
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ImageError(f"cannot read card image {path}: {exc.strerror}") from None
        return cls.loads(raw, text=is_text(path))


def is_text(path: Path) -> bool:
    return path.suffix.lower() == ".json"


def _blob(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return bytes.fromhex(value)
    raise ImageError(f"expected bytes or hex, got {type(value).__name__}")
