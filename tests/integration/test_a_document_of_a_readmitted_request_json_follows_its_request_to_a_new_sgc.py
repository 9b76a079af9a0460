"""A regression test (hostile-review-4.md).

one folder per request. A document filed while its real-SGC request JSON was
quarantined (``FOLDER_JSON_QUARANTINED``: the bot was killed mid-write, or the portal
changed a ``fecha`` format) is registered with ``metadata.request_json`` = that JSON and
**no** ``numero_radicado`` (the JSON is not registered, so ``register_pending`` has none to
copy). When the JSON is fixed and re-admitted (``readmit_quarantine=true``, as
docs/operacion.md says after a parser change) and loaded, the document's row is not staged
again, so it never gets its request's number. Everything that follows a request by its
number then misses it: when a later scrape brings the request's corrected SGC,
``follow_sgc`` moves the request's JSON to the new folder and leaves its detail PDF in the
old SGC's folder (another request's folder once that SGC is reused), and
``split_requests`` (grouped by number) does not see the split, so no one is asked."""

from __future__ import annotations

import pytest

from extractorov import landing, pipeline, registry
from tests.helpers import list_keys, query
from tests.landing_files import AFINIA, prefix, run_all, write, write_json, write_pdf

pytestmark = pytest.mark.integration

JSON_CUT = '{\n  "record_number": 4,\n  "sgc_number": "RE1",\n  "numero_radicado": "R-1",\n  "fec'


def _filed_then_resgc(db, s3, bucket, settings, landing_root) -> tuple[str, str]:
    pdf = write_pdf(landing_root, "RE1", 0, "detalle de R-1")
    json_name = write_json(landing_root, "RE1", "R-1", 8)
    good = (landing.company_folders(landing_root, "afinia").processed / json_name).read_bytes()
    write(landing_root, json_name, JSON_CUT)  # the bot was killed mid-write
    run_all(db, s3, settings, "day-1")
    assert query(db, "SELECT s3_key, metadata ->> 'request_json' FROM "
                     "data_general.s3_files_registry WHERE filename = %s", pdf) == [
        (prefix() + "RE1/" + pdf, json_name)]  # filed to its SGC's folder (holds)
    # The operator restores the JSON in quarantine/ and validates quarantine again.
    entry = next(q for q in landing.read_quarantine(landing.company_folders(landing_root,
                                                                            "afinia"))
                 if q.original_name == json_name)
    entry.path.write_bytes(good)
    summary = pipeline.extract(db, AFINIA, settings, "day-2", readmit_quarantine=True)
    pipeline.load(db, AFINIA, summary.manifest)
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-2")
    assert query(db, "SELECT numero_reclamo_sgc FROM data_general.ov_afinia") == [("RE1",)]
    # Weeks later the portal shows R-1 with its corrected SGC RE7.
    write_pdf(landing_root, "RE7", 40 * 86400, "detalle de R-1, SGC corregido")
    write_json(landing_root, "RE7", "R-1", 40 * 86400 + 9)
    run_all(db, s3, settings, "day-40")
    return pdf, json_name


def test_a_document_of_a_readmitted_request_json_follows_its_request_to_a_new_sgc(
        db, s3, bucket, settings, landing):
    pdf, json_name = _filed_then_resgc(db, s3, bucket, settings, landing)
    keys = list_keys(s3, bucket)
    assert prefix() + "RE7/" + json_name in keys  # the request moved (holds)
    split = registry.split_requests(db, "afinia", bucket)
    db.rollback()
    # Either its detail PDF followed it, or the split is reported: never silently left.
    assert prefix() + "RE7/" + pdf in keys or split, (
        f"R-1's detail PDF stays in RE1/ unreported: {sorted(keys)}")


def test_a_document_of_a_readmitted_request_json_is_recorded_as_its_requests(
        db, s3, bucket, settings, landing):
    pdf, json_name = _filed_then_resgc(db, s3, bucket, settings, landing)
    assert query(db, "SELECT numero_radicado, metadata ->> 'request_json' FROM "
                     "data_general.s3_files_registry WHERE filename = %s", pdf) == [
        ("R-1", json_name)]
