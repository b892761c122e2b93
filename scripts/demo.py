"""make demo: the main job end to end on embedded defaults, as an operator would run it.

Development keys under var/keys (created on first run), a realistic sample credential
signed into QR text, a QR PNG and chip COSE, a trust list published, and the QR verified
offline from its text and from the PNG. A revoked card is refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
VAR = Path(os.environ.get("SSC_VAR", ROOT / "var")).resolve()


def run(*cmd: str, expect: int = 0) -> str:
    print(f"\n$ {' '.join(cmd)}")
    proc = subprocess.run([str(BIN / cmd[0]), *cmd[1:]], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, SSC_VAR=str(VAR)))
    sys.stdout.write(proc.stdout)
    if proc.returncode != expect:
        sys.stdout.write(proc.stderr)
        sys.exit(f"demo step failed: exit {proc.returncode}, expected {expect}")
    return proc.stdout


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from crypto import samples

    out = VAR / "out"
    out.mkdir(parents=True, exist_ok=True)
    record = samples.long_record()
    record["holder"]["photo_digest"] = record["holder"]["photo_digest"].hex()
    (out / "sample.json").write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")

    run("ssc-issuer", "keys", "init")
    run("ssc-issuer", "keys", "list")
    run("ssc-issuer", "sign", str(out / "sample.json"))
    run("ssc-issuer", "trust-list")
    text = (out / "sample.qr.txt").read_text().strip()
    run("ssc-terminal", "verify-qr", text)
    run("ssc-terminal", "verify-qr", str(out / "sample.qr.png"))
    serial = str(record["card"]["serial"])
    run("ssc-issuer", "trust-list", "--revoked", serial, "--out", str(VAR / "trust" / "revoked.cose"))
    run("ssc-terminal", "verify-qr", str(out / "sample.qr.png"), "--trust-list", str(VAR / "trust" / "revoked.cose"),
        expect=1)
    print("\ndemo complete: the sample card verified offline from text and image; once revoked it is refused.")


if __name__ == "__main__":
    main()
