"""Entry file Airflow loads from the plugins folder: registers the ``ov_stats`` plugin.

The code lives in the ``ov_stats`` package next to this file (its own
``.airflowignore`` keeps Airflow from importing its modules one by one; the
plugins folder is on ``sys.path``, so it imports as ``ov_stats``).
"""

from ov_stats.plugin import OvStatsPlugin

__all__ = ["OvStatsPlugin"]
