"""Run the benchmarks: ``python -m bench [--quick] [--only NAME ...] [--output PATH]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from bench import (ecard, issuer_api, machine, pcsc, qr_size, qr_verify, revocation, signing, station, terminal,
                   trust_list)
from bench.fixtures import Fixtures
from bench.timing import FULL, QUICK

BENCHMARKS = {m.NAME: m for m in (qr_verify, qr_size, signing, trust_list, revocation, pcsc, issuer_api, terminal,
                                   ecard, station)}
DEFAULT_OUTPUT = Path(__file__).parent / "results" / "latest.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few short rounds: a smoke run, not figures to quote")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), metavar="NAME",
                        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results (default: %(default)s)")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    names = args.only or list(BENCHMARKS)

    info = machine.describe()
    print("sscard benchmarks" + (" (--quick: smoke run, do not quote)" if args.quick else ""))
    print("\n".join(machine.report(info)))
    results: dict = {"machine": info, "quick": args.quick,
                     "settings": {"rounds": settings.rounds, "batch_ns": settings.batch_ns,
                                  "warmup_ns": settings.warmup_ns},
                     "benchmarks": {}}
    fx = Fixtures()
    started = time.perf_counter()
    try:
        for name in names:
            module = BENCHMARKS[name]
            t0 = time.perf_counter()
            result = module.run(fx, settings)
            result["seconds"] = round(time.perf_counter() - t0, 2)
            results["benchmarks"][name] = result
            print()
            print("\n".join(module.report(result)))
            sys.stdout.flush()
    finally:
        fx.close()
    results["seconds"] = round(time.perf_counter() - started, 2)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(args.output.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, args.output)
    print(f"\n{len(names)} benchmark(s) in {results['seconds']} s; results in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
