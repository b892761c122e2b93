"""README tells the truth: its two set-up commands are the Makefile's, every program and
subcommand it names answers --help, and every document it links to exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent


def test_exactly_two_set_up_commands():
    setup = README.split("## Set-up", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in setup.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo: deps$", makefile, re.M) and re.search(r"^test: deps$", makefile, re.M)


def named_commands() -> list[tuple[str, ...]]:
    """`ssc-x sub [sub]` as the programs table names them (the first column)."""
    found = set()
    for row in README.split("## The programs", 1)[1].split("## What is here", 1)[0].splitlines():
        first = row.split("|")[1] if row.startswith("| `") else ""
        for name in re.findall(r"`(ssc-[a-z]+(?: [a-z-]+){0,2})`", first):
            found.add(tuple(name.split()))
    return sorted(found)


@pytest.mark.parametrize("command", named_commands(), ids=" ".join)
def test_every_program_named_answers_help(command):
    proc = subprocess.run([str(BIN / command[0]), *command[1:], "--help"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and "usage:" in proc.stdout, proc.stderr


def test_the_table_covers_every_part_of_the_project():
    names = {" ".join(c) for c in named_commands()}
    for part in ("ssc-issuer serve", "ssc-issuer station", "ssc-issuer batch", "ssc-issuer card-artwork",
                 "ssc-issuer ecard", "ssc-terminal run", "ssc-card"):
        assert any(n == part or n.startswith(part + " ") for n in names), part
    for word in ("counter page", "e-card", "artwork", "batch", "issuance station", "terminal agent"):
        assert word in README.lower(), word


def test_every_linked_document_exists():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    assert links
    for link in links:
        assert (ROOT / link).exists(), link
