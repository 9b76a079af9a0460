"""``check_data`` judges the rows its run loaded: it passes a run with no records, a
re-scrape with one radicado in two JSONs, a cleared run or task, and is never failed by
an older row (real PostgreSQL, the task body of :mod:`extractorov.tasks`)."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from extractorov import pipeline, tasks, warehouse
from tests.helpers import task_context as _context
from tests.helpers import write_request
from tests.landing_files import AFINIA

pytestmark = pytest.mark.integration


def _check(extracted, loaded) -> dict:
    from collections import defaultdict
    from types import SimpleNamespace

    context = {"run_id": "manual__checks",
               "outlet_events": defaultdict(lambda: SimpleNamespace(extra=None))}
    return tasks.check_data(AFINIA, asdict(extracted), asdict(loaded), context)


def test_check_data_passes_a_run_with_zero_records(db, settings, landing):
    extracted = pipeline.extract(db, AFINIA, settings, "empty")
    loaded = pipeline.load(db, AFINIA, extracted.manifest)
    assert _check(extracted, loaded)["failed"] == []


def test_check_data_passes_a_rescrape_with_one_radicado_in_two_jsons(db, settings, landing):
    write_request(landing, "afinia", "RE1", "R-1", ts="20251008_093221")
    write_request(landing, "afinia", "RE1", "R-1", ts="20251008_101500",
                  estado_solicitud="Cerrado")
    write_request(landing, "afinia", "RE2", "R-2")
    extracted = pipeline.extract(db, AFINIA, settings, "rescrape")
    loaded = pipeline.load(db, AFINIA, extracted.manifest)
    assert (extracted.records_found, loaded.records) == (3, 2)
    assert _check(extracted, loaded)["failed"] == []


def test_check_data_passes_a_cleared_run_and_a_cleared_check_alone(db, settings, landing):
    write_request(landing, "afinia", "RE1", "R-1")
    write_request(landing, "afinia", "RE2", "R-2")
    first = pipeline.extract(db, AFINIA, settings, "run-1")
    loaded = pipeline.load(db, AFINIA, first.manifest)
    assert _check(first, loaded)["failed"] == []
    # load_db cleared alone: its manifest was loaded and committed, so it reports what the
    # run loaded and loads nothing again.
    again = pipeline.load(db, AFINIA, first.manifest)
    assert (again.db_inserted, again.db_duplicates, again.json_files_loaded) == (2, 0, 2)
    assert _check(first, again)["failed"] == []
    # The whole run cleared: extract finds the JSONs loaded, the manifest is empty.
    cleared = pipeline.extract(db, AFINIA, settings, "run-1")
    reloaded = pipeline.load(db, AFINIA, cleared.manifest)
    assert reloaded.records == 0
    assert _check(cleared, reloaded)["failed"] == []
    # check_data cleared alone after that: it reads the same XComs, same answer.
    assert _check(cleared, reloaded)["failed"] == []


def test_a_run_that_loaded_nothing_is_not_failed_by_an_older_row(db, settings, landing):
    """A regression test: the fecha checks looked at the whole table, so one bad old row
    failed ``check_data`` of every later run, even one that loaded nothing, and "clear this
    task" failed again. The checks look at the run's own rows."""
    warehouse.ensure_schema(db, [AFINIA])
    with db.cursor() as cur:  # loaded by an earlier run, already reported by it
        cur.execute("""INSERT INTO data_general.ov_afinia (numero_radicado, fecha,
                       hash_registro, hash_contenido)
                       VALUES ('R-OLD', now() + interval '90 days', 'h', 'h')""")
    db.commit()
    extracted = pipeline.extract(db, AFINIA, settings, "quiet-day")  # nothing new
    loaded = pipeline.load(db, AFINIA, extracted.manifest)
    assert loaded.records == 0
    context = _context("quiet-day")
    tasks.check_data(AFINIA, asdict(extracted), asdict(loaded), context)
    (event,) = context["outlet_events"].values()  # checks passed: the table's event
    assert event.extra["records"] == 0 and event.extra["checks"] == "passed"
