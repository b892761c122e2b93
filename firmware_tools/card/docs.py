"""docs/card.md, rendered from the card profile; example traces come from the reference card.

    python -m firmware_tools.card.docs            # rewrite docs/card.md
    python -m firmware_tools.card.docs --check    # exit 1 when docs/card.md is stale

tests/firmware_tools/test_profile.py fails when the file and the profile disagree.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import fields
from pathlib import Path

from firmware_tools.card import profile as p
from firmware_tools.card.faults import FaultPlan
from firmware_tools.card.traces import TRACES, run_trace
from firmware_tools.iso7816.sw import SW, SW_RANGES

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "card.md"


def _hex(value: int, width: int) -> str:
    return f"{value:0{width}X}"


def _spaced(data: bytes) -> str:
    return data.hex(" ").upper()


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines + [""]


def _sw_label(value: int) -> str:
    return "63Cx" if value == p.TRIES_LEFT else _hex(value, 4)


def _application() -> list[str]:
    atr = p.answer_to_reset()
    return [
        "## Application", "",
        f"- AID: `{_spaced(p.AID)}` — `F0` (first nibble F: a proprietary, unregistered AID, "
        f"ISO/IEC 7816-5), then `SSCARD` in ASCII, then the application version "
        f"`{p.APPLICATION_VERSION:02X}`. A right-truncated AID of at least "
        f"{len(p.AID_PREFIX)} bytes selects it too.",
        f"- ATR: `{_spaced(atr)}` — T=1 only, historical bytes `80` (compact-TLV), "
        f"`F{len(p.AID):X}` + AID, `73` card capabilities `{p.SELECTION_METHODS:02X} "
        f"{p.DATA_CODING:02X} 40` (selection by full/partial DF name, file id, SFI; "
        "extended Lc/Le). A card that offers short APDUs only has `00` as the last byte.",
        "- One logical channel; no secure messaging; no command chaining.", "",
    ]


def _files() -> list[str]:
    rows = [[ef.name, _hex(ef.fid, 4), _hex(ef.sfi, 2), _hex(ef.tag, 2), str(ef.max_size),
             ef.read.value, ef.write.value, "—" if ef.so_key is None else str(ef.so_key), ef.content]
            for ef in p.FILES]
    return ["## Files", "",
            "Transparent EFs under the application DF. The master file is "
            f"`{_hex(p.MF_FID, 4)}`.", "",
            *_table(["EF", "FID", "SFI", "tag", "max bytes", "read", "write", "SO key", "content"], rows),
            "Files that must be written before ACTIVATE FILE: "
            + ", ".join(ef.name for ef in p.REQUIRED_FOR_ISSUE) + ".", "",
            "### Access rules", "",
            f"- read `{p.Read.ALWAYS.value}`: READ BINARY in the personalising and issued states.",
            f"- read `{p.Read.PIN.value}`: otherwise `6982`.",
            f"- write `{p.Write.ISSUER.value}`: UPDATE and ERASE BINARY in the personalising "
            "state; in any other state `6985` (a locked card is never written).",
            f"- write `{p.Write.CARD.value}`: UPDATE and ERASE BINARY answer `6982`.",
            "- terminated: every command but SELECT (`6285`), GET DATA and GET RESPONSE answers `6985`.", "",
            "Why EF.DG4 needs the PIN: insurance status is health-related, sensitive personal "
            "information; the holder consents by entering the PIN. The e-card QR is the "
            "no-PIN alternative.", ""]


def _layout() -> list[str]:
    sample = p.DG1.wrap(bytes.fromhex("a0"))
    return ["## File layout (BER-TLV)", "",
            "Every file is one BER-TLV data object (ISO/IEC 7816-4:2005 §5.2.2) with the "
            f"file's tag, holding one primitive data object `{p.PAYLOAD_TAG:02X}` "
            "(discretionary data) whose value is one deterministically encoded CBOR item "
            "(RFC 8949 §4.2.1):", "",
            "```", f"<file tag> L  {p.PAYLOAD_TAG:02X} L  <CBOR item>", "```", "",
            "Tags are one to three bytes, lengths `00`-`7F`, `81 xx`, `82 xxxx`, `83 xxxxxx`, "
            "`84 xxxxxxxx`, always in the shortest form; readers refuse anything else. The "
            "file tags are the ICAO Doc 9303-10 data group tags, the contents are ours. "
            f"Example, EF.DG1 holding an empty map: `{_spaced(sample)}`.", "",
            "A reader reads the first 8 bytes, takes the object's full size from its "
            "header (`firmware_tools.iso7816.tlv.total_length`) and reads the rest.", "",
            "### Security object", "",
            "EF.SO holds a COSE_Sign1 (RFC 9052) made by the issuer over the card number and "
            "a digest map: for every file with an SO key above, key → SHA-256 over the "
            "file's whole data object (from its tag to the end of its value, as ICAO 9303-10 "
            "hashes data groups). The card stores it as opaque bytes; its payload is "
            "specified in docs/spec.md.", ""]


def _security() -> list[str]:
    challenge = bytes(range(16))
    return ["## PIN and unblocking code", "",
            f"- PIN: {p.PIN_LENGTHS.start} to {p.PIN_LENGTHS.stop - 1} digits, reference "
            f"`{p.PIN_REFERENCE:02X}` (P2), {p.PIN_TRIES} tries. PIN block: the ASCII digits "
            f"right-padded with `{p.PIN_PAD:02X}` to {p.PIN_BLOCK_SIZE} bytes, e.g. "
            f"`{_spaced(p.pin_block('123456'))}`.",
            f"- Unblocking code (PUK): {p.PUK_LENGTH} digits, {p.PUK_TRIES} tries, as a block "
            "of 8 ASCII digits. When its tries are used up the PIN can never be unblocked.",
            "- Each wrong attempt answers `63Cx` (x tries left); at zero every attempt answers "
            "`6983`. The try counter is decremented and saved before the comparison.",
            "- The verification lasts until reset, power-off, a new SELECT of the "
            "application, or VERIFY with P1 = `FF`.", "",
            "## Chip key and active authentication", "",
            "- GENERATE ASYMMETRIC KEY PAIR (P1 `80`) makes a P-256 key inside the card "
            "(personalising only), writes EF.DG5 and answers "
            f"`{p.PUBLIC_KEY_TEMPLATE:04X} 43 {p.PUBLIC_POINT_TAG:02X} 41 04 X Y` "
            "(ISO/IEC 7816-8 public key template, uncompressed point). No command reads "
            "the private key.",
            "- EF.DG5 payload: COSE_Key (RFC 9052 §7) `{1: 2, -1: 1, -2: X, -3: Y}` "
            "(kty EC2, crv P-256), deterministic CBOR.",
            f"- INTERNAL AUTHENTICATE: the terminal sends a fresh random challenge of "
            f"{p.CHALLENGE_LENGTHS.start} to {p.CHALLENGE_LENGTHS.stop - 1} bytes; the card "
            "signs the message", "",
            "```", f"message   = {_spaced(p.AA_CONTEXT)} || challenge",
            f"            (\"{p.AA_CONTEXT[:-1].decode()}\" in ASCII, then 00: {len(p.AA_CONTEXT)} bytes)",
            "signature = ECDSA P-256 with SHA-256 over message (FIPS 186-5)", "```", "",
            f"  and answers r || s, each 32 bytes big-endian ({p.SIGNATURE_SIZE} bytes). "
            f"Example message for challenge 00..0F: `{_spaced(p.aa_message(challenge))}`. "
            "The terminal verifies it with the EF.DG5 key after checking EF.DG5's digest "
            "in the security object.", ""]


def _commands() -> list[str]:
    rows = []
    for c in p.COMMANDS:
        states = "all" if c.states == p.EVERY_STATE else ", ".join(s.name.lower() for s in sorted(c.states))
        rows.append([c.name, f"{c.cla:02X} " + "/".join(_hex(i, 2) for i in c.ins), c.p1p2, c.data,
                     c.response, states, "yes" if c.needs_application else "no",
                     " ".join(_sw_label(s) for s in c.status_words), c.reference])
    return ["## Commands", "",
            *_table(["command", "CLA INS", "P1 P2", "data", "response", "states",
                     "needs SELECT", "status words", "reference"], rows),
            "Checks, in order (the first that fails answers): the APDU is one of the cases "
            "of ISO/IEC 7816-4:2005 §5.1 (else `6700`); the class byte asks for no logical "
            "channel, SM or chaining (`6881`, `6882`, `6884`; other classes `6E00`); the "
            "instruction exists for the class (`6D00`); extended length is offered (`6700`); "
            "the application is selected where needed (`6985`); the lifecycle state allows "
            "the command (`6985`); then P1-P2, lengths, access rules and data.", "",
            "A response longer than Ne is cut to Ne bytes and ends in `61xx`; GET RESPONSE "
            "gives the rest. Without Le (Ne = 0) no response data is sent. READ BINARY "
            "returns what the file has from the offset, at most Ne bytes, and `6282` when "
            "the file ended first; an offset beyond the end answers `6B00`.", "",
            "### GET DATA objects", "",
            *_table(["P1 P2", "object", "content"],
                    [[_hex(d.tag, 4), d.name, d.content] for d in p.DATA_OBJECTS])]


def _status_words() -> list[str]:
    rows = [[_hex(s.value, 4), s.name, s.meaning] for s in SW]
    rows += [[f"{r.base >> 8:02X}{'xx' if r.mask == 0xFF00 else 'Cx'}", r.name,
              r.meaning.replace("{n}", "x")] for r in SW_RANGES]
    return ["## Status words", "", *_table(["SW1 SW2", "name", "meaning"], rows)]


def _lifecycle() -> list[str]:
    meaning = {p.Lifecycle.BLANK: "from the factory; nothing written, no key",
               p.Lifecycle.PERSONALISING: "the issuance encoder writes files and makes the chip key",
               p.Lifecycle.ISSUED: "locked: read, verify PIN, authenticate; no write (6985)",
               p.Lifecycle.TERMINATED: "irreversible; SELECT answers 6285, other commands 6985"}
    return ["## Lifecycle", "",
            "Life cycle status byte (ISO/IEC 7816-4:2005 §5.3.3.2), read with GET DATA `008A`.", "",
            *_table(["state", "LCS", "meaning"],
                    [[s.name.lower(), _hex(s.value, 2), meaning[s]] for s in p.Lifecycle]),
            *_table(["from", "command", "to", "condition"],
                    [[t.before.name.lower(), t.command, t.after.name.lower(), t.condition]
                     for t in p.LIFECYCLE])]


def _reference_card() -> list[str]:
    rows = [[f"`{f.name}`", f"`{f.default!r}`", f.metadata["doc"]] for f in fields(FaultPlan)]
    return ["## The reference card", "",
            "`firmware_tools.card.emulator.ReferenceCard` implements this profile for tests, "
            "demos and the vpcd bridge. Its image (lifecycle, files, PIN and unblocking code "
            "with their counters, chip private key) is a JSON file when the name ends in "
            "`.json`, CBOR otherwise, written atomically (temporary file, fsync, rename) after "
            "every change, mode 0600. A failed write answers `6581`.", "",
            "A `FaultPlan` makes it misbehave on purpose:", "",
            *_table(["field", "default", "effect"], rows)]


def _traces() -> list[str]:
    lines = ["## Example traces", "",
             "Recorded from the reference card (`firmware_tools.card.emulator`); `→` command, "
             "`←` response. Random values (keys, signatures) are shown as `<…>`.", ""]
    for trace in TRACES:
        lines += [f"### {trace.title}", "", "```"]
        for command, label, response in run_trace(trace):
            lines += [f"→ {command}    # {label}", f"← {response}"]
        lines += ["```", ""]
    return lines


def render_markdown() -> str:
    """docs/card.md, from the profile."""
    lines = ["# The chip: card application profile", "",
             "<!-- Generated by `python -m firmware_tools.card.docs` from "
             "firmware_tools/card/profile.py. Do not edit: change the profile. -->", "",
             f"{p.APPLICATION_LABEL}: one application on an ISO/IEC 7816 contact chip, T=1.", "",
             "What the files hold and how a verifier trusts them: [spec.md](spec.md) §10. How the issuance "
             "encoder personalises a card (`firmware_tools.personalise`) and how a terminal reads and "
             "verifies one (`firmware_tools.reader`): [pcsc.md](pcsc.md).", ""]
    for part in (_application, _files, _layout, _security, _commands, _status_words, _lifecycle,
                 _reference_card, _traces):
        lines += part()
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write docs/card.md from the card profile.")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/card.md is out of date")
    parser.add_argument("--output", type=Path, default=DOC_PATH, help="where to write (default: %(default)s)")
    args = parser.parse_args(argv)
    text = render_markdown()
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run python -m firmware_tools.card.docs", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output} ({hashlib.sha256(text.encode()).hexdigest()[:12]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
