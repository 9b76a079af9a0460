"""Any landing-folder input, however malformed or malicious, is quarantined with a reason
or handled, through the real extract → load → upload.

Against the real PostgreSQL and moto S3 fixtures, for every case of
:mod:`tests.landing_corpus` (written next to one well-formed request per
company), each run must:

* complete without an exception;
* leave every entry where its case says (quarantined with an understandable
  reason, loaded, superseded, stored, waiting for the next run, not descended);
* leave the well-formed requests in the tables, the registry and the bucket;
* keep every registry key and every bucket key inside
  ``oficina-virtual/{empresa}/raw_data/{sgc}/`` of the company whose folder the
  file came from;
* keep personal data out of reason files, step summaries and log lines;
* never touch what a symlink points to.

``test_all_cases_in_one_landing_folder`` runs the whole corpus at once and
prints the tally (``pytest -s``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import posixpath
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from extractorov import extract as extract_step
from extractorov import pipeline
from extractorov.companies import COMPANIES
from extractorov.landing import company_folders
from extractorov.landing import printable as escaped
from extractorov.records import SAFE_SGC
from tests.helpers import list_keys
from tests.landing_corpus import (
    CASES,
    PERSONAL_VALUES,
    SETTLE_SECONDS,
    Case,
    Entry,
    Outcome,
    finish_writing,
    good_request,
    materialize,
)

pytestmark = pytest.mark.integration

EMPRESAS = ("afinia", "aire")
GOOD = {empresa: good_request(empresa) for empresa in EMPRESAS}
REACHED = {Outcome.LOADED, Outcome.SUPERSEDED, Outcome.STORED}
"""Outcomes of files that reached the table and/or the registry and the bucket."""


# --------------------------------------------------------------------------- running


@dataclass
class Runs:
    """Step summaries of every run so far, as the DAG would push them to XCom."""

    summaries: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def total(self, step: str, key: str, run: int | None = None) -> int:
        return sum(s[key] for r, name, s in self.summaries
                   if name == step and (run is None or r == f"run-{run}"))


def run_everything(db, s3, settings, runs: Runs, run: int) -> None:
    """extract → load → upload for both companies, as one DAG run would."""
    run_id = f"run-{run}"
    for empresa in EMPRESAS:
        company = COMPANIES[empresa]
        extracted = pipeline.extract(db, company, settings, run_id)
        loaded = pipeline.load(db, company, extracted.manifest)
        uploaded = pipeline.upload(db, s3, company, settings, run_id=run_id)
        runs.summaries += [(run_id, "extract", asdict(extracted)),
                           (run_id, "load", asdict(loaded)),
                           (run_id, "upload", uploaded.as_dict())]


# --------------------------------------------------------------------------- state


@dataclass
class State:
    rows: dict[tuple[str, str], dict[str, Any]]
    """(empresa, archivo_origen) → table row."""
    registry: dict[tuple[str, str], dict[str, Any]]
    """(empresa, filename) → registry row."""
    keys: dict[str, int]
    """Every key of the bucket → size."""
    quarantine: dict[tuple[str, str], tuple[Path, str]]
    """(empresa, name as the reason file spells it) → (quarantined path, reason text)."""
    processed: dict[str, set[str]]

    @classmethod
    def read(cls, db, s3, bucket: str, landing: Path) -> State:
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for empresa in EMPRESAS:
            with db.cursor() as cur:
                cur.execute(f"SELECT * FROM data_general.ov_{empresa}")
                names = [d.name for d in cur.description]
                for values in cur.fetchall():
                    row = dict(zip(names, values, strict=True))
                    rows[(empresa, row["archivo_origen"])] = row
            db.commit()
        registry: dict[tuple[str, str], dict[str, Any]] = {}
        with db.cursor() as cur:
            cur.execute("SELECT r.*, l.loaded_at AS db_loaded_at "
                        "FROM data_general.s3_files_registry r "
                        "LEFT JOIN data_general.s3_files_loaded l USING (empresa, s3_bucket, "
                        "filename)")
            names = [d.name for d in cur.description]
            for values in cur.fetchall():
                row = dict(zip(names, values, strict=True))
                assert (row["empresa"], row["filename"]) not in registry
                registry[(row["empresa"], row["filename"])] = row
        db.commit()
        quarantine: dict[tuple[str, str], tuple[Path, str]] = {}
        processed: dict[str, set[str]] = {}
        for empresa in EMPRESAS:
            folders = company_folders(landing, empresa)
            processed[empresa] = set(os.listdir(folders.processed))
            if not folders.quarantine.is_dir():
                continue
            listed = set(os.listdir(folders.quarantine))
            for name in listed:
                if not name.endswith(".reason.txt"):
                    assert name + ".reason.txt" in listed, f"{name!r} quarantined with no reason"
                    continue
                moved = folders.quarantine / name.removesuffix(".reason.txt")
                assert os.path.lexists(moved), f"reason file {name!r} without its file"
                text = (folders.quarantine / name).read_text(encoding="utf-8")
                lines = text.splitlines()
                # One line per field: a hostile file name cannot add or fake a line.
                # (A document that followed its request JSON adds that JSON's name last.)
                assert [line.split(":")[0] for line in lines] in (
                    ["file", "reason", "run_id", "quarantined_at"],
                    ["file", "reason", "run_id", "quarantined_at", "request_json"]), text
                original = lines[0].removeprefix("file: ")
                assert (empresa, original) not in quarantine, f"{original!r} quarantined twice"
                quarantine[(empresa, original)] = (moved, text)
        return cls(rows, registry, list_keys(s3, bucket), quarantine, processed)

    def radicados(self) -> set[tuple[str, str]]:
        return {(empresa, row["numero_radicado"]) for (empresa, _), row in self.rows.items()}


def fingerprint(root: Path) -> dict[str, str]:
    """Content hash of every file under ``root`` (what a symlink could have reached)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


# --------------------------------------------------------------------------- checks


def check_entry(entry: Entry, state: State, landing: Path) -> None:
    """The entry is exactly where its outcome says, and nowhere else."""
    outcome = entry.outcome
    name, empresa = entry.name, entry.empresa
    where = f"{empresa}/{name!r}: expected {outcome}"
    registered = state.registry.get((empresa, name))
    in_quarantine = (empresa, escaped(name)) in state.quarantine

    if outcome is Outcome.QUARANTINED:
        assert in_quarantine, f"{where}, not in quarantine/"
        moved, text = state.quarantine[(empresa, escaped(name))]
        assert entry.reason in text, f"{where} with reason {entry.reason!r}, got:\n{text}"
        assert name not in state.processed[empresa], f"{where}, still in processed/"
        assert registered is None, f"{where}, but registered"
        if entry.kind == "symlink":
            assert moved.is_symlink(), f"{where}: the link, not its target, is quarantined"
        return

    assert not in_quarantine, f"{where}, but quarantined: {state.quarantine.get((empresa, name))}"
    if outcome in REACHED:
        assert registered is not None, f"{where}, not in the registry"
        assert registered["upload_status"] == "uploaded", f"{where}: {registered}"
        assert registered["upload_source"] == "bot"
        key = registered["s3_key"]
        assert key in state.keys, f"{where}, registered but not in the bucket: {key}"
        path = company_folders(landing, empresa).processed / name
        assert registered["local_path"] == str(path)
        assert registered["file_hash"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert state.keys[key] == registered["file_size"] == path.stat().st_size
        is_json = outcome is not Outcome.STORED
        assert (registered["db_loaded_at"] is not None) is is_json, where
        assert ((empresa, name) in state.rows) is (outcome is Outcome.LOADED), where
        if outcome is Outcome.LOADED:
            row = state.rows[(empresa, name)]
            assert row["numero_reclamo_sgc"] == registered["numero_reclamo_sgc"]
            for column, value in entry.row.items():
                assert row[column] == value, f"{where}: {column} = {row[column]!r}"
        if outcome is Outcome.SUPERSEDED:
            radicado = registered["metadata"]["numero_radicado"]
            assert (empresa, radicado) in state.radicados(), f"{where}: no row for its radicado"
        return

    assert registered is None, f"{where}, but registered: {registered}"
    assert name in state.processed[empresa], f"{where}, gone from processed/"
    path = company_folders(landing, empresa).processed / name
    if outcome is Outcome.WAITING:
        assert path.is_file() and path.read_bytes() == entry.data, where
    elif outcome is Outcome.NOT_DESCENDED:
        assert path.is_dir(), where
        assert {p.name: p.read_bytes() for p in path.iterdir()} == entry.children, where
    else:  # pragma: no cover
        raise AssertionError(f"unknown outcome {outcome}")


def check_keys(state: State, landing: Path) -> None:
    """No registry key and no bucket key can leave its company's prefix."""
    for (empresa, filename), row in state.registry.items():
        prefix = f"oficina-virtual/{empresa}/raw_data/"
        key, sgc = row["s3_key"], row["numero_reclamo_sgc"]
        assert key.startswith(prefix), key
        if sgc is None:  # no real SGC: one folder per request, by its radicado
            radicado = row["metadata"].get("numero_radicado") or key.split("/")[-2]
            assert key == f"{prefix}sin_sgc/{radicado}/{filename}", key
        else:
            assert SAFE_SGC.fullmatch(sgc), sgc
            assert key == f"{prefix}{sgc}/{filename}", key
        assert posixpath.normpath(key) == key and "//" not in key, key
        assert "/" not in filename and "\\" not in filename and filename.isprintable(), key
        assert row["s3_url"] == f"s3://{row['s3_bucket']}/{key}"
        processed = company_folders(landing, empresa).processed
        assert Path(row["local_path"]).parent == processed, row["local_path"]
    registered = {row["s3_key"] for row in state.registry.values()}
    for key in state.keys:
        parts = key.split("/")
        if len(parts) == 6:
            assert parts[3] == "sin_sgc", key
            del parts[3]
        assert len(parts) == 5 and parts[0] == "oficina-virtual", key
        assert parts[1] in EMPRESAS and parts[2] == "raw_data", key
        assert SAFE_SGC.fullmatch(parts[3]) and parts[4] not in {"", ".", ".."}, key
        assert key in registered, f"object with no registry row: {key}"
    assert registered == set(state.keys), "registry and bucket disagree"


def check_no_personal_data(state: State, runs: Runs, log_text: str) -> None:
    texts = [text for _, text in state.quarantine.values()]
    texts.append(json.dumps(runs.summaries, ensure_ascii=False, default=str))
    texts.append(log_text)
    texts.extend(row["s3_key"] for row in state.registry.values())
    for text in texts:
        for value in PERSONAL_VALUES:
            assert value not in text, f"personal data {value!r} leaked into:\n{text[:2000]}"


def check_run(entries: list[Entry], good: list[Entry], state: State, runs: Runs, landing: Path,
              log_text: str) -> None:
    for entry in [*entries, *good]:
        check_entry(entry, state, landing)
    # Nothing but the corpus' quarantined entries is in quarantine.
    expected_q = {(e.empresa, escaped(e.name)) for e in entries
                  if e.outcome is Outcome.QUARANTINED}
    assert set(state.quarantine) == expected_q
    check_keys(state, landing)
    check_no_personal_data(state, runs, log_text)


def finished(entry: Entry) -> Entry:
    """The entry after its writer finished: its final name and the next run's outcome."""
    return replace(entry, name=entry.final_name, outcome=entry.then, fresh=False, becomes=None)


# --------------------------------------------------------------------------- tests


@pytest.fixture
def corpus_settings(settings):
    return replace(settings, settle_seconds=SETTLE_SECONDS)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """Outside the landing folder: where hostile symlinks point."""
    return tmp_path / "outside"


def _run_case(cases: list[Case], db, s3, bucket, landing, outside, settings,
              caplog) -> tuple[Runs, State, list[Entry]]:
    good = [e for empresa in EMPRESAS for e in GOOD[empresa]]
    entries = [e for case in cases for e in case.entries]
    materialize([*cases, _good_case()], landing, outside)
    before_outside = fingerprint(outside)
    runs = Runs()
    caplog.set_level("INFO")

    run_everything(db, s3, settings, runs, 1)
    state = State.read(db, s3, bucket, landing)
    check_run(entries, good, state, runs, landing, caplog.text)
    assert runs.total("upload", "s3_errors") == 0
    assert runs.total("extract", "files_quarantined") == len(state.quarantine)

    # The writers finish; the next run picks up what waited, and nothing else changes.
    waiting = [e for e in entries if e.outcome is Outcome.WAITING and e.then]
    for entry in waiting:
        finish_writing(entry, landing)
    entries = [finished(e) if e in waiting else e for e in entries]
    run_everything(db, s3, settings, runs, 2)
    state = State.read(db, s3, bucket, landing)
    check_run(entries, good, state, runs, landing, caplog.text)
    assert runs.total("extract", "files_quarantined", run=2) == 0
    assert runs.total("extract", "files_new", run=2) == len(waiting)

    # Idempotent: a third run finds nothing new to do.
    run_everything(db, s3, settings, runs, 3)
    assert runs.total("extract", "files_new", run=3) == 0
    assert runs.total("upload", "files", run=3) == 0
    assert State.read(db, s3, bucket, landing).registry == state.registry
    assert fingerprint(outside) == before_outside, "a symlink target was modified"
    assert "OUTSIDE-R1" not in {row["numero_radicado"] for row in state.rows.values()}
    return runs, state, entries


def _good_case() -> Case:
    return Case("good", "well-formed requests", tuple(e for es in GOOD.values() for e in es))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_case_ends_where_it_says(case: Case, db, s3, bucket, landing, outside,
                                      corpus_settings, caplog):
    _run_case([case], db, s3, bucket, landing, outside, corpus_settings, caplog)


def test_corpus_is_big_and_names_are_unique():
    entries = [(e.empresa, e.name) for c in CASES for e in c.entries]
    assert len(CASES) >= 25
    assert len(entries) == len(set(entries))
    assert len({c.name for c in CASES}) == len(CASES)
    quarantined = [e for c in CASES for e in c.entries if e.outcome is Outcome.QUARANTINED]
    assert all(e.reason for e in quarantined)


def test_a_300_character_file_name_cannot_reach_processed(landing):
    """Linux limits a name to 255 bytes: the corpus' longest name is the longest possible."""
    processed = company_folders(landing, "afinia").processed
    processed.mkdir(parents=True, exist_ok=True)
    with pytest.raises(OSError) as info:
        (processed / ("R" * 300 + "_data_20251008_093221.json")).write_bytes(b"{}")
    assert info.value.errno == errno.ENAMETOOLONG


def test_all_cases_in_one_landing_folder(db, s3, bucket, landing, outside, corpus_settings,
                                         caplog):
    cases = list(CASES)
    runs, state, final = _run_case(cases, db, s3, bucket, landing, outside, corpus_settings,
                                   caplog)
    first = [e for c in cases for e in c.entries]

    # Totals as the operators read them, from the first run's step summaries.
    by = {o: [e for e in first if e.outcome is o] for o in Outcome}
    good_files = sum(len(es) for es in GOOD.values())
    assert runs.total("extract", "files_quarantined", run=1) == len(by[Outcome.QUARANTINED])
    assert (runs.total("extract", "files_in_progress", run=1)
            + runs.total("extract", "files_waiting", run=1)) == len(by[Outcome.WAITING])
    reached_1 = len(by[Outcome.LOADED]) + len(by[Outcome.SUPERSEDED]) + len(by[Outcome.STORED])
    assert runs.total("upload", "s3_uploaded", run=1) == reached_1 + good_files
    assert runs.total("extract", "records_superseded", run=1) == len(by[Outcome.SUPERSEDED])
    assert runs.total("load", "db_inserted", run=1) == len(by[Outcome.LOADED]) + len(GOOD)

    # Files lost: an input that is in no table source, no registry row, not in
    # quarantine and not left in processed/ as waiting or unread.
    lost, tally = [], dict.fromkeys(("quarantined", "loaded", "waiting", "unread"), 0)
    for entry in final:
        key = (entry.empresa, entry.name)
        if key in state.registry or key in state.rows:
            tally["loaded"] += 1
        elif (entry.empresa, escaped(entry.name)) in state.quarantine:
            tally["quarantined"] += 1
        elif entry.name in state.processed[entry.empresa]:
            tally["waiting" if entry.outcome is Outcome.WAITING else "unread"] += 1
        else:
            lost.append(key)
    assert lost == []
    tried = len(first)
    assert sum(tally.values()) == tried
    assert tally["quarantined"] == len(by[Outcome.QUARANTINED])
    assert tally["unread"] == len(by[Outcome.NOT_DESCENDED])
    print(f"\nlanding inputs: {tried} tried, {tally['quarantined']} quarantined, "
          f"{tally['loaded']} loaded, {len(lost)} lost")
    print(f"  ({len(cases)} cases; of the loaded, {len(by[Outcome.SUPERSEDED])} superseded by a "
          f"newer extraction and {len(by[Outcome.WAITING]) - tally['waiting']} loaded by the "
          f"next run once written; {tally['waiting']} left in processed/ as temporary or "
          f"hidden files; {tally['unread']} sub-folders left unread)")


@pytest.mark.parametrize("victim", ["json", "pdf"])
def test_file_removed_by_someone_during_the_run(victim, db, s3, bucket, landing,
                                                corpus_settings, monkeypatch):
    """An operator moves a file away while extract runs: the run must still complete."""
    from extractorov import landing as landing_module

    materialize([_good_case()], landing, landing.parent / "outside")
    gone = company_folders(landing, "afinia").processed / (
        "GOODAFINIA_data_20251008_093221.json" if victim == "json"
        else "GOODAFINIA_20251008_093221.pdf")

    def scan_then_remove(*args, **kwargs):
        found = landing_module.scan(*args, **kwargs)
        if gone.exists():
            gone.unlink()
        return found

    monkeypatch.setattr(extract_step, "scan", scan_then_remove)
    run_everything(db, s3, corpus_settings, Runs(), 1)
    state = State.read(db, s3, bucket, landing)
    assert ("afinia", gone.name) not in state.registry
    check_keys(state, landing)


def test_operator_fixes_quarantined_files_and_puts_them_back(db, s3, bucket, landing, outside,
                                                             corpus_settings, caplog):
    """Quarantine is a way back, not a dead end: fixed files load on the next run."""
    from tests.landing_corpus import data_name, js, pdf_bytes, pdf_name, q, record, stored, waiting

    bad = Case("to_fix", "a bad date; a PDF that arrived before its JSON", (
        q(data_name("HX40"), js(record("HX40", fecha="ayer")), "fecha is not a date"),
        stored(pdf_name("HX40"), pdf_bytes("HX40")),  # real SGC: filed although its JSON is not
        waiting(pdf_name("HX41"), pdf_bytes("HX41")),  # waits for its JSON
    ))
    materialize([bad, _good_case()], landing, outside)
    runs = Runs()
    run_everything(db, s3, corpus_settings, runs, 1)
    good = [e for es in GOOD.values() for e in es]
    check_run(list(bad.entries), good, State.read(db, s3, bucket, landing), runs, landing,
              caplog.text)

    folders = company_folders(landing, "afinia")
    fixed = Case("fixed", "the operator's repair", (
        Entry(data_name("HX40"), Outcome.LOADED, js(record("HX40"))),
        Entry(pdf_name("HX40"), Outcome.STORED, pdf_bytes("HX40")),
        Entry(data_name("HX41"), Outcome.LOADED, js(record("HX41"))),
        Entry(pdf_name("HX41"), Outcome.STORED, pdf_bytes("HX41")),
    ))
    for name in (data_name("HX40"),):
        os.replace(folders.quarantine / name, folders.processed / name)
        (folders.quarantine / f"{name}.reason.txt").unlink()
    materialize([Case("fix", "", fixed.entries[0::2])], landing, outside)  # the two JSONs
    run_everything(db, s3, corpus_settings, runs, 2)
    state = State.read(db, s3, bucket, landing)
    check_run(list(fixed.entries), good, state, runs, landing, caplog.text)
    assert runs.total("extract", "files_quarantined", run=2) == 0
