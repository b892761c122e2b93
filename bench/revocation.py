"""Revocation at national scale (issue 8, docs/spec.md §11): the Golomb–Rice coded set
(revocation format 2) at 50,000,000 cards / 1,000,000 revoked and at 5,000,000 / 100,000.

Size against the information limit log2 C(N, M) (math.lgamma) and against a zlib-9
bitmap; build, load and lookup times (lookup against a Python frozenset of the same
serials, measured in the same rounds); memory of the loaded structure; signed delta size
for 1,000 and 10,000 new revocations and the time to apply one.

Heavy operations (build, load, apply) are timed as the median of a few whole runs,
not with the batch timer (one call is already tens of milliseconds).
"""

from __future__ import annotations

import gc
import itertools
import statistics
import time
import tracemalloc
import zlib

import numpy as np

from bench.fixtures import TL_ISSUED_AT, TL_NEXT_UPDATE, Fixtures
from bench.timing import Settings, measure, paired_ratio
from crypto import build_trust_list, cbor, load_trust_list
from crypto.revocation import RevocationSet, information_limit_bits
from crypto.revocation_delta import apply_revocation_delta, delta_between, load_revocation_delta

NAME = "revocation"
CASES = ((50_000_000, 1_000_000), (5_000_000, 100_000))
DELTAS = (1_000, 10_000)
NEW_CARDS_PER_DELTA = 20_000  # cards issued between two versions (the universe grows)
TARGETS = {"bytes": 1_000_000, "load_s": 1.0, "lookup_us": 10.0, "memory_bytes": 8 * 1024 * 1024}


def _repeat(fn, repeats: int) -> dict:
    """Median and min wall time of `repeats` whole calls (GC off while timing)."""
    times = []
    fn()  # warm-up
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            t0 = time.perf_counter_ns()
            fn()
            times.append(time.perf_counter_ns() - t0)
    finally:
        gc.enable()
    return {"median_ns": statistics.median(times), "min_ns": min(times), "runs": repeats}


def _traced(fn) -> tuple[object, int, int]:
    """(result, bytes still held by the result, peak bytes while making it)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = fn()
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, current - before, peak - before


def _trust_list(fx: Fixtures, version: int, revoked: dict, issued_at: int = TL_ISSUED_AT) -> bytes:
    return build_trust_list(version=version, issued_at=issued_at, next_update=TL_NEXT_UPDATE,
                            issuer_certificates=[fx.es256.pki.issuer.certificate], revoked=revoked,
                            signer=fx.es256.pki.trust_list_signer)


def _sizes(size: int, serials: np.ndarray, coded: dict, signed: bytes) -> dict:
    bitmap = np.zeros(size, dtype=bool)
    bitmap[serials] = True
    packed = np.packbits(bitmap).tobytes()
    t0 = time.perf_counter()
    zlib9 = len(zlib.compress(packed, 9))
    zlib_s = time.perf_counter() - t0
    limit = information_limit_bits(size, len(serials)) / 8
    return {"limit_bytes": round(limit, 1), "bits_bytes": len(coded[5]), "entry_bytes": len(cbor.dumps(coded)),
            "trust_list_bytes": len(signed), "bitmap_bytes": len(packed), "zlib9_bitmap_bytes": zlib9,
            "zlib9_seconds": round(zlib_s, 3),
            "format1_entry_bytes": len(cbor.dumps(sorted(serials.tolist()))), "k": coded[4],
            "bits_per_serial": 8 * len(coded[5]) / len(serials),
            "over_limit": len(coded[5]) / limit - 1, "entry_over_limit": len(cbor.dumps(coded)) / limit - 1}


def _lookups(rs: RevocationSet, tl, serials: np.ndarray, size: int, settings: Settings) -> dict:
    rng = np.random.default_rng(7)
    probes = np.concatenate((rng.choice(serials, 512), rng.integers(0, size, 512)))  # half revoked, half random
    rng.shuffle(probes)
    python_set = frozenset(serials.tolist())
    a, b, c = (itertools.cycle(probes.tolist()).__next__ for _ in range(3))
    stats = measure({"python_set": lambda: a() in python_set,
                     "revocation_set": lambda: b() in rs,
                     "is_revoked": lambda: tl.is_revoked("SH01", c())}, settings)
    check = [int(p) in rs for p in probes] == [int(p) in python_set for p in probes]
    if not check:
        raise RuntimeError("the revocation set and the Python set disagree")
    return {"stats": {n: s.to_dict() for n, s in stats.items()},
            "ratio_to_set": stats["revocation_set"].median_ns / stats["python_set"].median_ns,
            "paired_ratio_to_set": paired_ratio(stats["revocation_set"], stats["python_set"]),
            "is_revoked_ratio_to_set": stats["is_revoked"].median_ns / stats["python_set"].median_ns}


def _deltas(fx: Fixtures, rs: RevocationSet, tl, repeats: int) -> list[dict]:
    root, signer = fx.es256.pki.root, fx.es256.pki.trust_list_signer
    rows = []
    for added in DELTAS:
        rng = np.random.default_rng(added)
        new_size = rs.size + NEW_CARDS_PER_DELTA
        fresh = rng.integers(rs.base, rs.base + new_size, added * 2)
        fresh = fresh[~np.isin(fresh, rs.serials)][:added]
        new = RevocationSet.from_serials(np.concatenate((rs.serials, fresh)), base=rs.base, size=new_size)
        new_list = load_trust_list(_trust_list(fx, tl.version + 1, {"SH01": new}, TL_ISSUED_AT + 86_400), root)
        t0 = time.perf_counter()
        data = delta_between(tl, new_list, signer)
        build_s = time.perf_counter() - t0
        delta = load_revocation_delta(data, root)
        after = apply_revocation_delta(tl, delta)
        if after.revoked["SH01"] != new:
            raise RuntimeError("the delta did not reproduce the full set")
        added_bits = len(delta.entries[0].added.encode()[5])
        apply = _repeat(lambda: apply_revocation_delta(tl, load_revocation_delta(data, root)), repeats)
        rows.append({"added": len(fresh), "new_cards": NEW_CARDS_PER_DELTA, "delta_bytes": len(data),
                     "added_bits_bytes": added_bits, "bits_per_added": 8 * added_bits / len(fresh),
                     "build_seconds": round(build_s, 3), "apply": apply})
    return rows


def _one(fx: Fixtures, size: int, count: int, settings: Settings) -> dict:
    repeats = 7 if settings.rounds >= 100 else 2
    root = fx.es256.pki.root
    serials = np.sort(np.random.default_rng(size + count).choice(size, count, replace=False))
    build = _repeat(lambda: RevocationSet.from_serials(serials, base=0, size=size).encode(), repeats)
    rs = RevocationSet.from_serials(serials, base=0, size=size)
    coded = rs.encode()
    signed = _trust_list(fx, 1, {"SH01": rs})
    sign = _repeat(lambda: _trust_list(fx, 1, {"SH01": rs}), repeats)
    decode = _repeat(lambda: RevocationSet.decode(coded), repeats)
    load = _repeat(lambda: load_trust_list(signed, root), repeats)
    tl, held, peak = _traced(lambda: load_trust_list(signed, root))
    if tl.revoked["SH01"] != rs:
        raise RuntimeError("the trust list did not load as built")
    _, set_bytes, _ = _traced(lambda: frozenset(serials.tolist()))
    format1 = _trust_list(fx, 1, {"SH01": serials.tolist()})
    format1_load = _repeat(lambda: load_trust_list(format1, root), max(1, repeats // 2))
    return {"size": size, "revoked": count, "sizes": _sizes(size, serials, coded, signed),
            "build": build, "build_and_sign": sign, "decode": decode, "load": load,
            "format1_trust_list_bytes": len(format1), "format1_load": format1_load,
            "memory": {"serials_nbytes": rs.nbytes, "loaded_list_traced": held, "load_peak_traced": peak,
                       "python_frozenset_traced": set_bytes},
            "lookup": _lookups(tl.revoked["SH01"], tl, serials, size, settings),
            "deltas": _deltas(fx, rs, tl, repeats)}


def run(fx: Fixtures, settings: Settings) -> dict:
    return {"rows": [_one(fx, size, count, settings) for size, count in CASES], "targets": TARGETS}


def _ns(stats: dict) -> str:
    return f"{stats['median_ns']:.0f} ns (p90 {stats['p90_ns']:.0f})"


def _ms(ns: float) -> str:
    return f"{ns / 1e6:.1f} ms"


def report(result: dict) -> list[str]:
    out = ["Revocation format 2 (Golomb–Rice coded set, spec §11): size, build, load, lookup, memory, deltas"]
    for r in result["rows"]:
        s, m, lk = r["sizes"], r["memory"], r["lookup"]
        st = lk["stats"]
        out += [f"  {r['revoked']:,} revoked among {r['size']:,} (k = {s['k']}, {s['bits_per_serial']:.3f} bits/serial)",
                f"    size: limit {s['limit_bytes']:,.0f} B; coded bits {s['bits_bytes']:,} B "
                f"(+{100 * s['over_limit']:.2f}%); CBOR entry {s['entry_bytes']:,} B; signed list "
                f"{s['trust_list_bytes']:,} B; bitmap {s['bitmap_bytes']:,} B, zlib-9 {s['zlib9_bitmap_bytes']:,} B "
                f"({s['zlib9_bitmap_bytes'] / s['entry_bytes']:.2f}×); format 1 {r['format1_trust_list_bytes']:,} B",
                f"    build: from_serials + encode {_ms(r['build']['median_ns'])}; build_trust_list (encode, "
                f"CBOR, sign) {_ms(r['build_and_sign']['median_ns'])}; load: decode {_ms(r['decode']['median_ns'])}, "
                f"load_trust_list {_ms(r['load']['median_ns'])} (format 1: {_ms(r['format1_load']['median_ns'])})",
                f"    lookup: frozenset {_ns(st['python_set'])}, RevocationSet {_ns(st['revocation_set'])} "
                f"({lk['ratio_to_set']:.1f}×, paired {lk['paired_ratio_to_set']:.1f}×), TrustList.is_revoked "
                f"{_ns(st['is_revoked'])}",
                f"    memory: serials {m['serials_nbytes'] / 2**20:.2f} MiB; loaded list (traced) "
                f"{m['loaded_list_traced'] / 2**20:.2f} MiB, peak while loading {m['load_peak_traced'] / 2**20:.1f} MiB; "
                f"Python frozenset {m['python_frozenset_traced'] / 2**20:.1f} MiB"]
        for d in r["deltas"]:
            out.append(f"    delta +{d['added']:,} revoked, +{d['new_cards']:,} cards: {d['delta_bytes']:,} B signed "
                       f"({d['bits_per_added']:.2f} bits/serial coded), build {d['build_seconds'] * 1000:.0f} ms, "
                       f"load + apply {_ms(d['apply']['median_ns'])}")
    return out
