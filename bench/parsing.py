"""Step 4, DAG parsing: milliseconds each file under ``dags/`` takes to parse beyond
``import airflow``, in a fresh interpreter, and how much of it is Airflow modules the
file imports versus the project's own code.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
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


def _without_bytecode(tmp: Path) -> tuple[Path, dict[str, str]]:
    """A copy of ``dags/`` and ``include/extractorov`` with no ``__pycache__``, and the
    environment that imports the project from it and never writes bytecode: a deployment
    where ``PYTHONDONTWRITEBYTECODE=1`` (the installed packages keep the bytecode their
    installer compiled; the project's own code is compiled again by every parse)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "dags", tmp / "dags", ignore=ignore)
    shutil.copytree(ROOT / "include" / "extractorov", tmp / "include" / "extractorov",
                    ignore=ignore)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": os.pathsep.join([str(tmp / "include"),
                                          os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    return tmp / "dags", env


def bench_dag_parsing(mode: Mode) -> dict[str, Any]:
    """Parse every DAG file ``mode.parse_repeats`` times: cold, with its imports preloaded,
    and cold without the project's bytecode caches."""
    files = []
    with tempfile.TemporaryDirectory(prefix="ov-parse-") as tmp:
        bare_dags, bare_env = _without_bytecode(Path(tmp))
        for path in sorted((ROOT / "dags").glob("*.py")):
            files.append(_parse_file(mode, path, bare_dags / path.name, bare_env))
    return {"files": files}


def _parse_file(mode: Mode, path: Path, bare_path: Path, bare_env: dict[str, str]
                ) -> dict[str, Any]:
    preload = _imports_of(path)
    runs: dict[str, list[dict[str, Any]]] = {
        "cold": [], "preloaded": [], "no_bytecode": [], "nothing_compiled": []}
    for _ in range(mode.parse_repeats):
        for variant in runs:
            bare = variant in ("no_bytecode", "nothing_compiled")
            env = bare_env if bare else None
            with tempfile.TemporaryDirectory(prefix="ov-pycache-") as empty:
                if variant == "nothing_compiled":
                    # Bytecode is looked for (and never found) under an empty prefix: an
                    # install that compiled nothing, in a PYTHONDONTWRITEBYTECODE=1 place.
                    env = {**bare_env, "PYTHONPYCACHEPREFIX": empty}
                out = subprocess.run(
                    [sys.executable, *(["-B"] if bare else []), "-c", _PARSE_SCRIPT,
                     str(bare_path if bare else path),
                     json.dumps(preload if variant == "preloaded" else [])],
                    check=True, capture_output=True, text=True, cwd=ROOT, env=env,
                )
            runs[variant].append(json.loads(out.stdout.strip().splitlines()[-1]))

    def median(variant: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs[variant]) * 1000, 1)

    result = {
        "file": f"dags/{path.name}",
        "dags": runs["cold"][0]["dags"],
        "repeats": mode.parse_repeats,
        "import_airflow_ms": median("cold", "import_airflow"),
        "parse_beyond_import_airflow_ms": median("cold", "file"),
        "airflow_modules_it_imports": preload,
        "airflow_modules_ms": median("preloaded", "preload"),
        "parse_own_code_ms": median("preloaded", "file"),
        "samples_beyond_import_airflow_ms": [round(r["file"] * 1000, 1) for r in runs["cold"]],
        "no_bytecode_beyond_import_airflow_ms": median("no_bytecode", "file"),
        "samples_no_bytecode_ms": [round(r["file"] * 1000, 1) for r in runs["no_bytecode"]],
        "nothing_compiled_import_airflow_ms": median("nothing_compiled", "import_airflow"),
        "nothing_compiled_beyond_import_airflow_ms": median("nothing_compiled", "file"),
        "samples_nothing_compiled_ms": [round(r["file"] * 1000, 1)
                                        for r in runs["nothing_compiled"]],
    }
    if runs["no_bytecode"][0]["dags"] != result["dags"]:
        raise RuntimeError(f"{path.name}: the copy without bytecode defines other DAGs")
    log(f"  parse {path.name}: {result['parse_beyond_import_airflow_ms']} ms beyond import "
        f"airflow ({result['parse_own_code_ms']} ms own code; "
        f"{result['no_bytecode_beyond_import_airflow_ms']} ms with the project's code "
        f"uncompiled, {result['nothing_compiled_beyond_import_airflow_ms']} ms with nothing "
        "compiled)")
    return result
