"""Airflow's published constraints file for the pinned Airflow and Python, as the lock uses it.

Airflow publishes, per release and Python version, the set of versions its own CI tested
together: ``https://raw.githubusercontent.com/apache/airflow/constraints-<airflow>/
constraints-<python>.txt`` (the same file the official image carries as
``${HOME}/constraints.txt``). ``make lock`` resolves ``requirements*.txt`` within it:

    python scripts/airflow_constraints.py fetch        # vendor it into constraints/
    python scripts/airflow_constraints.py effective F  # write what `uv pip compile -c` reads
    python scripts/airflow_constraints.py check        # the lock agrees with it (tests/deploy)

A project pin that deliberately differs from Airflow's constraint is listed in
``constraints/deviations.txt``, one package per line, each with its reason after ``#``;
``effective`` leaves that package's constraint out, and ``check`` accepts the difference.
"""

from __future__ import annotations

import re
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON_VERSION = "3.11"  # the Dockerfile's base image: apache/airflow:<version>-python3.11
DEVIATIONS = ROOT / "constraints" / "deviations.txt"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def airflow_version(requirements_in: Path = ROOT / "requirements.in") -> str:
    for line in requirements_in.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line.strip())
        if match and normalize(match.group(1)) == "apache-airflow":
            return match.group(2)
    raise SystemExit(f"{requirements_in} does not pin apache-airflow==<version>")


def source_url(version: str | None = None) -> str:
    version = version or airflow_version()
    return (f"https://raw.githubusercontent.com/apache/airflow/constraints-{version}/"
            f"constraints-{PYTHON_VERSION}.txt")


def vendored_path(version: str | None = None) -> Path:
    version = version or airflow_version()
    return ROOT / "constraints" / f"constraints-{version}-python{PYTHON_VERSION}.txt"


def pins(path: Path) -> dict[str, str]:
    """``name == version`` lines of a requirements or constraints file, names normalized."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line.strip())
        if match:
            found[normalize(match.group(1))] = match.group(2)
    return found


def deviations(path: Path | None = None) -> dict[str, str]:
    """Package → why the project's pin does not follow Airflow's constraint."""
    path = path or DEVIATIONS
    found = {}
    if not path.is_file():
        return found
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        name, _, reason = line.partition("#")
        if not name.strip():
            continue
        if not reason.strip():
            raise SystemExit(f"{path}:{number}: {name.strip()!r} has no reason (`name  # why`)")
        found[normalize(name.strip())] = reason.strip()
    return found


def fetch() -> Path:
    url, path = source_url(), vendored_path()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (fixed https)
            body = response.read().decode("utf-8")
    except OSError as exc:
        raise SystemExit(f"cannot download {url}: {exc}. Copy that file by hand to {path} "
                         "(unchanged, its URL in a first `# Source:` line)") from exc
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"# Source: {url}\n# Fetched unchanged on {stamp} by "
                    f"scripts/airflow_constraints.py fetch (make constraints).\n{body}",
                    encoding="utf-8")
    return path


def effective(out: Path) -> Path:
    """Airflow's constraints minus the packages the project deliberately pins otherwise."""
    source = vendored_path()
    if not source.is_file():
        raise SystemExit(f"{source} is missing: run `make constraints` (downloads "
                         f"{source_url()}) and commit it")
    skip = set(deviations())
    kept = [line for line in source.read_text(encoding="utf-8").splitlines()
            if not ((match := _PIN.match(line.strip())) and normalize(match.group(1)) in skip)]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return out


def disagreements(lock: Path, constraints: Path) -> list[str]:
    """Pins of ``lock`` that Airflow's constraints set otherwise and no deviation explains."""
    allowed, wanted = deviations(), pins(constraints)
    return [f"{name}=={version} (Airflow's constraints: {wanted[name]})"
            for name, version in sorted(pins(lock).items())
            if name in wanted and wanted[name] != version and name not in allowed]


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "fetch":
        print(fetch())
    elif command == "effective" and len(argv) == 2:
        print(effective(Path(argv[1])))
    elif command == "check":
        if not vendored_path().is_file():
            raise SystemExit(f"{vendored_path()} is missing: run `make constraints`")
        problems = [f"{lock.name}: {problem}"
                    for lock in (ROOT / "requirements.txt", ROOT / "requirements-dev.txt")
                    for problem in disagreements(lock, vendored_path())]
        print("\n".join(problems) or "the lock follows Airflow's constraints")
        return 1 if problems else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
