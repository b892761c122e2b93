"""sscard benchmarks (DESIGN.md §7): run them all with ``make bench`` or
``.venv/bin/python -m bench`` (``--quick`` for a smoke run, ``--only NAME`` for one).

Every figure is quoted as a ratio to a reference measured in the same run, next to its
median. Results go to bench/results/latest.json; docs/performance.md explains them.
"""
