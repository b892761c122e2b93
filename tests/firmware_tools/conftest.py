"""Fixtures of the firmware_tools tests: the real pcscd with vpcd (``pcscd``, ``attach_card``)
comes from tests/conftest.py, one for the whole session (see tests/firmware_tools/pcscd_fixtures.py)."""
