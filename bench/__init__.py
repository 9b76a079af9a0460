"""Benchmarks of the extractorov pipeline against the stock Airflow way (issue 4).

``python -m bench.run --full`` (``make bench``) or ``--quick`` (``make bench-quick``,
run once by the test suite). See ``docs/performance.md`` for what is measured and
the last full run's table.

Layout: ``run`` (entry point), ``modes`` (sizes), ``services`` (PostgreSQL, moto,
latency proxy), ``data`` (generated landing data), ``measure`` (shared instruments),
one module per step (``load_bench`` with its child ``load``, ``s3``, ``incremental``,
``parsing``), ``report`` (targets, table, results.json); ``env`` sets the process
environment (child processes too), ``proxy`` is the latency proxy's own process.
"""
