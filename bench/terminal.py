"""The terminal (DESIGN.md §7, issue 6 "Measure"):

- camera frame (1280x720, the card's QR in a cluttered scene, bench/camera.py) -> verdict
  at a pharmacy, zxing-cpp and pyzbar side by side, each as decode + verify;
- QR text -> verdict with the site policy (terminal.verifier: crypto's checks, the policy
  check, the projection of the shown and logged fields), against a bare `cryptography`
  verify of the same signature and against crypto.verify_credential alone; the same with
  the event log (SQLite WAL, synchronous=FULL: one fsync per verification);
- card inserted -> verdict through pcscd, per site (the groups each site reads): APDUs,
  bytes, time, and the modelled time at 9,600 and 115,200 bit/s (bench/pcsc.py's model).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bench import pcsc
from bench.camera import camera_frame
from bench.fixtures import NOW, Fixtures
from bench.timing import Settings, measure, paired_ratio, us
from crypto import cose, qrtext, verify_credential
from terminal.eventlog import EventLog
from terminal.policy import load_policy
from terminal.qr_image import read_qr
from terminal.verifier import Verifier

NAME = "terminal"
DECODERS = ("zxing-cpp", "pyzbar")


def _bare_verify(issuer, text: str):
    envelope = cose.decode_sign1(qrtext.decode_qr_text(text), max_size=qrtext.MAX_COSE_BYTES)
    tbs, sig = envelope.to_be_signed(), envelope.signature
    pub = issuer.store.issuers_for(envelope.kid)[0].public_key
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    ecdsa = ec.ECDSA(hashes.SHA256())
    return lambda: pub.verify(der, tbs, ecdsa)


def _verifier(issuer, site: str, events: EventLog | None = None) -> Verifier:
    store = issuer.store
    return Verifier(load_policy(site), lambda: store, events=events, clock=lambda: NOW)


def _camera(fx: Fixtures, settings: Settings) -> dict:
    issuer = fx.es256
    text = issuer.qr_texts["typical"]
    frame = camera_frame(text)
    verifier = _verifier(issuer, "pharmacy")
    cases = {}
    for decoder in DECODERS:
        read = read_qr(frame, (decoder,))
        if read.text != text or verifier.verify_qr_text(read.text, decoder).outcome != "VALID":
            raise RuntimeError(f"{decoder} does not read the benchmark frame to a VALID verdict")
        cases[f"{decoder} decode"] = lambda d=decoder: read_qr(frame, (d,))
        cases[f"{decoder} verdict"] = lambda d=decoder: verifier.verify_qr_text(read_qr(frame, (d,)).text, d)
    stats = measure(cases, Settings(min(settings.rounds, 40), 1, settings.warmup_ns))
    return {"frame": {"width": frame.width, "height": frame.height, "qr_chars": len(text)},
            "stats": {name: s.to_dict() for name, s in stats.items()},
            "pyzbar_over_zxing": paired_ratio(stats["pyzbar verdict"], stats["zxing-cpp verdict"])}


def _text(fx: Fixtures, settings: Settings) -> dict:
    issuer = fx.es256
    text = issuer.qr_texts["typical"]
    rows = []
    for site in ("pharmacy", "bureau"):
        verifier = _verifier(issuer, site)
        if verifier.verify_qr_text(text, "bench").outcome != "VALID":
            raise RuntimeError(f"the sample is not VALID at the {site}")
        store = issuer.store
        stats = measure({"reference": _bare_verify(issuer, text),
                         "crypto": lambda: verify_credential(text, store, now=NOW),
                         "terminal": lambda v=verifier: v.verify_qr_text(text, "bench")}, settings)
        rows.append({"site": site, "stats": {n: s.to_dict() for n, s in stats.items()},
                     "ratio": stats["terminal"].median_ns / stats["reference"].median_ns,
                     "paired_ratio": paired_ratio(stats["terminal"], stats["reference"]),
                     "over_crypto": paired_ratio(stats["terminal"], stats["crypto"])})
    with tempfile.TemporaryDirectory(prefix="sscard-bench-events-") as folder:
        with EventLog(Path(folder) / "events.sqlite") as events:
            logged = _verifier(issuer, "pharmacy", events)
            stats = measure({"with event log": lambda: logged.verify_qr_text(text, "bench")},
                            Settings(min(settings.rounds, 40), settings.batch_ns, settings.warmup_ns // 5))
    return {"rows": rows, "with_event_log": stats["with event log"].to_dict()}


def _chip(fx: Fixtures, settings: Settings) -> dict:
    content, sign = pcsc._issuance(fx)
    with pcsc._pcscd() as unavailable:
        if unavailable:
            return {"skipped": unavailable}
        from terminal.chip import verify_chip

        rows = {}
        for site, pin in (("pharmacy", pcsc.PIN), ("bureau", None)):
            verifier = _verifier(fx.es256, site)
            with pcsc._attached(pcsc._issued(content, sign)) as link:
                check = verify_chip(verifier, link, "bench", pin)
                if check.outcome != "VALID":
                    raise RuntimeError(f"the chip is not VALID at the {site}: {check.to_public()}")
                stats = measure({"read": lambda v=verifier, p=pin: verify_chip(v, link, "bench", p)},
                                pcsc._few(settings))
            traffic = {k: check.timings[k] for k in ("apdus", "bytes_sent", "bytes_received")}
            rows[site] = {"stats": stats["read"].to_dict(), **traffic, "modelled_s": pcsc._model(traffic)}
        return {"rows": rows}


def run(fx: Fixtures, settings: Settings) -> dict:
    return {"camera": _camera(fx, settings), "text": _text(fx, settings), "chip": _chip(fx, settings)}


def report(result: dict) -> list[str]:
    cam = result["camera"]
    s = cam["stats"]
    out = [f"Camera frame {cam['frame']['width']}x{cam['frame']['height']} -> verdict at a pharmacy "
           f"(QR of {cam['frame']['qr_chars']} characters)",
           f"  {'decoder':10} {'decode':>10} {'verdict':>10} {'p90':>10}"]
    for d in DECODERS:
        out.append(f"  {d:10} {us(s[f'{d} decode']['median_ns']):>10} {us(s[f'{d} verdict']['median_ns']):>10} "
                   f"{us(s[f'{d} verdict']['p90_ns']):>10}")
    out.append(f"  pyzbar / zxing-cpp (paired): {cam['pyzbar_over_zxing']:.2f}x")
    out.append("QR text -> verdict with the site policy vs bare cryptography verify (and crypto alone)")
    out.append(f"  {'site':9} {'bare':>9} {'crypto':>9} {'terminal':>9} {'ratio':>6} {'paired':>6} {'/crypto':>7}")
    for r in result["text"]["rows"]:
        st = r["stats"]
        out.append(f"  {r['site']:9} {us(st['reference']['median_ns']):>9} {us(st['crypto']['median_ns']):>9} "
                   f"{us(st['terminal']['median_ns']):>9} {r['ratio']:>5.2f}x {r['paired_ratio']:>5.2f}x "
                   f"{r['over_crypto']:>6.2f}x")
    out.append(f"  pharmacy with the event log (WAL, synchronous=FULL): "
               f"{us(result['text']['with_event_log']['median_ns'])} median")
    chip = result["chip"]
    if "skipped" in chip:
        out.append(f"Card inserted -> verdict: skipped ({chip['skipped']})")
        return out
    out.append("Card inserted -> verdict through pcscd (extended APDUs), per site")
    out.append(f"  {'site':9} {'APDUs':>5} {'sent':>6} {'received':>8} {'pcscd':>9} {'9,600 bit/s':>12} {'115,200':>9}")
    for site, r in chip["rows"].items():
        m = r["modelled_s"]
        out.append(f"  {site:9} {r['apdus']:>5} {r['bytes_sent']:>6} {r['bytes_received']:>8} "
                   f"{us(r['stats']['median_ns']):>9} {m['9600']:>11.2f}s {m['115200']:>8.3f}s")
    return out
