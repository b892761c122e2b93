"""The card's artwork: front and back at ID-1 size as 300 dpi PNG and PDF, proof sheets for
quality checks, and printing through CUPS (issue 5, item 3)."""

from issuer.artwork.card import DPI, MIN_MODULE_MM, CardArtwork, render_card
from issuer.artwork.errors import ArtworkError, FontMissing, PrintError

__all__ = ["DPI", "MIN_MODULE_MM", "ArtworkError", "CardArtwork", "FontMissing", "PrintError", "render_card"]
