"""The package installs like any library, and the DAGs parse with only ``dags/`` at hand.

A standard Airflow deployment (the official image, an Astro-style project) mounts
``dags/`` and installs dependencies; it does not put ``include/`` on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
UV = Path(sys.executable).with_name("uv")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not UV.exists():
        pytest.fail("uv is not in the virtualenv: run `make venv`")
    out = tmp_path_factory.mktemp("wheel")
    # A copy of the project: building must not depend on (or write into) the checkout.
    source = out / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", ".dev", "*.egg-info", "build", "__pycache__", "test-artifacts"))
    subprocess.run([str(UV), "build", "--wheel", "--out-dir", str(out), str(source)],
                   check=True, capture_output=True, timeout=300)
    (built,) = out.glob("extractorov-*.whl")
    return built


def _parse_dags(script: str, *, pythonpath: str, cwd: Path, home: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update({"PYTHONPATH": pythonpath, "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_wheel_holds_the_product_and_its_sql_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "extractorov/tasks.py" in names
    assert "extractorov/botguard.py" in names  # run by path: the bot's process-group leader
    assert "extractorov/sql/company_table.sql" in names
    # The stats page: its templates, and the entry point Airflow registers the plugin by.
    assert "extractorov/ui/templates/stats.html.j2" in names
    assert "extractorov/ui/templates/page.css" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert zipfile.ZipFile(wheel).read(entry_points).decode().split() == [
        "[airflow.plugins]", "ov_stats", "=", "extractorov.ui.plugin:OvStatsPlugin"]
    assert not [n for n in names if n.startswith(("devtools/", "tests/", "bench/"))]
    assert not [n for n in names if n.endswith((".json",)) and n.startswith("extractorov/")]
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = [line for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
                if line.startswith("Requires-Dist:")]
    assert any("apache-airflow-providers-amazon" in r for r in requires)
    assert any("apache-airflow-providers-postgres" in r for r in requires)


def test_installed_package_parses_the_dags_with_only_dags_on_the_path(
        wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run([str(UV), "pip", "install", "--quiet", "--no-deps", "--python",
                    sys.executable, "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    out = _parse_dags(f"""
        import extractorov
        assert extractorov.__file__.startswith({str(site)!r}), extractorov.__file__
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(DAGS)!r})
        assert not bag.import_errors, bag.import_errors
        from extractorov import warehouse
        print(sorted(bag.dag_ids), warehouse.COMPANY_MIGRATIONS[0])
        from extractorov.ui import render
        print(render.unavailable_page("no_schema", "from the wheel"))
    """, pythonpath=str(site), cwd=tmp_path, home=tmp_path / "home")
    assert "'ov_afinia'" in out and "'ov_s3_reconcile'" in out
    assert "company_table.sql" in out  # the SQL files came with the package
    assert 'data-kind="no_schema"><strong>No statistics yet</strong>from the wheel' in out


def test_a_missing_package_is_one_clear_line_naming_the_fix(tmp_path: Path) -> None:
    out = _parse_dags(f"""
        import sys
        sys.modules["extractorov"] = None  # as if it were not installed
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(DAGS)!r})
        for path, error in sorted(bag.import_errors.items()):
            print("FILE", path.rsplit("/", 1)[-1], "LAST", error.strip().splitlines()[-1])
    """, pythonpath="", cwd=tmp_path, home=tmp_path / "home")
    lines = [line for line in out.splitlines() if line.startswith("FILE")]
    assert len(lines) == len(list(DAGS.glob("ov_*.py"))), out
    for line in lines:
        assert "ImportError: package 'extractorov' is not installed where Airflow runs" in line
        assert "'pip install .'" in line and "Install into any Airflow" in line


def test_the_wheel_carries_its_license_readme_and_airflow_classifier(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert "Classifier: Framework :: Apache Airflow" in metadata.splitlines()
    assert "Description-Content-Type: text/markdown" in metadata
    assert "Provides-Extra: dev" in metadata
    assert "extractorov/py.typed" in names  # PEP 561: type checkers read its annotations
    assert "Classifier: Typing :: Typed" in metadata.splitlines()


def test_the_dev_extra_lists_what_requirements_dev_in_lists() -> None:
    """``pip install -e ".[dev]"`` and ``make venv`` install the same tools."""
    import re
    import tomllib

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["dev"]
    listed = [line.split("#")[0].strip()
              for line in (ROOT / "requirements-dev.in").read_text().splitlines()]
    listed = [line for line in listed if line and not line.startswith("-")]

    def name(requirement: str) -> str:
        return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")

    assert sorted(map(name, extra)) == sorted(map(name, listed))
    assert sorted(extra) == sorted(listed)  # extras ([server,s3,iam]) included
