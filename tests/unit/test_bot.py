"""The scrape step's plain functions: redaction, running the bot, the quiet decision."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

from extractorov import bot
from extractorov.errors import LandingMissing

FAKE_BOT = Path(__file__).resolve().parents[1] / "fake_bot.py"
PERSONAL = ("María", "Núñez", "1045678901", "maria.nunez@example.com", "6053334455",
            "3001234567", "300 123 4567", "1.045.678.901")


# ---------------------------------------------------------------------------- redact
# (the allow-list itself: tests/unit/test_bot_lines.py)

def test_redact_masks_secrets_first_and_keeps_lines_short():
    line = "[2025-10-08_09:32:21][afinia][pqr][processor][INFO] - Total registros: 3"
    assert bot.redact(line, ["s3cr3t-Pass"]) == line
    # A secret where the allow-list accepts a count: masked first, so no known line.
    assert bot.redact(line.replace(": 3", ": 123456"), ["123456"]) == (
        "[2025-10-08_09:32:21][afinia][pqr][processor][INFO] - "
        "<bot line: 25 characters, not a known progress line>")
    long = bot.redact("x" * 5000)
    assert long == "<bot line: 5000 characters, not a known progress line>"


def test_secret_arguments_and_description_never_show_arguments():
    argv = ["/opt/bot/python", "main.py", "--user", "u", "--password", "hunter22",
            "--api-token=abc123", "--empresa", "afinia"]
    assert bot.secret_arguments(argv) == ["hunter22", "abc123"]
    text = bot.describe_command(argv)
    assert text == "program 'python' with 8 argument(s)"
    assert not any(arg in text for arg in argv[1:] if len(arg) > 1)


def test_parse_command_and_minutes():
    assert bot.parse_command("python 'my bot.py' --x", "afinia") == ["python", "my bot.py", "--x"]
    with pytest.raises(bot.BotConfigError, match="ov_bot_command_afinia cannot be parsed"):
        bot.parse_command("python 'unclosed --password secret", "afinia")
    with pytest.raises(bot.BotConfigError, match="holds no command"):
        bot.parse_command("   ", "afinia")
    assert bot.parse_minutes("0.05", "v") == 0.05
    for bad in ("abc", "-1", "nan"):
        with pytest.raises(bot.BotConfigError, match="Variable v must be"):
            bot.parse_minutes(bad, "v")


def test_bot_environment_drops_airflow_settings():
    env = bot.bot_environment({"PATH": "/bin", "AIRFLOW_CONN_AWS_DEFAULT": "secret",
                               "AIRFLOW__CORE__FERNET_KEY": "k", "AIRFLOW_VAR_X": "1"})
    assert env == {"PATH": "/bin", "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}


# ---------------------------------------------------------------------------- run_bot

def _fake(tmp_path: Path, *extra: str) -> list[str]:
    return [sys.executable, str(FAKE_BOT), "--landing", str(tmp_path / "landing"),
            "--empresa", "afinia", "--sgc", "RE777", "--radicado", "R-777", *extra]


def _lock(tmp_path: Path) -> Path:
    """The bot lock in a landing folder as the bot leaves it (its folder exists)."""
    (tmp_path / "landing" / "afinia" / "oficina_virtual").mkdir(parents=True, exist_ok=True)
    return bot.bot_lock(tmp_path / "landing", "afinia")


def _pids(path: Path) -> list[int]:
    deadline = time.monotonic() + 30
    while not (path.exists() and path.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [int(pid) for pid in path.read_text().split()]


def test_run_bot_streams_redacted_lines_in_order_and_writes_the_request(tmp_path):
    lines: list[str] = []
    result = bot.run_bot(_fake(tmp_path, "--sleep", "1.2", "--password", "hunter22"),
                         empresa="afinia", workdir=tmp_path, timeout_minutes=1,
                         lock_file=_lock(tmp_path), emit=lines.append)
    assert result.exit_code == 0 and result.program == Path(sys.executable).name
    assert result.arguments == 13 and result.lines == len(lines) and result.seconds >= 1.2
    messages = [line.split("] - ", 1)[-1] for line in lines]
    assert messages[0] == "Sistema de logging profesional inicializado"
    assert messages[-1] == ("PROCESO_COMPLETADO PROCESAMIENTO PÁGINA ACTUAL COMPLETADO: 1/1 "
                            "registros exitosos")
    order = [next(i for i, m in enumerate(messages) if m.startswith(p))
             for p in ("=== Procesando PQR #1 de 1 ===",
                       "EXITOSO PDF generado exitosamente: RE777_",
                       "LISTA nombres_apellidos: <redacted>", "LISTA celular: <redacted>",
                       "EXITOSO JSON guardado exitosamente: RE777_data_")]
    assert order == sorted(order)
    # stderr (the bot's log) and stdout (its prints) merged, in order.
    assert lines[0].startswith("[INIT][system][config][logging][INFO] - ")
    assert "OficinaVirtualAfiniaModular inicializado - Modo: Headless" in messages
    # The lines with a name, a password, an e-mail, a cédula or a phone: markers only.
    markers = [m for m in messages if m.startswith("<bot line: ")]
    assert len(markers) == 5 and all(m.endswith(" not a known progress line>") for m in markers)
    text = "\n".join(lines)
    assert not any(value in text for value in (*PERSONAL, "hunter22", str(tmp_path)))
    processed = tmp_path / "landing/afinia/oficina_virtual/processed"
    pdf, data = sorted(processed.iterdir(), key=lambda p: "data" in p.name)
    assert re.fullmatch(r"RE777_\d{8}_\d{6}\.pdf", pdf.name)
    assert re.fullmatch(r"RE777_data_\d{8}_\d{6}\.json", data.name)
    assert data.name[-20:-5] > pdf.name[-19:-4]  # the JSON's timestamp is later
    assert "María José" in data.read_text(encoding="utf-8")


def test_run_bot_raises_on_non_zero_exit(tmp_path):
    lines: list[str] = []
    with pytest.raises(bot.BotFailed, match=r"bot command for afinia exited with code 3 after "
                                            r"[\d.]+ s; last lines above"):
        bot.run_bot(_fake(tmp_path, "--exit-code", "3"), empresa="afinia", workdir=None,
                    timeout_minutes=1, lock_file=_lock(tmp_path), emit=lines.append)
    assert lines[-1].endswith("[ERROR] - ERROR Error en secuencia específica para PQR 1: "
                              "<redacted>")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return state[state.rfind(")") + 2] not in "ZX"


def test_run_bot_timeout_kills_the_whole_process_group(tmp_path):
    started = time.monotonic()
    with pytest.raises(bot.BotTimeout, match=r"bot for afinia ran over "
                                             r"ov_bot_timeout_minutes=0.05; its process group "
                                             r"was killed"):
        bot.run_bot(_fake(tmp_path, "--hang", "--pid-file", str(tmp_path / "pids")),
                    empresa="afinia", workdir=None, timeout_minutes=0.05,
                    lock_file=_lock(tmp_path), emit=lambda line: None, grace_seconds=2)
    assert time.monotonic() - started < 15
    for pid in _pids(tmp_path / "pids"):  # the bot and its child
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), "the bot or its child survived the timeout"


def test_run_bot_sigkills_a_group_that_ignores_sigterm(tmp_path):
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen(['sleep', '300'])\n"
        "open(sys.argv[1], 'w').write(str(child.pid))\n"
        "time.sleep(300)\n")
    with pytest.raises(bot.BotTimeout):
        bot.run_bot([sys.executable, str(script), str(tmp_path / "pids")], empresa="aire",
                    workdir=None, timeout_minutes=0.02, lock_file=_lock(tmp_path),
                    emit=lambda line: None, grace_seconds=1)
    [child] = _pids(tmp_path / "pids")
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)


def test_run_bot_configuration_errors(tmp_path):
    with pytest.raises(bot.BotConfigError,
                       match="program 'no-such-bot' not found: fix Variable ov_bot_command_afinia"):
        bot.run_bot(["no-such-bot", "--password", "x"], empresa="afinia", workdir=None,
                    timeout_minutes=1, lock_file=_lock(tmp_path))
    with pytest.raises(bot.BotConfigError, match="fix Variable ov_bot_workdir"):
        bot.run_bot([sys.executable, "-c", "pass"], empresa="afinia",
                    workdir=tmp_path / "missing", timeout_minutes=1, lock_file=_lock(tmp_path))
    not_executable = tmp_path / "bot.sh"
    not_executable.write_text("#!/bin/sh\n")
    with pytest.raises(bot.BotConfigError, match="cannot be executed"):
        bot.run_bot([str(not_executable)], empresa="aire", workdir=None, timeout_minutes=1,
                    lock_file=_lock(tmp_path))


def test_run_bot_stops_what_the_bot_left_running(tmp_path, caplog):
    script = tmp_path / "leaves.py"
    script.write_text(
        "import subprocess, sys\n"
        "child = subprocess.Popen(['sleep', '300'], stdout=subprocess.DEVNULL)\n"
        "open(sys.argv[1], 'w').write(str(child.pid))\n")
    result = bot.run_bot([sys.executable, str(script), str(tmp_path / "pids")], empresa="aire",
                         workdir=tmp_path, timeout_minutes=1, lock_file=_lock(tmp_path),
                         emit=lambda line: None)
    assert result.exit_code == 0
    [child] = _pids(tmp_path / "pids")
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)
    assert "left 1 process(es) running" in caplog.text


def test_run_bot_reports_a_bot_killed_by_a_signal(tmp_path):
    with pytest.raises(bot.BotFailed, match=r"bot command for aire was killed by signal SIGKILL"):
        bot.run_bot([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), 9)"],
                    empresa="aire", workdir=None, timeout_minutes=1, lock_file=_lock(tmp_path),
                    emit=lambda line: None)


# ---------------------------------------------------------------------------- quiet mode

def test_newest_change(tmp_path):
    assert bot.newest_change(tmp_path / "missing") is None
    assert bot.newest_change(tmp_path) is None
    (tmp_path / "sub").mkdir()
    assert bot.newest_change(tmp_path) is None  # folders do not count
    for name, when in (("a.json", 1000), ("b.pdf.crdownload", 3000), ("c.pdf", 2000)):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (when, when))
    assert bot.newest_change(tmp_path) == 3000


@pytest.mark.parametrize(("newest", "now", "since", "quiet", "expected"), [
    # quiet for 600 s (or no file at all): done at once
    (1000.0, 1600.0, 1600.0, 600, (True, False, 0.0)),
    (None, 1600.0, 1600.0, 600, (True, False, 0.0)),
    # changed 590 s ago: look again in 10 s, when it would turn quiet
    (1010.0, 1600.0, 1600.0, 600, (False, False, 10.0)),
    # changed just now: look again within a minute
    (1600.0, 1600.0, 1600.0, 600, (False, False, 60.0)),
    # a file dated in the future counts as changing now
    (9999.0, 1600.0, 1600.0, 600, (False, False, 60.0)),
    # quiet 0: no wait, whatever the mtimes say
    (9999.0, 1600.0, 1600.0, 0, (True, False, 0.0)),
    # limit (7200 s) reached while it still changes: done, limit hit
    (8800.0, 8800.0, 1600.0, 600, (True, True, 0.0)),
    # 5 s before the limit: the next look is at the limit
    (8795.0, 8795.0, 1600.0, 600, (False, False, 5.0)),
    # never less than a second between looks
    (1000.0, 1599.9, 1600.0 - 7199.8, 600, (False, False, 1.0)),
])
def test_check_quiet(newest, now, since, quiet, expected):
    check = bot.check_quiet(newest, now=now, waiting_since=since, quiet_seconds=quiet,
                            limit_seconds=7200)
    assert (check.done, check.limit_hit, round(check.next_check_in, 6)) == expected


def test_check_landing_logs_the_limit_and_returns_a_summary(tmp_path, caplog):
    processed = tmp_path / "afinia" / "oficina_virtual" / "processed"
    processed.mkdir(parents=True)
    (processed / "RE1_20251008_093221.pdf").write_bytes(b"%PDF")
    now = time.time()
    check = bot.check_landing(tmp_path, "afinia", waiting_since=now - 10, quiet_minutes=10,
                              wait_minutes=0.1, now=now)
    assert check.done and check.limit_hit
    assert "wait limit reached for afinia" in caplog.text
    xcom = check.as_xcom(10, 0.1)
    assert xcom["mode"] == "quiet" and xcom["wait_limit_hit"] is True
    assert not bot.check_landing(tmp_path, "afinia", waiting_since=now, quiet_minutes=10,
                                 wait_minutes=120, now=now).done
    # No folder is no quiet morning (a share not mounted, a wrong ov_landing_root): it fails.
    with pytest.raises(LandingMissing, match=r"company aire, .*/aire, does not exist"):
        bot.check_landing(tmp_path, "aire", waiting_since=now, quiet_minutes=10,
                          wait_minutes=120, now=now)


def test_command_mode_never_creates_the_folder_of_the_bot_lock(tmp_path):
    """The lock lives in the bot's folder: a share not mounted (or a wrong ov_landing_root)
    fails before the bot starts, and nothing is created where nobody reads."""
    (tmp_path / "landing").mkdir()  # a mount point with nothing mounted on it
    with pytest.raises(LandingMissing, match=r"company afinia, .*/afinia, does not exist"):
        bot.bot_lock(tmp_path / "landing", "afinia")
    assert list((tmp_path / "landing").iterdir()) == []


def test_check_landing_says_the_last_change_as_a_duration_and_a_bogota_time(tmp_path, caplog):
    from datetime import datetime

    from extractorov.settings import BOGOTA

    processed = tmp_path / "afinia" / "oficina_virtual" / "processed"
    processed.mkdir(parents=True)
    changed = datetime(2025, 10, 7, 14, 5, 12, tzinfo=BOGOTA).timestamp()
    old = processed / "RE1_20251007_140512.pdf"
    old.write_bytes(b"%PDF")
    os.utime(old, (changed, changed))
    now = changed + 425 * 86400 + 3600 + 7.3  # a copied backlog: a year-old mtime
    caplog.set_level("INFO")
    bot.check_landing(tmp_path, "afinia", waiting_since=now, quiet_minutes=10,
                      wait_minutes=120, now=now)
    assert "last change 425 d 1 h ago (2025-10-07 14:05 Bogotá)" in caplog.text
    assert " s ago" not in caplog.text
    caplog.clear()
    recent = now - 130.4  # still changing: minutes and seconds
    os.utime(old, (recent, recent))
    bot.check_landing(tmp_path, "afinia", waiting_since=now - 600, quiet_minutes=10,
                      wait_minutes=120, now=now)
    assert "last change 2 min 10 s ago (2026-12-06 15:03 Bogotá)" in caplog.text
    assert "waited 10 min of ov_landing_wait_minutes=120" in caplog.text


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (7.6, "8 s"), (59.4, "59 s"), (60, "1 min"), (130.4, "2 min 10 s"),
    (3600, "1 h"), (3600 + 59 * 60 + 59, "1 h 59 min"), (86400, "1 d"),
    (425 * 86400 + 3600 + 7.3, "425 d 1 h"),
])
def test_durations_read_as_days_hours_minutes_seconds(seconds, text):
    assert bot.duration(seconds) == text
