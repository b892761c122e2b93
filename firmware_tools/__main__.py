"""``python -m firmware_tools`` is ``ssc-card``."""

import sys

from firmware_tools.cli import main

sys.exit(main())
