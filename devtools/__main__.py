"""``python -m devtools demo|airflow|morning``: see :mod:`devtools.demo`."""

import sys

from devtools.demo import main

sys.exit(main())
