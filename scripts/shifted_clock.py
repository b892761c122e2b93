"""Run a command with the process clock shifted, for it and every process it starts.

    .venv/bin/python scripts/shifted_clock.py --by 3600 -- .venv/bin/python -m pytest -m clock tests
    .venv/bin/python scripts/shifted_clock.py --at 2028-02-29T12:00:00+08:00 -- COMMAND ...

libfaketime (LD_PRELOAD) moves CLOCK_REALTIME by a fixed offset: time.time(), datetime.now(),
a uvicorn server, the CLI, pcscd and PostgreSQL all see the shifted clock, and it keeps
ticking (a run started at 23:59 crosses midnight). The monotonic clock is left alone
(FAKETIME_DONT_FAKE_MONOTONIC), so timeouts and sleeps keep their real lengths.

The library is the one the PyPI package ``libfaketime`` ships (a dev dependency): Debian 12's
libfaketime 0.9.10 breaks Python >= 3.11 (time.sleep fails with EINVAL when the monotonic
clock is excluded, and threading waits hang when it is not; upstream issues #426, #390).

Before running the command this checks, in a child process, that the clock really is
shifted, so a run can never pass unshifted by mistake. The exit code is the command's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

SLACK = 120  # seconds between computing the offset and the check in the child


def faketime_library() -> Path:
    """libfaketime.so.1 as shipped inside the ``libfaketime`` package."""
    import libfaketime

    path = Path(libfaketime.__file__).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    if not path.is_file():
        raise SystemExit(f"shifted_clock: {path} is missing (pip install 'libfaketime>=3.0.1')")
    return path


def shifted_environment(offset: int) -> dict[str, str]:
    preload = [str(faketime_library())] + [p for p in os.environ.get("LD_PRELOAD", "").split(":") if p]
    return dict(os.environ, LD_PRELOAD=":".join(preload), FAKETIME=f"{offset:+d}",
                FAKETIME_DONT_FAKE_MONOTONIC="1", DONT_FAKE_MONOTONIC="1",  # upstream and the package's fork
                SSCARD_CLOCK_SHIFT=str(offset))


def offset_for(args: argparse.Namespace) -> int:
    if args.by is not None:
        return args.by
    target = dt.datetime.fromisoformat(args.at)
    if target.tzinfo is None:
        raise SystemExit("shifted_clock: --at needs a UTC offset, e.g. 2028-02-29T12:00:00+08:00")
    return round(target.timestamp() - time.time())


def check_shift(env: dict[str, str], offset: int) -> float:
    """The epoch seconds a child process sees; exits if it is not shifted by `offset`."""
    expected = time.time() + offset
    seen = float(subprocess.run([sys.executable, "-c", "import time; print(time.time())"], env=env,
                                capture_output=True, text=True, check=True, timeout=60).stdout)
    if abs(seen - expected) > SLACK:
        raise SystemExit(f"shifted_clock: the child's clock is {seen:.0f}, expected {expected:.0f}: "
                         "libfaketime did not take effect")
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--by", type=int, help="shift by this many seconds (negative: back)")
    when.add_argument("--at", help="start the clock at this ISO 8601 time with offset, then let it tick")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    offset = offset_for(args)
    env = shifted_environment(offset)
    seen = check_shift(env, offset)
    china = dt.datetime.fromtimestamp(seen, dt.timezone(dt.timedelta(hours=8)))
    print(f"shifted_clock: clock moved by {offset:+d} s; the run starts at {china.isoformat(timespec='seconds')}"
          f" (China time)", flush=True)
    return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
