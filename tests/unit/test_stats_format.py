"""Tests for the pure parts of ``extractorov.stats``: run reports and their tables."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import pytest

from extractorov.stats import (
    RunReport,
    _table,
    build_run_report,
    format_registry_stats,
    format_run_report,
)

LOGICAL = datetime(2025, 10, 8, 9, 0, tzinfo=UTC)
START = datetime(2025, 10, 7, 9, 0, tzinfo=UTC)
END = datetime(2025, 10, 8, 9, 0, tzinfo=UTC)
ALL_SUCCESS = {"extract": "success", "load_db": "success", "upload_s3": "success",
               "report": "running"}


def extract_summary() -> dict[str, Any]:
    """Shaped like ``asdict(ExtractSummary)`` in extract.py."""
    return {
        "files_found": 12,
        "files_new": 9,
        "files_quarantined": 2,
        "files_in_progress": 1,
        "files_handled_before": 1,
        "files_registered": 9,
        "records_found": 5,
        "records_superseded": 1,
        "records": 4,
        "bytes_new": 987_654,
        "manifest": "/landing/afinia/oficina_virtual/manifests/run.jsonl",
        "quarantine_reasons": {"invalid request JSON": 2},
        "seconds": 1.5,
    }


def load_summary() -> dict[str, Any]:
    return {"records": 4, "db_inserted": 2, "db_updated": 1, "db_duplicates": 1,
            "db_errors": 0, "json_files_loaded": 4, "seconds": 0.25}


def upload_summary() -> dict[str, Any]:
    return {"files": 9, "s3_uploaded": 7, "s3_pre_existing": 1, "s3_errors": 1,
            "s3_bytes": 5 * 1024 * 1024, "errors_by_reason": {"x": 1}, "seconds": 3.0}


def build(**overrides: Any) -> RunReport:
    kwargs: dict[str, Any] = {
        "run_id": "scheduled__2025-10-08T09:00:00+00:00",
        "empresa": "afinia",
        "dag_id": "ov_afinia",
        "logical_date": LOGICAL,
        "data_interval_start": START,
        "data_interval_end": END,
        "database_only": False,
        "extract": extract_summary(),
        "load": load_summary(),
        "upload": upload_summary(),
        "task_states": dict(ALL_SUCCESS),
    }
    kwargs.update(overrides)
    return build_run_report(**kwargs)


def table_rows(text: str) -> list[list[str]]:
    """Cells of the data lines of a ``_table`` (header included)."""
    return [[c.strip() for c in line.strip("|").split("|")]
            for line in text.splitlines() if line.startswith("| ")]


# --------------------------------------------------------------------------- build_run_report


class TestBuildRunReport:
    def test_counts_copied(self) -> None:
        report = build()
        assert (report.run_id, report.empresa, report.dag_id) == (
            "scheduled__2025-10-08T09:00:00+00:00", "afinia", "ov_afinia")
        assert report.logical_date == LOGICAL
        assert (report.data_interval_start, report.data_interval_end) == (START, END)
        assert (report.files_found, report.files_new, report.files_quarantined,
                report.files_in_progress, report.files_registered) == (12, 9, 2, 1, 9)
        assert (report.records_found, report.records_superseded) == (5, 1)
        assert (report.db_inserted, report.db_updated, report.db_duplicates,
                report.db_errors) == (2, 1, 1, 0)
        assert (report.s3_uploaded, report.s3_pre_existing, report.s3_errors,
                report.s3_bytes) == (7, 1, 1, 5 * 1024 * 1024)
        assert (report.extract_seconds, report.load_seconds, report.upload_seconds) == (
            1.5, 0.25, 3.0)
        assert report.status == "success"
        assert report.s3_skipped is False
        assert report.database_only is False

    def test_unknown_and_non_numeric_keys_ignored(self) -> None:
        report = build(extract={"files_found": 3, "manifest": "/x", "nonsense": 99,
                                "run_id": "other", "empresa": "aire", "status": "failed",
                                "task_states": {"extract": "failed"}})
        assert report.files_found == 3
        assert report.run_id == "scheduled__2025-10-08T09:00:00+00:00"
        assert report.empresa == "afinia"
        assert report.status == "success"
        assert report.task_states == ALL_SUCCESS
        assert not hasattr(report, "nonsense")

    def test_booleans_ignored(self) -> None:
        report = build(
            database_only=False,
            extract={"files_found": True, "files_new": 4, "database_only": True},
            upload={"s3_uploaded": False, "s3_errors": True, "s3_pre_existing": 2,
                    "s3_skipped": True},
        )
        assert report.files_found == 0
        assert report.files_new == 4
        assert report.database_only is False
        assert report.s3_uploaded == 0
        assert report.s3_errors == 0
        assert report.s3_pre_existing == 2
        assert report.s3_skipped is False

    def test_missing_summaries(self) -> None:
        report = build(extract=None, load=None, upload=None,
                       task_states={"extract": "success", "load_db": "success",
                                    "upload_s3": "skipped"})
        assert report.files_found == 0
        assert report.db_inserted == 0
        assert (report.extract_seconds, report.load_seconds, report.upload_seconds) == (
            None, None, None)
        assert report.status == "success"

    @pytest.mark.parametrize("state", ["failed", "upstream_failed"])
    @pytest.mark.parametrize("task", ["extract", "load_db", "upload_s3"])
    def test_failed_task_fails_the_run(self, task: str, state: str) -> None:
        report = build(task_states={**ALL_SUCCESS, task: state})
        assert report.status == "failed"
        assert report.task_states[task] == state

    @pytest.mark.parametrize("state", ["success", "skipped", "running", "up_for_retry", "queued"])
    def test_other_states_do_not_fail_the_run(self, state: str) -> None:
        report = build(task_states={**ALL_SUCCESS, "upload_s3": state})
        assert report.status == "success"

    def test_database_only_skips_s3(self) -> None:
        report = build(database_only=True, upload=None,
                       task_states={**ALL_SUCCESS, "upload_s3": "skipped"})
        assert report.s3_skipped is True
        assert report.database_only is True
        assert report.status == "success"

    def test_database_only_skips_s3_whatever_the_task_state(self) -> None:
        assert build(database_only=True).s3_skipped is True

    def test_upload_task_skipped_means_s3_skipped(self) -> None:
        report = build(upload=None, task_states={**ALL_SUCCESS, "upload_s3": "skipped"})
        assert report.s3_skipped is True

    def test_failed_load_counts_unloaded_records_as_errors(self) -> None:
        report = build(load=None, upload=None,
                       task_states={"extract": "success", "load_db": "failed",
                                    "upload_s3": "upstream_failed"})
        assert report.db_errors == 4  # records_found 5 - superseded 1
        assert report.status == "failed"

    def test_task_states_copied(self) -> None:
        states = dict(ALL_SUCCESS)
        report = build(task_states=states)
        states["load_db"] = "failed"
        assert report.task_states["load_db"] == "success"


class TestAsXcom:
    def test_json_serializable(self) -> None:
        data = build().as_xcom()
        decoded = json.loads(json.dumps(data))
        assert decoded == data
        assert data["logical_date"] == "2025-10-08T09:00:00+00:00"
        assert data["data_interval_start"] == "2025-10-07T09:00:00+00:00"
        assert data["data_interval_end"] == "2025-10-08T09:00:00+00:00"
        assert data["db_inserted"] == 2
        assert data["task_states"] == ALL_SUCCESS

    def test_has_every_field(self) -> None:
        assert set(build().as_xcom()) == {f.name for f in fields(RunReport)}

    def test_missing_dates_are_none(self) -> None:
        data = build(logical_date=None, data_interval_start=None,
                     data_interval_end=None).as_xcom()
        json.dumps(data)
        assert data["logical_date"] is None
        assert data["data_interval_start"] is None


# --------------------------------------------------------------------------- format_run_report


class TestFormatRunReport:
    def test_counts_and_title(self) -> None:
        text = format_run_report(build())
        title = text.splitlines()[0]
        assert title == ("ov_afinia run scheduled__2025-10-08T09:00:00+00:00: SUCCESS "
                         "(database_only=false)")
        rows = {row[0]: row[1:] for row in table_rows(text)}
        assert rows["step"] == ["counts", "time"]
        assert rows["extract"] == [
            "found 12, new 9, quarantined 2, in progress 1, waiting for their JSON 0, "
            "registered 9", "1.5s"]
        assert rows["load_db"] == [
            "records 5 (superseded 1, incomplete 0), inserted 2, updated 1, duplicates 1, stale 0, "
            "errors 0", "0.2s"]
        assert rows["upload_s3"] == [
            "uploaded 7, pre_existing 1, errors 1, 5.00 MiB", "3.0s"]
        assert "skipped" not in text

    def test_skipped_when_database_only(self) -> None:
        text = format_run_report(build(database_only=True, upload=None,
                                       task_states={**ALL_SUCCESS, "upload_s3": "skipped"}))
        assert "(database_only=true)" in text.splitlines()[0]
        rows = {row[0]: row[1:] for row in table_rows(text)}
        assert rows["upload_s3"] == ["skipped (database_only)", "-"]
        assert "uploaded" not in text

    def test_failed_status_in_title(self) -> None:
        text = format_run_report(build(task_states={**ALL_SUCCESS, "load_db": "failed"}))
        assert ": FAILED (database_only=false)" in text.splitlines()[0]

    def test_missing_times_are_dashes(self) -> None:
        text = format_run_report(build(extract=None, load=None, upload=None))
        for row in table_rows(text)[1:]:
            assert row[-1] == "-"


# --------------------------------------------------------------------------- _table


class TestTable:
    def test_shape_and_alignment(self) -> None:
        text = _table(["empresa", "files", "note"],
                      [["afinia", 5, "ok"], ["aire", 1234, "longer note"], ["7", 3, "x"]])
        lines = text.splitlines()
        assert len({len(line) for line in lines}) == 1
        border = "+-" + "-+-".join(["-" * 7, "-" * 5, "-" * 11]) + "-+"
        assert lines[0] == lines[2] == lines[-1] == border
        assert len(lines) == 7
        assert lines[1] == "| empresa | files | note        |"
        assert lines[3] == "| afinia  |     5 | ok          |"
        assert lines[4] == "| aire    |  1234 | longer note |"
        # first column left-aligned even when it looks like a number
        assert lines[5] == "| 7       |     3 | x           |"

    def test_header_only(self) -> None:
        assert _table(["a", "bb"], []).splitlines() == [
            "+---+----+", "| a | bb |", "+---+----+", "+---+----+"]

    def test_wide_values_widen_columns(self) -> None:
        text = _table(["x"], [["a" * 20]])
        assert all(len(line) == 24 for line in text.splitlines())


# --------------------------------------------------------------------------- registry stats


def registry_stats() -> dict[str, Any]:
    mib = 1024 * 1024
    return {
        "totals": {"total_files": 10, "total_size_bytes": 10 * mib},
        "by_company_status": {
            "aire": {"uploaded": {"count": 2, "size_bytes": 2 * mib}},
            "afinia": {
                "uploaded": {"count": 5, "size_bytes": 5 * mib},
                "pending": {"count": 2, "size_bytes": 2 * mib},
                "error": {"count": 1, "size_bytes": mib // 2},
            },
        },
        "by_company_source": {
            "afinia": {"bot": {"count": 8, "size_bytes": 7 * mib + mib // 2}},
            "aire": {"bot": {"count": 1, "size_bytes": mib},
                     "pre_existing": {"count": 1, "size_bytes": mib}},
        },
        "by_status": {},
    }


class TestFormatRegistryStats:
    def test_rows(self) -> None:
        text = format_registry_stats(registry_stats())
        assert text.splitlines()[0] == "s3_files_registry"
        rows = table_rows(text)
        assert rows[0] == ["empresa", "group", "files", "size"]
        assert rows[1:] == [
            ["afinia", "status=error", "1", "512.00 KiB"],
            ["afinia", "status=pending", "2", "2.00 MiB"],
            ["afinia", "status=uploaded", "5", "5.00 MiB"],
            ["afinia", "source=bot", "8", "7.50 MiB"],
            ["aire", "status=uploaded", "2", "2.00 MiB"],
            ["aire", "source=bot", "1", "1.00 MiB"],
            ["aire", "source=pre_existing", "1", "1.00 MiB"],
            ["ALL", "total", "10", "10.00 MiB"],
        ]

    def test_empty_registry(self) -> None:
        stats = {"totals": {"total_files": 0, "total_size_bytes": 0},
                 "by_company_status": {}, "by_company_source": {}, "by_status": {}}
        rows = table_rows(format_registry_stats(stats))
        assert rows == [["empresa", "group", "files", "size"], ["ALL", "total", "0", "0 B"]]

    def test_company_without_source_breakdown(self) -> None:
        stats = registry_stats()
        del stats["by_company_source"]["aire"]
        rows = table_rows(format_registry_stats(stats))
        assert ["aire", "status=uploaded", "2", "2.00 MiB"] in rows
        assert not any(r[0] == "aire" and r[1].startswith("source=") for r in rows)


def test_quarantine_states_are_counted_and_shown_only_when_something_went_wrong() -> None:
    quiet = build()
    assert (quiet.files_quarantine_failed, quiet.files_reason_lost) == (0, 0)
    assert "disk full" not in format_run_report(quiet)
    assert "reason lost" not in format_run_report(quiet)
    report = build(extract={**extract_summary(), "files_quarantine_failed": 2,
                            "files_reason_lost": 1},
                   task_states={**ALL_SUCCESS, "extract": "failed"})
    assert (report.files_quarantine_failed, report.files_reason_lost) == (2, 1)
    text = format_run_report(report)
    assert "quarantined 2, could not be quarantined (disk full?) 2, in quarantine/ with " \
           "reason lost 1, in progress 1" in text
