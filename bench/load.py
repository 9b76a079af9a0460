"""Database load benchmark: this project's ``load_db`` step against two baselines.

Runs in a child process (``python -m bench.load SPEC OUT``) so its peak memory
is its own: before each case the peak RSS (``VmHWM``) is reset through
``/proc/self/clear_refs`` and read back after it. Methods, all starting from the
same manifest written by ``pipeline.extract`` and opening their own connection
through ``PostgresHook`` as a task would:

* ``project``: ``pipeline.load`` (what the ``load_db`` task calls).
* ``stock``: ``PostgresHook.insert_rows(..., replace=True,
  replace_index="numero_radicado", executemany=True)``.
* ``per_record``: the old system's way: per record, select by content hash,
  select by radicado, then insert or update; commit every 100.

Cases, in this order on an emptied table: ``all_new``; ``rerun`` (the same
manifest again: all duplicates); ``changed`` (10 % of the records with edited
content and a newer extraction time).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench import env

CASES = ("all_new", "rerun", "changed")
METHODS = ("project", "stock", "per_record", "ceiling")
CEILING_TABLE = "data_general.bench_copy_ceiling"
CHANGED_EVERY = 10
"""Every 10th record of the ``changed`` manifest has new content (10 %)."""


# --------------------------------------------------------------------------- manifests
# Used by the parent process to derive the benchmark's manifests from extract's: the
# project's (a header naming a rows file in COPY text) and, for the two baselines, the
# same records as JSON lines, as a DAG author's extract task would hand them over.

_UNESCAPES = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f",
              "v": "\v"}
_ESCAPED = re.compile(r"\\(.)")


def copy_field(text: str) -> str | None:
    """The value of one COPY text field (the inverse of ``warehouse._copy_field``)."""
    if text == "\\N":
        return None
    if "\\" not in text:
        return text
    return _ESCAPED.sub(lambda m: _UNESCAPES.get(m.group(1), m.group(1)), text)


def parse_row(company: Any, line: str) -> Any:
    """A row for the company table back to its ``Record``."""
    from extractorov import warehouse
    from extractorov.records import Record

    columns = warehouse.load_columns(company)
    fields = [copy_field(f) for f in line.rstrip("\n").split("\t")]
    by = dict(zip(columns, fields, strict=True))
    values = {name: by[name] for name in columns[:-4]}
    for name in ("fecha", "extraction_timestamp"):
        if values[name]:
            values[name] = datetime.fromisoformat(values[name])
    if values["record_number"] is not None:
        values["record_number"] = int(values["record_number"])
    return Record(numero_radicado=values["numero_radicado"],
                  numero_reclamo_sgc=values["numero_reclamo_sgc"], fecha=values["fecha"],
                  extraction_timestamp=values["extraction_timestamp"], values=values,
                  extras=json.loads(by["extras"]), hash_registro=by["hash_registro"],
                  hash_contenido=by["hash_contenido"], archivo_origen=by["archivo_origen"])


def parse_key(line: str) -> list[str]:
    """The request JSON files of a key line."""
    files = copy_field(line.rstrip("\n").split("\t")[1]) or "{}"
    return json.loads("[" + files[1:-1] + "]")


def _read(manifest: Path) -> tuple[dict[str, Any], Path, Path]:
    with manifest.open(encoding="utf-8") as handle:
        header = json.loads(handle.readline())
    return header, manifest.with_name(header["rows"]), manifest.with_name(header["keys"])


def _write(target: Path, header: dict[str, Any], rows: list[str], keys: list[str]) -> None:
    rows_file, keys_file = target.with_suffix(".rows"), target.with_suffix(".keys")
    rows_file.write_text("".join(rows), encoding="utf-8")
    keys_file.write_text("".join(keys), encoding="utf-8")
    # No run or try of its own: the benchmark loads the same records again and again, and
    # a manifest of a run's extract try is loaded once (data_general.run_steps).
    kept = {k: v for k, v in header.items() if k not in {"run_id", "attempt"}}
    target.write_text(json.dumps({**kept, "records": len(rows), "rows": rows_file.name,
                                  "keys": keys_file.name}) + "\n", encoding="utf-8")


def _lines(path: Path, size: int | None = None) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(itertools.islice(handle, size))


def write_subset(source: Path, target: Path, size: int) -> int:
    """The first ``size`` records of a manifest, as a manifest of their own."""
    header, rows, keys = _read(source)
    lines = _lines(rows, size)
    _write(target, header, lines, _lines(keys, size))
    return len(lines)


def write_changed(company: Any, source: Path, target: Path) -> int:
    """The same manifest with every 10th record re-scraped a day later with edited content.

    The content hash is recomputed with :func:`extractorov.records.hash_contenido`,
    exactly as ``parse_record`` would for the edited JSON. Returns how many changed.
    """
    from extractorov import warehouse
    from extractorov.records import hash_contenido

    header, rows, keys = _read(source)
    lines = _lines(rows)
    changed = 0
    for index in range(0, len(lines), CHANGED_EVERY):
        record = parse_row(company, lines[index])
        values = dict(record.values)
        values["cuerpo_reclamacion"] = (
            f"{values.get('cuerpo_reclamacion') or ''} Actualización: el cliente "
            "reitera la solicitud."
        ).strip()
        later = (record.extraction_timestamp + timedelta(days=1)
                 if record.extraction_timestamp else None)
        values["extraction_timestamp"] = later
        record = dataclasses.replace(
            record, values=values, extraction_timestamp=later,
            hash_contenido=hash_contenido(values, record.extras),
        )
        lines[index] = warehouse.stage_row(company, record)
        changed += 1
    _write(target, header, lines, _lines(keys))
    return changed


def write_json_lines(company: Any, source: Path, target: Path) -> int:
    """The manifest's records as JSON lines (``Record.to_manifest``), for the baselines."""
    _, rows, keys = _read(source)
    n = 0
    with rows.open(encoding="utf-8", newline="") as handle, \
            keys.open(encoding="utf-8", newline="") as key_lines, \
            target.open("w", encoding="utf-8") as out:
        for line, _key in zip(handle, key_lines, strict=True):
            out.write(json.dumps(parse_row(company, line).to_manifest(), ensure_ascii=False)
                      + "\n")
            n += 1
    return n


# --------------------------------------------------------------------------- child


class _Progress(logging.Handler):
    """Remembers when the pipeline logged progress (``label: done / total ...``)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.times: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if " / " in record.getMessage():
            self.times.append(time.monotonic())


def silent_gap(started: float, ended: float, times: list[float]) -> float:
    """Longest stretch without a progress line between ``started`` and ``ended``."""
    marks = [started, *[t for t in times if started <= t <= ended], ended]
    return round(max(b - a for a, b in itertools.pairwise(marks)), 3)


def _rows(records: Path, columns: tuple[str, ...], jsonb: bool) -> Iterator[tuple]:
    """The baselines' input: JSON lines of records, parsed as a DAG author's task would."""
    from psycopg.types.json import Jsonb

    from extractorov.records import Record

    typed = columns[:-4]
    with records.open(encoding="utf-8") as handle:
        for line in handle:
            record = Record.from_manifest(json.loads(line))
            yield (*[record.values.get(name) for name in typed],
                   Jsonb(record.extras) if jsonb else record.extras,
                   record.hash_registro, record.hash_contenido, record.archivo_origen)


class Runner:
    def __init__(self, spec: dict[str, Any]) -> None:
        from extractorov import registry, warehouse
        from extractorov.companies import get_company

        self.spec = spec
        self.company = get_company(spec["empresa"])
        self.table = f"{warehouse.SCHEMA}.{self.company.table}"
        self.columns = warehouse.load_columns(self.company)
        self.progress = _Progress()
        logger = logging.getLogger("extractorov")
        logger.setLevel(logging.INFO)
        logger.addHandler(self.progress)
        logger.propagate = False
        # Time the parts of pipeline.load: COPY into the stage, upsert, mark_loaded.
        self.phase: dict[str, float] = {}
        for module, name in ((warehouse, "stage_keys"), (warehouse, "upsert_rows"),
                             (registry, "mark_loaded")):
            setattr(module, name, self._timed(name, getattr(module, name)))

    def _timed(self, name: str, func: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.phase[name] = round(time.perf_counter() - started, 3)
        return wrapper

    # ---- helpers

    def _admin(self, *statements: str, autocommit: bool = False) -> list[Any]:
        import psycopg

        out = []
        with psycopg.connect(self.spec["dsn"], autocommit=autocommit) as conn:
            for statement in statements:
                cur = conn.execute(statement)
                out.append(cur.fetchone() if cur.description else None)
        return out

    def reset(self) -> None:
        """Empty the company table and make the registry look freshly extracted."""
        self._admin(
            f"TRUNCATE {self.table}",
            "TRUNCATE data_general.s3_files_loaded",
            "DROP INDEX IF EXISTS data_general.bench_hash_contenido",
        )
        # Rewrite the registry compactly, as a bulk extract leaves it, then settle.
        self._admin("VACUUM FULL data_general.s3_files_registry",
                    f"VACUUM ANALYZE data_general.s3_files_registry, {self.table}",
                    autocommit=True)

    def checkpoint(self) -> None:
        self._admin("CHECKPOINT", autocommit=True)

    def count_rows(self, table: str) -> int:
        return self._admin(f"SELECT count(*) FROM {table}")[0][0]

    def empty_ceiling_table(self) -> None:
        self._admin(f"DROP TABLE IF EXISTS {CEILING_TABLE}",
                    f"CREATE TABLE {CEILING_TABLE} (LIKE {self.table} INCLUDING ALL)")

    @staticmethod
    def inputs(manifests: dict[str, str], which: str) -> dict[str, Path]:
        manifest = Path(manifests[which])
        header = json.loads(manifest.read_text(encoding="utf-8").splitlines()[0])
        return {"manifest": manifest, "rows": manifest.with_name(header["rows"]),
                "records": Path(manifests[f"{which}_records"])}

    # ---- methods

    def project(self, inputs: dict[str, Path]) -> dict[str, Any]:
        from extractorov import pipeline, runtime

        with runtime.warehouse_connection() as conn:
            summary = pipeline.load(conn, self.company, inputs["manifest"])
        return {"inserted": summary.db_inserted, "updated": summary.db_updated,
                "duplicates": summary.db_duplicates,
                "json_files_marked_loaded": summary.json_files_loaded,
                "stage_seconds": self.phase.get("stage_keys"),
                "upsert_seconds": self.phase.get("upsert_rows"),
                "mark_loaded_seconds": self.phase.get("mark_loaded")}

    def stock(self, inputs: dict[str, Path]) -> dict[str, Any]:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        hook = PostgresHook(postgres_conn_id="ov_postgres")
        hook.insert_rows(self.table, _rows(inputs["records"], self.columns, jsonb=False),
                         target_fields=list(self.columns), replace=True,
                         replace_index="numero_radicado", executemany=True)
        return {"inserted": None, "updated": None, "duplicates": None}

    def ceiling(self, inputs: dict[str, Path]) -> dict[str, Any]:
        """A bare COPY of the same rows into an empty table of the same shape."""
        from extractorov import manifest as run_manifest
        from extractorov import runtime

        columns = ", ".join(self.columns)
        with runtime.warehouse_connection() as conn, conn.cursor() as cur:
            with cur.copy(f"COPY {CEILING_TABLE} ({columns}) FROM STDIN "
                          "(FORMAT text, ENCODING 'UTF8')") as copy:
                for block in run_manifest.row_blocks(inputs["rows"]):
                    copy.write(block)
            inserted = cur.rowcount
            conn.commit()
        return {"inserted": inserted, "updated": 0, "duplicates": 0}

    def per_record(self, inputs: dict[str, Path]) -> dict[str, Any]:
        from extractorov import runtime

        columns = self.columns
        key = columns.index("numero_radicado")
        content = columns.index("hash_contenido")
        others = [i for i, c in enumerate(columns) if c != "numero_radicado"]
        insert = (f"INSERT INTO {self.table} ({', '.join(columns)}) "
                  f"VALUES ({', '.join(['%s'] * len(columns))})")
        update = (f"UPDATE {self.table} SET "
                  f"{', '.join(f'{columns[i]} = %s' for i in others)}, updated_at = now() "
                  "WHERE numero_radicado = %s")
        by_hash = f"SELECT 1 FROM {self.table} WHERE hash_contenido = %s"
        by_key = f"SELECT 1 FROM {self.table} WHERE numero_radicado = %s"
        counts = {"inserted": 0, "updated": 0, "duplicates": 0}
        # prepare=False: every statement planned afresh, as with the old system's psycopg2.
        # (A server-side prepared plan made while the table is empty keeps seq-scanning it
        # as it grows: that would make this baseline quadratic, i.e. unfairly slow.)
        with runtime.warehouse_connection() as conn, conn.cursor() as cur:
            for done, row in enumerate(_rows(inputs["records"], columns, jsonb=True), start=1):
                cur.execute(by_hash, (row[content],), prepare=False)
                if cur.fetchone():
                    counts["duplicates"] += 1
                else:
                    cur.execute(by_key, (row[key],), prepare=False)
                    if cur.fetchone():
                        cur.execute(update, [row[i] for i in others] + [row[key]],
                                    prepare=False)
                        counts["updated"] += 1
                    else:
                        cur.execute(insert, row, prepare=False)
                        counts["inserted"] += 1
                if done % 100 == 0:
                    conn.commit()
            conn.commit()
        return counts

    # ---- one method over the three cases

    def run(self, method: str, size: int, manifests: dict[str, str],
            changed: int, cases: tuple[str, ...] = CASES) -> list[dict[str, Any]]:
        self.reset()
        if method == "per_record":
            # The old system looked duplicates up by hash: give it the index it needs.
            self._admin(f"CREATE INDEX bench_hash_contenido ON {self.table} (hash_contenido)")
        if method == "ceiling":
            self.empty_ceiling_table()
        expected = {
            "all_new": {"inserted": size, "updated": 0, "duplicates": 0},
            "rerun": {"inserted": 0, "updated": 0, "duplicates": size},
            "changed": {"inserted": 0, "updated": changed, "duplicates": size - changed},
        }
        results = []
        for case in cases if method != "ceiling" else cases[:1]:
            inputs = self.inputs(manifests, "changed" if case == "changed" else "new")
            self.checkpoint()
            self.phase.clear()
            env.peak_rss_reset()
            rss_before, _ = env.rss_mb()
            started = time.monotonic()
            outcome = getattr(self, method)(inputs)
            ended = time.monotonic()
            _, peak = env.rss_mb()
            seconds = ended - started
            counts = {k: outcome[k] for k in ("inserted", "updated", "duplicates")}
            result = {
                "method": method, "size": size, "case": case,
                "seconds": round(seconds, 3),
                "records_per_second": round(size / seconds, 1),
                **outcome,
                "expected": expected[case],
                "counts_exact": (counts == expected[case]) if method != "stock" else None,
                "rows_in_table": self.count_rows(CEILING_TABLE if method == "ceiling"
                                                  else self.table),
                "rss_before_mb": rss_before,
                "peak_rss_mb": peak,
                "peak_rss_increase_mb": round(peak - rss_before, 1),
                "max_silent_seconds": silent_gap(started, ended, self.progress.times),
            }
            results.append(result)
            print(f"  load {method:<10} {size:>7} {case:<8} {seconds:7.2f} s "
                  f"{result['records_per_second']:>9.0f} rec/s  peak {peak:.0f} MiB",
                  file=sys.stderr, flush=True)
        if method == "per_record":
            self._admin("DROP INDEX IF EXISTS data_general.bench_hash_contenido")
        return results

    def warm_up(self, manifests: dict[str, str]) -> None:
        """One tiny load per method so lazy imports are not timed."""
        from extractorov.companies import get_company

        new = Path(manifests["new"])
        tiny = {"new": str(new.with_name("warmup.jsonl")),
                "new_records": str(new.with_name("warmup-records.jsonl"))}
        write_subset(new, Path(tiny["new"]), 5)
        write_json_lines(get_company(self.spec["empresa"]), Path(tiny["new"]),
                         Path(tiny["new_records"]))
        for method in self.spec["methods"]:
            self.reset()
            self.empty_ceiling_table()
            getattr(self, method)(self.inputs(tiny, "new"))
        self.reset()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(args[0]).read_text())
    env.prepare()
    env.quiet_airflow()
    runner = Runner(spec)
    first = spec["runs"][0]
    runner.warm_up(first["manifests"])
    results: list[dict[str, Any]] = []
    for run in spec["runs"]:
        for method in spec["methods"]:
            results += runner.run(method, run["size"], run["manifests"], run["changed"])
        # The ratios compare timings taken minutes apart on a shared machine: the bare COPY,
        # the project and stock are each timed again, in turn, over both passes (all new;
        # then the rerun and the 10 % changed on the loaded table), and the report takes
        # each one's median with every sample shown.
        for _ in range(spec.get("repeats", 1) - 1):
            for method in ("ceiling", "project", "stock"):
                if method in spec["methods"]:
                    results += runner.run(method, run["size"], run["manifests"],
                                          run["changed"])
    Path(args[1]).write_text(json.dumps({"results": results,
                                         "peak_rss_reset": env.peak_rss_reset()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
