"""The chip through PC/SC (DESIGN.md §7): APDU round trip through pcscd + vpcd against the
same APDU to the reference card in the process, what reading each file costs (APDUs and
bytes, short and extended APDUs), the whole chip read with passive and active
authentication through pcscd, personalisation through pcscd, and the time the same
traffic would take on a contact interface at 9,600 and 115,200 bit/s.

The reference card runs in this process and is attached to pcscd through vpcd by a
VirtualCardSession thread (as ``ssc-card vcard run`` does); pcscd is reused if it runs,
else started with the test fixtures' helpers and stopped at the end. Without pcscd the
PC/SC figures are skipped with a message; the counts and the model do not need it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import statistics
import time
from collections.abc import Iterator

from bench.fixtures import IAT, NOW, Fixtures
from bench.timing import Settings, measure, paired_ratio, us
from crypto import parse_credential, samples
from crypto.chip import Group, build_security_object
from crypto.claims import end_of_day
from firmware_tools.card import apdus
from firmware_tools.card.emulator import FaultPlan, ReferenceCard
from firmware_tools.card.profile import SECURITY_OBJECT
from firmware_tools.card_io import EF_FOR_GROUP, CountingLink
from firmware_tools.link import CardLink, EmulatorLink
from firmware_tools.personalise import CardContent, personalise
from firmware_tools.reader import CardReader, read_card

NAME = "pcsc"
PIN = "123456"
SLOT = 1                   # vpcd slot "Virtual PCD 00 01"
RATES = (9_600, 115_200)   # bit/s on the contact interface
BITS_PER_BYTE = 10         # start + 8 data + parity (the guard time of 1-2 etu is left out)
T1_FRAMING = 4             # T=1 block: NAD, PCB, LEN + LRC (ISO/IEC 7816-3 §11.3)
IFS = 254                  # information field size: bytes of APDU per T=1 block
APDU_OVERHEAD_S = 0.001    # reader + card turnaround and processing per APDU (assumed, stated in the report)
EVERY = tuple(g for g in Group if g is not Group.CHIP_KEY)
NO_PHOTO = tuple(g for g in EVERY if g is not Group.PHOTO)


@functools.cache
def sample_photo() -> bytes:
    """A passport-style JPEG (300 x 400, ~12 KB), as DG2 carries."""
    from PIL import Image, ImageDraw, ImageFilter

    w, h = 300, 400
    img = Image.new("RGB", (w, h), (226, 232, 240))
    draw = ImageDraw.Draw(img)
    draw.ellipse((w * 0.28, h * 0.12, w * 0.72, h * 0.58), fill=(222, 184, 150))
    draw.rectangle((w * 0.15, h * 0.62, w * 0.85, h), fill=(40, 60, 90))
    img = Image.blend(img, Image.effect_noise((w, h), 40).convert("RGB"), 0.15).filter(ImageFilter.GaussianBlur(0.6))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80, optimize=True)
    return out.getvalue()


def _issuance(fx: Fixtures):
    record = samples.long_record()
    record["holder"]["photo_digest"] = hashlib.sha256(sample_photo()).hexdigest()
    credential = parse_credential(record)
    content = CardContent.from_credential(credential, sample_photo())

    def sign(files: dict[Group, bytes]) -> bytes:
        return build_security_object(card_number=credential.card.card_number, serial=credential.card.serial,
                                     issuer_code="SH01", iat=IAT, exp=end_of_day(credential.card.expiry_date),
                                     files=files, signer=fx.es256.pki.issuer)
    return content, sign


def _issued(content, sign, faults: FaultPlan | None = None) -> ReferenceCard:
    card = ReferenceCard.blank(pin=PIN)
    link = EmulatorLink(card)
    link.connect()
    personalise(link, content, sign, pin=PIN)
    return ReferenceCard(card.image, faults)


def modelled_seconds(apdus: int, sent: int, received: int, rate: int) -> float:
    """bytes x 10 bits / rate, with T=1 framing (4 bytes per block each way, a block per
    IFS bytes), plus APDU_OVERHEAD_S per APDU."""
    blocks = apdus * 2 + (sent + received) // IFS
    return (sent + received + blocks * T1_FRAMING) * BITS_PER_BYTE / rate + apdus * APDU_OVERHEAD_S


def _model(traffic: dict) -> dict:
    return {str(rate): modelled_seconds(traffic["apdus"], traffic["bytes_sent"], traffic["bytes_received"], rate)
            for rate in RATES}


def file_costs(card: ReferenceCard) -> list[dict]:
    """APDUs and bytes to read each file (after SELECT of the application), short and extended."""
    rows = []
    for ef in (*(EF_FOR_GROUP[g] for g in Group), SECURITY_OBJECT):
        row = {"file": ef.name, "bytes": len(card.image.files.get(ef.fid, b""))}
        for mode, faults in (("extended", FaultPlan()), ("short", FaultPlan(short_apdus_only=True))):
            link = CountingLink(EmulatorLink(ReferenceCard(card.image, faults)))
            link.connect()
            reader = CardReader(link)
            reader.select_application()
            reader.verify_pin(PIN)
            before = dict(link.traffic.to_dict())
            reader.read_file(ef)
            after = link.traffic.to_dict()
            row[mode] = {k: after[k] - before[k] for k in after}
            row[mode]["model_s"] = _model(row[mode])
        rows.append(row)
    return rows


def _read_traffic(card: ReferenceCard, fx: Fixtures, groups) -> dict:
    link = EmulatorLink(card)
    link.connect()
    result = read_card(link, groups, fx.es256.store, NOW, PIN)
    if not result.valid:
        raise RuntimeError(f"the benchmark card does not verify: {result.to_dict()}")
    return {**result.traffic.to_dict(), "model_s": _model(result.traffic.to_dict())}


@contextlib.contextmanager
def _pcscd() -> Iterator[str | None]:
    """Yields None when PC/SC is usable, else why not. Takes the test fixtures' locks."""
    import fcntl
    import os

    try:
        from tests.firmware_tools.pcscd_fixtures import _flock, _lock_path, start_pcscd, stop_pcscd
    except ImportError as exc:
        yield f"the pcscd helpers cannot be imported ({exc}); run from the repository root"
        return
    usage = os.open(_lock_path("pcscd"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if not _flock(usage, fcntl.LOCK_SH, 60):
            yield "another run holds pcscd"
            return
        try:
            handle = start_pcscd()
        except (OSError, TimeoutError) as exc:
            yield f"pcscd could not start ({exc})"
            return
        try:
            yield None
        finally:
            if handle.started_here and _flock(usage, fcntl.LOCK_EX, 0):
                stop_pcscd(handle)
    finally:
        os.close(usage)


@contextlib.contextmanager
def _attached(card: ReferenceCard) -> Iterator[CardLink]:
    from firmware_tools.pcsc import PcscLink
    from firmware_tools.vpcd import VirtualCardSession, reader_name_for_slot
    from tests.firmware_tools.pcscd_fixtures import slot_lock, wait_reader_state

    reader = reader_name_for_slot(SLOT)
    with slot_lock(SLOT):
        if not wait_reader_state(reader, present=False, timeout=5):
            raise RuntimeError(f"{reader} holds a card")
        session = VirtualCardSession(card, slot=SLOT).start()
        try:
            if not (session.wait_seen(5) and wait_reader_state(reader, present=True, timeout=5)):
                raise RuntimeError(f"pcscd did not see the card in {reader}")
            with PcscLink(reader) as link:
                yield link
        finally:
            session.stop()
            wait_reader_state(reader, present=False, timeout=5)


def _through_pcscd(fx: Fixtures, settings: Settings, content, sign) -> dict:
    out: dict = {}
    get_lcs = apdus.get_lifecycle().encode()
    read_255 = apdus.read_binary(0, 255, ef=EF_FOR_GROUP[Group.PHOTO]).encode()
    emulated = EmulatorLink(_issued(content, sign))
    emulated.connect()
    emulated.transmit(apdus.select_application().encode())
    for mode, faults in (("extended", None), ("short", FaultPlan(short_apdus_only=True))):
        with _attached(_issued(content, sign, faults)) as link:
            link.transmit(apdus.select_application().encode())
            if mode == "extended":
                cases = {"emulator GET DATA": lambda: emulated.transmit(get_lcs),
                         "pcscd GET DATA": lambda: link.transmit(get_lcs),
                         "emulator READ BINARY 255": lambda: emulated.transmit(read_255),
                         "pcscd READ BINARY 255": lambda: link.transmit(read_255)}
                stats = measure(cases, settings)
                out["apdu"] = {name: s.to_dict() for name, s in stats.items()}
                out["apdu_paired"] = {"GET DATA": paired_ratio(stats["pcscd GET DATA"], stats["emulator GET DATA"]),
                                      "READ BINARY 255": paired_ratio(stats["pcscd READ BINARY 255"],
                                                                      stats["emulator READ BINARY 255"])}
            for label, groups in (("all groups", EVERY), ("all but the photo", NO_PHOTO)):
                stats = measure({"pcscd": lambda: read_card(link, groups, fx.es256.store, NOW, PIN),
                                 "emulator": lambda: read_card(emulated, groups, fx.es256.store, NOW, PIN)},
                                _few(settings))
                check = read_card(link, groups, fx.es256.store, NOW, PIN)
                if not check.valid:
                    raise RuntimeError(f"read through pcscd is not VALID: {check.to_dict()}")
                out.setdefault("read_card", {})[f"{mode}, {label}"] = {
                    "pcscd": stats["pcscd"].to_dict(), "emulator": stats["emulator"].to_dict(),
                    **check.traffic.to_dict()}
        out.setdefault("personalise", {})[mode] = _personalise_times(content, sign, faults, 5 if settings.rounds > 20
                                                                     else 2)
    return out


def _few(settings: Settings) -> Settings:
    """Whole reads take milliseconds: fewer rounds, one read per batch."""
    return Settings(rounds=max(10, settings.rounds // 4), batch_ns=1, warmup_ns=settings.warmup_ns)


def _personalise_times(content, sign, faults: FaultPlan | None, runs: int) -> dict:
    times, traffic = [], {}
    for _ in range(runs):
        card = ReferenceCard.blank(pin=PIN, faults=faults)
        with _attached(card) as link:
            started = time.perf_counter()
            result = personalise(link, content, sign, pin=PIN)
            times.append(time.perf_counter() - started)
            traffic = result.traffic.to_dict()
    return {"median_s": statistics.median(times), "runs": runs, **traffic, "model_s": _model(traffic)}


def run(fx: Fixtures, settings: Settings) -> dict:
    content, sign = _issuance(fx)
    card = _issued(content, sign)
    result: dict = {"photo_bytes": len(sample_photo()), "files": file_costs(card),
                    "model": {"bits_per_byte": BITS_PER_BYTE, "t1_framing": T1_FRAMING, "ifs": IFS,
                              "apdu_overhead_s": APDU_OVERHEAD_S},
                    "reads": {f"{mode}, {label}": _read_traffic(ReferenceCard(card.image, faults), fx, groups)
                              for mode, faults in (("extended", None), ("short", FaultPlan(short_apdus_only=True)))
                              for label, groups in (("all groups", EVERY), ("all but the photo", NO_PHOTO))}}
    with _pcscd() as unavailable:
        if unavailable:
            result["pcsc_skipped"] = unavailable
        else:
            result.update(_through_pcscd(fx, settings, content, sign))
    return result


def _seconds(s: float) -> str:
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def report(result: dict) -> list[str]:
    m = result["model"]
    out = [f"Chip and PC/SC (photo {result['photo_bytes']} B JPEG; model: {m['bits_per_byte']} bits a byte, "
           f"T=1 framing {m['t1_framing']} B per block of {m['ifs']}, {m['apdu_overhead_s'] * 1000:g} ms per APDU)"]
    if "apdu" in result:
        a = result["apdu"]
        out.append("  one APDU, median (p90):")
        for name in ("GET DATA", "READ BINARY 255"):
            e, p = a[f"emulator {name}"], a[f"pcscd {name}"]
            out.append(f"    {name:16} emulator {us(e['median_ns']):>9}   pcscd {us(p['median_ns']):>9} "
                       f"({us(p['p90_ns'])})   {p['median_ns'] / e['median_ns']:6.0f}× (paired "
                       f"{result['apdu_paired'][name]:.0f}×)")
    out.append(f"  reading one file: {'file':12} {'bytes':>6}   extended: APDUs bytes→ ←bytes  9.6k   115k"
               f"   short: APDUs bytes→ ←bytes  9.6k   115k")
    for row in result["files"]:
        cells = []
        for mode in ("extended", "short"):
            t = row[mode]
            cells.append(f"{t['apdus']:>5} {t['bytes_sent']:>6} {t['bytes_received']:>6} "
                         f"{_seconds(t['model_s']['9600']):>9} {_seconds(t['model_s']['115200']):>8}")
        out.append(f"  {'':17}{row['file']:12} {row['bytes']:>6}   {cells[0]}   {cells[1]}")
    out.append("  read_card (SELECT, GET DATA, VERIFY, EF.SO, groups, DG5, INTERNAL AUTHENTICATE):")
    for label, t in result["reads"].items():
        line = (f"    {label:30} {t['apdus']:>3} APDUs {t['bytes_sent']:>5} B→ {t['bytes_received']:>6} B←  "
                f"model {_seconds(t['model_s']['9600'])} @9.6k, {_seconds(t['model_s']['115200'])} @115k")
        measured = result.get("read_card", {}).get(label)
        if measured:
            line += (f"; pcscd {us(measured['pcscd']['median_ns'])} (p90 {us(measured['pcscd']['p90_ns'])}), "
                     f"in process {us(measured['emulator']['median_ns'])}")
        out.append(line)
    for mode, p in result.get("personalise", {}).items():
        out.append(f"  personalise ({mode}) through pcscd: median {_seconds(p['median_s'])} of {p['runs']}, "
                   f"{p['apdus']} APDUs, {p['bytes_sent']} B→ {p['bytes_received']} B←; model "
                   f"{_seconds(p['model_s']['9600'])} @9.6k, {_seconds(p['model_s']['115200'])} @115k")
    if "pcsc_skipped" in result:
        out.append(f"  PC/SC part skipped: {result['pcsc_skipped']}")
    return out
