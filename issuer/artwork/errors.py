"""The artwork's errors: each says what is wrong and what to do about it."""

from __future__ import annotations


class ArtworkError(Exception):
    """The card artwork cannot be made from this input (photo, QR text, layout)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class FontMissing(ArtworkError):
    """The font that renders Chinese is not installed."""


class PrintError(ArtworkError):
    """The print job could not be handed to CUPS."""
