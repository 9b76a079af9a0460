"""A regression test (hostile-review-6.md).

The bot (``afinia_pqr_processor._process_single_pqr_specific_sequence`` in
``Jeampauldev/ExtractorMerc``) runs PASO 3 (detail PDF), PASO 4 (attachment) and PASO 5
(JSON) each in a ``try`` of its own and goes on whatever fails; a failed ``page.pdf``
leaves a screenshot in ``screenshots_dir`` instead of a PDF (``_generate_pdf_with_sgc_name``'s
fallback), so a request may have a JSON and no detail PDF. The placeholder rule knows
this: a PDF stamped over ``MAX_PDF_TO_NEXT_STEP`` (20 s) before its request's next step
"may be another request's whose JSON was never written" and waits
(``pairing._not_one_request``). The real-SGC rule never applies that bound
(``_place_real`` takes the first JSON within 30 minutes; ``_one_request_each`` only asks
"one PDF, the attachment not before it").

Story: SGC ``RE800`` shared by two requests. R-2: detail PDF at +0 s, its JSON step fails.
R-3: its PDF step fails (a screenshot instead), no attachment, its JSON at +60 s (a new
tab opened and loaded in between). ``extract`` ties R-2's detail page to R-3
(``metadata.request_json`` R-3's JSON, ``numero_radicado`` R-3); R-3's removal deletes it:
another customer's document LOST. With a placeholder SGC the same files wait (the 20 s
rule): the real-SGC branch lacks its sibling's guard.
"""

from __future__ import annotations

import pytest

from tests.helpers import list_keys, query, seen_hours_ago
from tests.landing_files import prefix, remove_request, run_all, write_json, write_pdf

pytestmark = pytest.mark.integration



def _session(db, s3, settings, landing):
    r2_pdf = write_pdf(landing, "RE800", 0, "detalle de R-2")  # R-2's JSON step failed
    r3_json = write_json(landing, "RE800", "R-3", 60)  # R-3's PDF step failed
    run_all(db, s3, settings, "day-1")
    seen_hours_ago(db, landing, "afinia", hours=73)
    run_all(db, s3, settings, "day-4")
    return r2_pdf, r3_json


def test_a_real_sgc_pdf_written_long_before_the_next_requests_json_is_never_tied_to_it(
        db, s3, bucket, settings, landing):
    r2_pdf, r3_json = _session(db, s3, settings, landing)
    tie = query(db, "SELECT numero_radicado, metadata ->> 'request_json' "
                    "FROM data_general.s3_files_registry WHERE filename = %s", r2_pdf)
    assert tie != [("R-3", r3_json)]


def test_removing_the_next_request_keeps_a_pdf_written_long_before_its_json(
        db, s3, bucket, settings, landing):
    r2_pdf, _ = _session(db, s3, settings, landing)
    remove_request(db, s3, settings, "R-3")
    processed = landing / "afinia" / "oficina_virtual" / "processed"
    assert (prefix() + "RE800/" + r2_pdf in list_keys(s3, bucket)
            or (processed / r2_pdf).exists()), "R-2's detail page is gone"


def test_the_same_files_with_a_placeholder_wait(db, s3, bucket, settings, landing):
    """The sibling rule that holds: with a placeholder the PDF is not tied to R-3."""
    pdf = write_pdf(landing, "PQR_4_ERROR", 0, "detalle de R-2")
    write_json(landing, "PQR_4_ERROR", "R-3", 60)
    run_all(db, s3, settings, "day-1")
    assert query(db, "SELECT 1 FROM data_general.s3_files_registry WHERE filename = %s",
                 pdf) == []
