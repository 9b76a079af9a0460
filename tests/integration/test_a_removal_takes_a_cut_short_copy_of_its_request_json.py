"""A regression test (hostile-review-4.md).

"a request is removed from every place it lives" (supresión, Ley 1581). A copy
of the request's JSON that a copy tool left cut short in ``processed/`` (rsync's hidden
``.{name}.XXXXXX``, or ``{name}.part``: names the pipeline knows and keeps as marks, and
reports as ``temp_file_stale`` once their writer stopped) holds the titular's name, ID number
and e-mail. ``removal.find`` reads the request JSONs of ``processed/`` and ``quarantine/``
that name the request, also one too damaged to parse ("when the field is written whole"),
but only under a final name (``_is_request_json``): a temporary name is never read. So the
removal neither removes nor shows it and reports ``completed``; the copy stays on the
landing volume with the titular's data, and the hourly check keeps asking about it as an
unknown stalled file."""

from __future__ import annotations

import json

import pytest

from extractorov import removal
from tests.landing_files import (
    record,
    remove_request,
    run_all,
    stamp,
    write,
    write_json,
    write_pdf,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("temporary", [".{}.Xy12Ab", "{}.part"])
def test_a_removal_takes_a_cut_short_copy_of_its_request_json(
        db, s3, bucket, settings, landing, temporary):
    write_pdf(landing, "RE1", 0, "detalle de R-1")
    write_json(landing, "RE1", "R-1", 8)
    run_all(db, s3, settings, "day-1")
    # A later scrape of R-1, its copy into the landing folder cut short.
    final = f"RE1_data_{stamp(3600)}.json"
    whole = json.dumps(record("RE1", "R-1", stamp(3600)), ensure_ascii=False, indent=2)
    cut = write(landing, temporary.format(final), whole[: len(whole) * 3 // 4])
    assert '"nombres_apellidos"' in cut.read_text() and '"numero_radicado": "R-1"' in (
        cut.read_text())
    _, outcome = remove_request(db, s3, settings, "R-1")
    assert outcome.status == removal.COMPLETED
    assert not cut.exists(), "a copy of R-1's JSON with the titular's data is still there"
