"""The pipeline's errors, each saying whether retrying can help.

Every error a task can end with derives from :class:`PipelineError`. Its
``retryable`` and ``needs_human`` attributes, not the task that raised it,
decide what Airflow does (:func:`extractorov.taskfail.airflow_error`):
retryable errors are retried with backoff; the rest fail the task at once
with the message, which says what to fix and never carries personal data.
"""

from __future__ import annotations

from extractorov.summaries import ExtractSummary, UploadSummary


class PipelineError(RuntimeError):
    """Base class. ``retryable``: the cause may pass by itself (network, throttling,
    a lock held by another run). ``needs_human``: someone must decide something."""

    retryable: bool = False
    needs_human: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class ConfigurationError(PipelineError):
    """A Variable, connection or run conf is wrong: fix it, then clear the task."""


class LandingMissing(ConfigurationError):
    """A folder of the bot's landing layout (``{landing_root}``, ``{empresa}/``,
    ``oficina_virtual/``, ``processed/``) is missing: a share not mounted on this worker, a
    wrong Variable ``ov_landing_root``, a company folder renamed. The pipeline never creates
    those folders (it would hide the problem behind an empty, green run): fix, then clear."""


class S3PreflightError(PipelineError):
    """S3 is not usable; the message says what to fix.

    ``retryable``: throttling, 5xx and connection errors may pass by themselves (the
    task is retried with backoff); configuration errors (credentials, permissions,
    bucket, region) will not (the task fails at once).
    """


class LoadFailed(PipelineError):
    """The batch was rolled back; the message carries no row values."""

    retryable = True


class CompanyBusy(PipelineError):
    """Another step holds the company's writer exclusion (:mod:`extractorov.locks`).

    Not a failure: a task reschedules itself (no worker slot held, no try used) and
    looks again; ``holder`` names who writes now (step and run), ``waiter`` who waits."""

    retryable = True

    def __init__(self, empresa: str, holder: str, waiter: str) -> None:
        super().__init__(
            f"{empresa} is being written by {holder}; {waiter} waits for it to finish "
            "(one writer per company: extract, load_db, upload_s3, reconcile, review "
            "answers and request removals take turns)")
        self.empresa = empresa
        self.holder = holder
        self.waiter = waiter


class UploadIncomplete(PipelineError):
    """Some files failed; they are recorded as ``error`` and retried next time."""

    def __init__(self, summary: UploadSummary) -> None:
        reasons = "; ".join(f"{n} × {r}" for r, n in sorted(summary.errors_by_reason.items()))
        super().__init__(
            f"{summary.s3_errors} of {summary.files} files failed to upload; the next attempt "
            "uploads only those\n"
            f"Why: {reasons}. {summary.s3_uploaded} uploaded and {summary.s3_pre_existing} "
            "already present were recorded; the failed ones are 'error' in "
            "data_general.s3_files_registry (column last_error).",
            # Only when some failure may pass by itself (network, throttling, 5xx).
            retryable=summary.s3_errors_retryable > 0,
        )
        self.summary = summary


class QuarantineIncomplete(PipelineError):
    """Some files could not be moved to ``quarantine/`` (no space left on the landing volume,
    a folder not writable). Each stays in ``processed/`` and is tried again by the next run;
    raised once the rest of the batch is filed. Waiting frees no space: not retried."""

    def __init__(self, summary: ExtractSummary, messages: list[str]) -> None:
        count = summary.files_quarantine_failed + int(summary.manifest_failed)
        more = count - len(messages[:1])
        files = summary.files_quarantine_failed
        what = " and ".join(filter(None, (
            f"{files} {'file' if files == 1 else 'files'} could not be quarantined"
            if files else "",
            "the run manifest could not be written" if summary.manifest_failed else "")))
        if any(m.startswith("disk full:") for m in messages):
            head = f"{what}: free space on the landing volume, then clear this task"
        else:
            head = (f"{what}: check that the landing volume is writable, then clear this "
                    "task")
        super().__init__(
            head + "\n"
            + "; ".join(messages[:1])
            + (f" (and {more} more {'file' if more == 1 else 'files'}, each in the log above)"
               if more else "")
            + ". The rest of the batch was filed and registered.")
        self.summary = summary


class BotConfigError(ConfigurationError):
    """The bot's command or its working directory is wrong: retrying cannot help."""


class BotFailed(PipelineError):
    """The bot ran and failed (non-zero exit, killed by a signal): worth retrying."""

    retryable = True


class BotTimeout(BotFailed):
    """The bot ran over ``ov_bot_timeout_minutes``; its process group was killed."""


class BotStopped(BotFailed):
    """The task was stopped (SIGTERM, ``on_kill``) while the bot ran; its process group
    was stopped with it."""


class BotBusy(PipelineError):
    """The company's bot lock is held by a bot this task may not stop (another host, or
    another live task): the ``scrape`` sensor waits and looks again."""

    retryable = True


class DataCheckFailed(PipelineError):
    """Loaded rows break a rule (a parser bug, a bad source): retrying cannot fix them."""


class FindingsNeedHuman(PipelineError):
    """Reconcile found what it must not repair alone (a different object, a lost file)."""

    needs_human = True
