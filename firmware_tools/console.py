"""What the project's command lines (ssc-card, ssc-issuer, ssc-terminal) share at the console:
asking for a secret only where someone can type it, and a reader that stopped reading.

- A secret (password, PIN, passphrase) comes from its environment variable or, on a
  terminal, from a prompt. With no terminal (a script, a service, ``</dev/null``) there is
  nobody to ask: the command says which variable to set and exits 2, instead of getpass's
  warning and an EOFError.
- ``ssc-terminal verify-qr ... --json | head -c 100``: once the reader has gone, writing to
  stdout raises BrokenPipeError. The standard way (Python docs, "Note on SIGPIPE"): point
  stdout at /dev/null so the interpreter's last flush cannot fail again, and exit quietly.
"""

from __future__ import annotations

import functools
import getpass
import os
import sys
from collections.abc import Callable

EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 1  # as the Python documentation's recipe; the shell sees the pipeline's last command anyway


def ask_secret(prompt: str, variable: str, *, confirm: bool = False) -> str:
    """The secret from `variable`, else typed at the terminal (twice with `confirm`).
    Without a terminal: a message naming `variable` on stderr and exit 2."""
    value = os.environ.get(variable)
    if value is not None:
        return value
    if not sys.stdin or not sys.stdin.isatty():
        print(f"error: {prompt.rstrip(': ')} is needed and there is no terminal to type it: "
              f"set {variable} (or run the command in a terminal)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    try:
        value = getpass.getpass(prompt)
        if confirm and getpass.getpass("again: ") != value:
            print("error: the two entries differ", file=sys.stderr)
            raise SystemExit(EXIT_USAGE)
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    return value


def quiet_on_broken_pipe(main: Callable[..., int]) -> Callable[..., int]:
    """Wrap a command line's `main`: a closed stdout ends the command quietly."""

    @functools.wraps(main)
    def wrapped(*args, **kwargs) -> int:
        try:
            try:
                return main(*args, **kwargs)
            finally:  # also after --help's SystemExit: a closed pipe fails here, not at exit
                sys.stdout.flush()
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return EXIT_BROKEN_PIPE

    return wrapped
