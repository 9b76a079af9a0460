"""Step 4, DAG parsing: milliseconds each file under ``dags/`` takes to parse beyond
``import airflow``, in a fresh interpreter, and how much of it is Airflow modules the
file imports versus the project's own code.
"""

from __future__ import annotations

import ast
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.env import ROOT
from bench.measure import log
from bench.modes import Mode

_PARSE_SCRIPT = r"""
import importlib, importlib.util, json, sys, time
path, preload = sys.argv[1], json.loads(sys.argv[2])
t0 = time.perf_counter()
import airflow
t1 = time.perf_counter()
for name in preload:
    importlib.import_module(name)
t2 = time.perf_counter()
from airflow.sdk.definitions._internal.contextmanager import DagContext
spec = importlib.util.spec_from_file_location("bench_parsed_dag", path)
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
DagContext.current_autoregister_module_name = spec.name  # as DagBag does
spec.loader.exec_module(module)
t3 = time.perf_counter()
from airflow.sdk import DAG
found = {v.dag_id for v in vars(module).values() if isinstance(v, DAG)}
found |= {dag.dag_id for dag, _ in DagContext.autoregistered_dags}
dags = sorted(found)
print(json.dumps({"import_airflow": t1 - t0, "preload": t2 - t1, "file": t3 - t2,
                  "dags": dags}))
"""


def _imports_of(path: Path) -> list[str]:
    """Modules outside this project that a DAG file imports (what Airflow pre-imports)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return [n for n in dict.fromkeys(names)
            if n.split(".")[0] not in {"extractorov", "__future__"}]


def bench_dag_parsing(mode: Mode) -> dict[str, Any]:
    """Parse every DAG file ``mode.parse_repeats`` times, cold and with its imports preloaded."""
    files = []
    for path in sorted((ROOT / "dags").glob("*.py")):
        preload = _imports_of(path)
        runs: dict[str, list[dict[str, Any]]] = {"cold": [], "preloaded": []}
        for _ in range(mode.parse_repeats):
            for variant, modules in (("cold", []), ("preloaded", preload)):
                out = subprocess.run(
                    [sys.executable, "-c", _PARSE_SCRIPT, str(path), json.dumps(modules)],
                    check=True, capture_output=True, text=True, cwd=ROOT,
                )
                runs[variant].append(json.loads(out.stdout.strip().splitlines()[-1]))

        def median(variant: str, key: str, runs: dict = runs) -> float:
            return round(statistics.median(r[key] for r in runs[variant]) * 1000, 1)

        files.append({
            "file": f"dags/{path.name}",
            "dags": runs["cold"][0]["dags"],
            "repeats": mode.parse_repeats,
            "import_airflow_ms": median("cold", "import_airflow"),
            "parse_beyond_import_airflow_ms": median("cold", "file"),
            "airflow_modules_it_imports": preload,
            "airflow_modules_ms": median("preloaded", "preload"),
            "parse_own_code_ms": median("preloaded", "file"),
            "samples_beyond_import_airflow_ms": [round(r["file"] * 1000, 1)
                                                 for r in runs["cold"]],
        })
        log(f"  parse {path.name}: {files[-1]['parse_beyond_import_airflow_ms']} ms beyond "
            f"import airflow ({files[-1]['parse_own_code_ms']} ms own code)")
    return {"files": files}
