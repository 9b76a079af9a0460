"""One folder per request: a request's files live under one S3 folder, whenever its SGC
is learned.

The bot sometimes cannot read a request's SGC (placeholder ``PQR_3_ERROR``): its files
are filed under ``sin_sgc/{numero_radicado}/``. When a later scrape of the same request
brings the real SGC, the request's row takes it, and its earlier files follow it to
``{sgc}/``: the registry rows at once (load_db), the objects by the next upload (copy,
check, delete the old key). Whatever cannot follow (another object at the target key)
is reported by ``ov_s3_reconcile`` as ``request_split`` for a human.
"""

from __future__ import annotations

import pytest

from extractorov import pipeline, reconcile
from extractorov.errors import UploadIncomplete
from tests.helpers import list_keys, query
from tests.landing_files import AFINIA, prefix, registry_keys, run_all, stamp, write_json, write_pdf

pytestmark = pytest.mark.integration


def _day(db, s3, settings, run_id: str, *, upload: bool = True):
    extracted = pipeline.extract(db, AFINIA, settings, run_id)
    loaded = pipeline.load(db, AFINIA, extracted.manifest, run_id=run_id)
    uploaded = pipeline.upload(db, s3, AFINIA, settings, run_id=run_id) if upload else None
    return extracted, loaded, uploaded


def _first_scrape_without_sgc(landing) -> list[str]:
    return [write_pdf(landing, "PQR_3_ERROR", 0, "first scrape"),
            write_json(landing, "PQR_3_ERROR", "R-801", 5)]


def _second_scrape_with_sgc(landing) -> list[str]:
    return [write_pdf(landing, "RE801", 86_400, "second scrape"),
            write_json(landing, "RE801", "R-801", 86_405)]


def test_an_sgc_learned_on_a_later_scrape_takes_the_request_to_its_folder(
        db, s3, bucket, settings, landing):
    first = _first_scrape_without_sgc(landing)
    _day(db, s3, settings, "day-1")
    assert sorted(list_keys(s3, bucket)) == sorted(
        f"{prefix()}sin_sgc/R-801/{name}" for name in first)

    second = _second_scrape_with_sgc(landing)
    _, loaded, uploaded = _day(db, s3, settings, "day-2")
    assert loaded.db_updated == 1
    assert sorted(list_keys(s3, bucket)) == sorted(
        f"{prefix()}RE801/{name}" for name in first + second)
    assert query(db, "SELECT DISTINCT numero_reclamo_sgc, moving_from FROM "
                     "data_general.s3_files_registry") == [("RE801", None)]
    assert query(db, "SELECT numero_reclamo_sgc FROM data_general.ov_afinia") == [("RE801",)]
    assert uploaded.s3_moved == 2 and uploaded.s3_uploaded == 2
    # Every object at its new key is the registered file (copied, checked).
    for key in list_keys(s3, bucket):
        head = s3.head_object(Bucket=bucket, Key=key)
        [(digest,)] = query(db, "SELECT file_hash FROM data_general.s3_files_registry "
                                "WHERE s3_key = %s", key)
        assert head["Metadata"]["file-hash"] == digest
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check")
    assert [f.kind for f in report.findings] == []


def test_a_move_stopped_midway_is_finished_by_the_next_upload(
        db, s3, bucket, settings, landing, monkeypatch):
    _first_scrape_without_sgc(landing)
    _day(db, s3, settings, "day-1")
    _second_scrape_with_sgc(landing)
    real_delete = s3.delete_object

    def dies(**kwargs):  # the copies are made; S3 fails before the old keys go
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(s3, "delete_object", dies)
    with pytest.raises((UploadIncomplete, ConnectionResetError)):
        _day(db, s3, settings, "day-2")
    monkeypatch.setattr(s3, "delete_object", real_delete)
    # Meanwhile the hourly check neither registers the old objects as strangers nor
    # calls the request split: the move is under way.
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check", upload=False)
    assert {f.kind for f in report.findings} <= {"request_refiled"}
    again = pipeline.upload(db, s3, AFINIA, settings, run_id="day-2-retry")
    assert again.s3_moved == 2
    assert all("/RE801/" in key for key in list_keys(s3, bucket))


def test_a_request_that_cannot_follow_its_sgc_is_asked_about(
        db, s3, bucket, settings, landing):
    first = _first_scrape_without_sgc(landing)
    _day(db, s3, settings, "day-1")
    # Someone put another file at the key the first PDF would take.
    s3.put_object(Bucket=bucket, Key=f"{prefix()}RE801/{first[0]}", Body=b"not the same")
    _second_scrape_with_sgc(landing)
    with pytest.raises(UploadIncomplete, match="request split"):
        _day(db, s3, settings, "day-2")
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check")
    split = [f for f in report.findings if f.kind == "request_split"]
    assert len(split) == 1 and split[0].needs_human and split[0].subject == "R-801"
    assert split[0].s3_key == f"{prefix()}sin_sgc/R-801/{first[0]}"
    keys = list_keys(s3, bucket)
    assert f"{prefix()}sin_sgc/R-801/{first[0]}" in keys  # never deleted without its copy


def test_database_only_days_then_the_hourly_check_moves_the_request(
        db, s3, bucket, settings, landing):
    first = _first_scrape_without_sgc(landing)
    _day(db, s3, settings, "day-1")
    second = _second_scrape_with_sgc(landing)
    _day(db, s3, settings, "day-2", upload=False)  # database_only
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check")
    assert "object_unregistered" not in {f.kind for f in report.findings}
    assert report.upload["s3_moved"] == 2
    assert sorted(list_keys(s3, bucket)) == sorted(
        f"{prefix()}RE801/{name}" for name in first + second)
    assert query(db, "SELECT s3_moved FROM data_general.post_processing_runs "
                     "WHERE run_id = 'check'") == [(2,)]


def _folders_of(keys) -> set[str]:
    return {key[len(prefix()):].rsplit("/", 1)[0] for key in keys}


def test_a_request_whose_sgc_changes_a_second_time_follows_it_again(
        db, s3, bucket, settings, landing):
    # Day 1: the bot could not read the SGC (placeholder): sin_sgc/R-801/.
    write_pdf(landing, "PQR_3_ERROR", 0, "first scrape")
    write_json(landing, "PQR_3_ERROR", "R-801", 5)
    _day(db, s3, settings, "day-1")
    # Day 2: a re-scrape of R-801 reads SGC RE801: the request's files follow it (moved).
    write_pdf(landing, "RE801", 86_400, "second scrape")
    write_json(landing, "RE801", "R-801", 86_405)
    _day(db, s3, settings, "day-2")
    assert _folders_of(list_keys(s3, bucket)) == {"RE801"}
    # Day 3: a re-scrape of R-801 reads SGC RE805 (the first read was another field, or
    # the portal re-numbered it); the row takes the newest extraction's SGC.
    write_pdf(landing, "RE805", 172_800, "third scrape")
    write_json(landing, "RE805", "R-801", 172_805)
    _day(db, s3, settings, "day-3")
    assert query(db, "SELECT numero_reclamo_sgc FROM data_general.ov_afinia") == [("RE805",)]

    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check")
    folders = _folders_of(list_keys(s3, bucket))
    # One request, one folder: either its files followed it to RE805/, or the hourly check
    # asks a human about the split.
    assert folders == {"RE805"} or any(f.needs_human for f in report.findings), (
        f"R-801 is filed in {sorted(folders)} and the check found "
        f"{[f.kind for f in report.findings]}")


def test_an_object_found_in_a_requests_sin_sgc_folder_without_a_checksum_follows_it(
        db, s3, bucket, settings, landing):
    """An object put by hand under sin_sgc/R-801/ (an operator restoring a scan through the
    console: no file-hash metadata, no SHA-256 checksum) is registered by the hourly check
    as pre_existing with an unknown SHA-256. When R-801's SGC is learned, the move compares
    the object's SHA-256 with 'unknown': 'the object in sin_sgc/ is not this file', for
    ever; every upload_s3 of the company fails from then on."""
    from extractorov.errors import UploadIncomplete

    write_pdf(landing, "PQR_3_ERROR", 0, "first scrape")
    write_json(landing, "PQR_3_ERROR", "R-801", 5)
    _day(db, s3, settings, "day-1")
    s3.put_object(Bucket=bucket, Key=f"{prefix()}sin_sgc/R-801/carta_respuesta.pdf",
                  Body=b"%PDF-1.4 the company's reply letter, restored by hand")
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    assert query(db, "SELECT upload_status, file_hash FROM data_general.s3_files_registry "
                     "WHERE filename = 'carta_respuesta.pdf'") == [("pre_existing", None)]

    write_pdf(landing, "RE801", 86_400, "second scrape")
    write_json(landing, "RE801", "R-801", 86_405)
    failures = []
    for day, offset in (("day-2", 0), ("day-3", 86_400)):
        if offset:
            write_pdf(landing, "RE900", 86_400 + offset, "another request")
            write_json(landing, "RE900", "R-900", 86_405 + offset)
        try:
            _day(db, s3, settings, day)
        except UploadIncomplete as exc:
            failures.append(f"{day}: {exc}"[:200])
    assert not failures, "\n".join(failures)


def test_a_moving_file_whose_object_is_in_neither_folder_is_sent_again_from_its_local_copy(
        db, s3, bucket, settings, landing):
    """The move reads ``has_local_copy``: a SQL ``NOT`` over a missing ``metadata.review``
    made it NULL for every row no review touched, so a file whose object had gone from
    ``sin_sgc/`` failed with "no local copy to upload from" while its copy was there."""
    first = _first_scrape_without_sgc(landing)
    _day(db, s3, settings, "day-1")
    for name in first:
        s3.delete_object(Bucket=bucket, Key=f"{prefix()}sin_sgc/R-801/{name}")
    second = _second_scrape_with_sgc(landing)
    _, _, uploaded = _day(db, s3, settings, "day-2")
    assert uploaded.s3_errors == 0 and uploaded.s3_uploaded == 4
    assert sorted(list_keys(s3, bucket)) == sorted(
        f"{prefix()}RE801/{name}" for name in first + second)


# --------------------------------------------------------------------------- re-scrapes


def test_placeholder_rescrape_same_folder_and_rerun_keeps_updated_at(db, s3, bucket, settings,
                                                                     landing):
    first = [write_pdf(landing, "PQR_4_ERROR", 0, "A"),
             write_json(landing, "PQR_4_ERROR", "R-1", 5)]
    run_all(db, s3, settings, "run-1")
    [(updated,)] = query(db, "SELECT updated_at FROM data_general.ov_afinia")
    again = [write_pdf(landing, f"PQR_9_{stamp(86_000)}", 86_400, "A2"),
             write_json(landing, f"PQR_9_{stamp(86_000)}", "R-1", 86_405)]
    old = [write_pdf(landing, "pqr_2", 90_000, "A3"), write_json(landing, "pqr_2", "R-1", 90_005)]
    _, loaded, _ = run_all(db, s3, settings, "run-2")
    assert loaded.db_duplicates == 1 and loaded.db_updated == 0
    run_all(db, s3, settings, "run-3")
    keys = registry_keys(db)
    assert {keys[n].rsplit("/", 1)[0] for n in first + again + old} == {
        f"{prefix()}sin_sgc/R-1"}
    assert query(db, "SELECT numero_reclamo_sgc, extras->>'sgc_placeholder', updated_at "
                     "FROM data_general.ov_afinia") == [(None, "PQR_4_ERROR", updated)]


def test_rescrape_that_misses_the_sgc_keeps_the_request_in_one_folder(db, s3, bucket, settings,
                                                                      landing):
    """A regression test (promises 1/3). A request first scraped with its real SGC RE800
    (folder RE800/). A later re-scrape of the same request (same numero_radicado) fails to
    read the SGC (PQR_2_ERROR). Before its fix the newer extraction was 'updated': the row's
    numero_reclamo_sgc became NULL and the re-scrape's files went to sin_sgc/R-800/: one
    request in two folders, and the table forgot its SGC. The rule: the known SGC of the
    radicado wins, and the re-scrape is filed under it."""
    first = [write_pdf(landing, "RE800", 0, "x"), write_json(landing, "RE800", "R-800", 5)]
    run_all(db, s3, settings, "run-1")
    again = [write_pdf(landing, "PQR_2_ERROR", 86_400, "y"),
             write_json(landing, "PQR_2_ERROR", "R-800", 86_405)]
    run_all(db, s3, settings, "run-2")
    [(sgc,)] = query(db, "SELECT numero_reclamo_sgc FROM data_general.ov_afinia")
    keys = registry_keys(db)
    folders = {keys[n].rsplit("/", 1)[0] for n in first + again}
    assert (sgc, folders) == ("RE800", {f"{prefix()}RE800"})
