"""The choices of the human review of reconcile findings, and what each does.

Constants only (the DAG file imports them while it is parsed); applying a choice is
:mod:`extractorov.review`.
"""

from __future__ import annotations

from datetime import timedelta

DAG_ID = "ov_review_findings"

# The choices, as the form shows them (the label is also what reconcile_findings.answer
# records).
KEEP_PRE_EXISTING = "Keep the bucket's object; mark the registry row pre_existing"
KEEP_SUPERSEDED = "Keep the bucket's object; report the local file as superseded"
REPLACE_OBJECT = "My local file is right: replace the bucket's object with it"
DELETE_ROW = "Removed on purpose: delete its registry row"
QUARANTINE = "Move the file to quarantine/"
ACCEPT = "Accept as it is"
LEAVE_OPEN = "Leave open"

EFFECTS: dict[str, str] = {
    KEEP_PRE_EXISTING: (
        "the registry row becomes `pre_existing` with the size and SHA-256 of the bucket "
        "object this form shows; the object is never overwritten and the local file is "
        "never uploaded; the local file's hash and size stay in `metadata.review`. Closed."),
    KEEP_SUPERSEDED: (
        "the same, and the local file is reported as superseded: `last_error` of the row "
        "says so and `metadata.review.local_file_superseded` is true (find them with "
        "`last_error LIKE 'superseded%'`). Closed."),
    REPLACE_OBJECT: (
        "the local file (it must still have the registry's SHA-256) is written over the "
        "bucket object this form shows (a PutObject with `If-Match` on its ETag: refused if "
        "the object changed); the row becomes `uploaded`, the replaced object's hash, size "
        "and ETag stay in `metadata.review.replaced_object`. Closed."),
    DELETE_ROW: (
        "the registry row (registered from the bucket, or whose object a review kept over "
        "its local file) is deleted; a local file a review rejected so moves to "
        "`quarantine/` first (the next run would upload it otherwise); if the object comes "
        "back, the next check registers it again. Closed."),
    QUARANTINE: (
        "the file moves from `processed/` to `quarantine/` with a `.reason.txt` saying a "
        "review set it aside; runs never take it back by themselves (move it back to "
        "`processed/` to have it filed). Never applied to a file that was registered or "
        "whose request JSON appeared since the question. Closed."),
    ACCEPT: (
        "nothing changes; the finding is closed and not asked again while its cause stays "
        "the same."),
    LEAVE_OPEN: (
        "nothing changes; the finding stays on the open list (`data_general.open_findings`) "
        "and is not asked again while its cause stays the same."),
}

APPLIED_WHEN = (
    "Every answer but *Leave open* is applied only while what this form shows still holds "
    "(registry row, bucket object, local file, request JSONs); otherwise nothing is applied, "
    "the outcome says what changed and the question is asked again with the new facts. "
    "Answers are applied under the company's writer exclusion: while a run writes the "
    "company, the answer is recorded and the company's next hourly check applies it.")
"""Said under the choices of every form."""

RESPONSE_TIMEOUT = timedelta(hours=24)
"""How long a question waits in Required actions; then it is withdrawn (nothing is
recorded) and asked again after a later reconcile run."""


def options_for(kind: str, *, local_copy: bool = True) -> list[str]:
    """The choices of a finding kind (``local_copy``: an ``object_different`` row has a
    local file, i.e. it was not registered from the bucket nor kept over its local file)."""
    if kind == "object_different":
        keep = ([KEEP_PRE_EXISTING, KEEP_SUPERSEDED, REPLACE_OBJECT] if local_copy
                else [KEEP_PRE_EXISTING])
        return [*keep, LEAVE_OPEN]
    if kind == "object_missing":
        return [DELETE_ROW, LEAVE_OPEN]
    if kind == "document_waiting":
        return [QUARANTINE, ACCEPT, LEAVE_OPEN]
    if kind == "temp_file_stale":
        return [QUARANTINE, LEAVE_OPEN]
    return [ACCEPT, LEAVE_OPEN]  # object_outside_layout, request_without_file, upload_failed…
