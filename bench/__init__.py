"""Benchmarks of the extractorov pipeline against the stock Airflow way (issue 4).

``python -m bench.run --full`` (``make bench``) or ``--quick`` (``make bench-quick``,
run once by the test suite). See ``docs/performance.md`` for what is measured and
the last full run's table.
"""
