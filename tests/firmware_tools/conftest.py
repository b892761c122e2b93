"""Fixtures of the firmware_tools tests: a real pcscd with vpcd (see pcscd_fixtures)."""

from tests.firmware_tools.pcscd_fixtures import attach_card, pcscd  # noqa: F401
