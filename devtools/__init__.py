"""Development tools: local services, the demo, the sample data generator.

Not part of the product: ``include/extractorov`` is what workers run; this
package serves ``make demo``, ``make airflow``, the tests and the benchmarks.
"""
