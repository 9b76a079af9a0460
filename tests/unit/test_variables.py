"""Every wrong Variable a task needs is named in one error (issue 21): one clear-and-retry
cycle fixes them all, not one each. Variables come from ``AIRFLOW_VAR_*``."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from extractorov import runtime, tasks
from extractorov.companies import COMPANIES
from extractorov.errors import ConfigurationError

BAD = {"ov_s3_upload_workers": "abc", "ov_orphan_after_hours": "x",
       "ov_bot_timezone": "America/Barranquilla", "ov_s3_max_file_gib": "5GiB"}


def _set(monkeypatch, **variables: str) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(f"AIRFLOW_VAR_{name.upper()}", value)


def test_every_wrong_variable_of_the_settings_is_named_in_one_error(monkeypatch, tmp_path):
    _set(monkeypatch, ov_landing_root=str(tmp_path), **BAD)
    with pytest.raises(ConfigurationError) as failed:
        runtime.settings_from_variables()
    first, *details = str(failed.value).splitlines()
    assert first.startswith("4 Variables are wrong") and len(first) <= 120
    assert first.endswith("fix them in Admin → Variables, then clear the task")
    assert len(details) == 4
    for name, value in BAD.items():
        [line] = [d for d in details if name in d]
        assert value in line, line


def test_one_wrong_variable_is_its_own_short_message(monkeypatch, tmp_path):
    _set(monkeypatch, ov_landing_root=str(tmp_path), ov_orphan_after_hours="nan")
    with pytest.raises(ConfigurationError) as failed:
        runtime.settings_from_variables()
    first, default = str(failed.value).splitlines()
    assert first == ("Variable ov_orphan_after_hours must be a finite number ≥ 0, got 'nan': "
                     "fix it in Admin → Variables, then clear the task")
    assert len(first) <= 120 and default == "(its default: 72)"


def _context() -> dict:
    return {"dag_run": SimpleNamespace(conf={}), "dag": SimpleNamespace(params={}),
            "params": {}, "ti": SimpleNamespace(try_number=1, max_tries=3),
            "task": SimpleNamespace(execution_timeout=None)}


def _failure(context: dict) -> str:
    with pytest.raises((Exception, SystemExit)) as failed:
        tasks.scrape(COMPANIES["afinia"], context)
    return str(failed.value) if not isinstance(failed.value, SystemExit) else str(
        getattr(failed.value, "message", failed.value))


def test_scrape_names_both_wrong_minutes_of_quiet_mode_at_once(monkeypatch, tmp_path):
    monkeypatch.delenv("AIRFLOW_VAR_OV_BOT_COMMAND_AFINIA", raising=False)
    _set(monkeypatch, ov_landing_root=str(tmp_path), ov_landing_quiet_minutes="ten",
         ov_landing_wait_minutes="-1")
    text = _failure(_context())
    assert "ov_landing_quiet_minutes" in text and "ov_landing_wait_minutes" in text
    assert text.splitlines()[0].startswith("2 Variables are wrong")


def test_scrape_names_the_command_its_timeout_and_its_folder_at_once(monkeypatch, tmp_path):
    _set(monkeypatch, ov_landing_root=str(tmp_path),
         ov_bot_command_afinia="python 'main.py --empresa afinia",  # quote never closed
         ov_bot_timeout_minutes="90m", ov_bot_workdir=str(tmp_path / "no-such-folder"))
    text = _failure(_context())
    assert text.splitlines()[0].startswith("3 Variables are wrong")
    assert "ov_bot_command_afinia cannot be parsed" in text
    assert "ov_bot_timeout_minutes" in text and "'90m'" in text
    assert "no-such-folder" in text and "fix Variable ov_bot_workdir" in text
    assert "main.py" not in text  # the command line itself is never shown


def test_the_retention_variables_are_read_and_checked(monkeypatch, tmp_path):
    """ov_local_retention names a mode; the periods are numbers, the local one at least a
    day (the hourly check must have looked at an upload before its local copy may go)."""
    _set(monkeypatch, ov_landing_root=str(tmp_path), ov_local_retention="Delete",
         ov_local_retention_days="45", ov_local_archive_days="0",
         ov_manifest_retention_days="3")
    settings = runtime.settings_from_variables()
    assert (settings.local_retention, settings.local_retention_days,
            settings.local_archive_days, settings.manifest_retention_days) == (
        "delete", 45.0, 0.0, 3.0)
    _set(monkeypatch, ov_local_retention="purge", ov_local_retention_days="0.5")
    with pytest.raises(ConfigurationError) as failed:
        runtime.settings_from_variables()
    first, *details = str(failed.value).splitlines()
    assert first.startswith("2 Variables are wrong (ov_local_retention, ov_local_retention_days)")
    assert any("must be one of archive, delete, keep, got 'purge'" in d for d in details)


def test_the_retention_defaults(monkeypatch, tmp_path):
    _set(monkeypatch, ov_landing_root=str(tmp_path))
    settings = runtime.settings_from_variables()
    assert (settings.local_retention, settings.local_retention_days,
            settings.local_archive_days, settings.manifest_retention_days) == (
        "archive", 30.0, 60.0, 7.0)
