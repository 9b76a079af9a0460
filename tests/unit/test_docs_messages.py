"""The troubleshooting tables quote messages the code really writes.

An operator searches the docs for the line in the task log: a table row whose message
the code no longer writes (reworded, removed) sends them nowhere.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*sorted((ROOT / "include" / "extractorov").glob("*.py")),
           *sorted((ROOT / "dags").glob("*.py"))]
HOLE = "\x00"


def _code_strings() -> list[str]:
    """Every string literal of the product code; f-string fields become holes."""
    found: list[str] = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append(node.value)
            elif isinstance(node, ast.JoinedStr):
                found.append("".join(part.value if isinstance(part, ast.Constant) else HOLE
                                     for part in node.values))
    return found


CODE = _code_strings()


MESSAGE_HEADERS = {"message (task log)", "mensaje", "mensaje de este sistema"}


def _table_messages(doc: Path, heading: str) -> list[str]:
    """The backticked messages of the message column of every table in the section."""
    text = doc.read_text(encoding="utf-8").split(heading, 1)[1]
    messages: list[str] = []
    column: int | None = None
    for line in text.splitlines():
        if line.startswith("## "):
            break
        if not line.startswith("|"):
            column = None  # a table ended
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if column is None:
            column = next((i for i, c in enumerate(cells) if c in MESSAGE_HEADERS), -1)
            continue
        if column >= 0 and not set(cells[0]) <= {"-", " ", ":"}:
            messages += re.findall(r"`([^`]+)`", cells[column])
    return messages


def _fragments(message: str) -> list[str]:
    """The literal parts of a quoted message: without ``…``, quoted values and the
    example values the docs put where the code writes a value (N, M, afinia)."""
    parts = re.split(r"…|'[^']*'|\.\.\.|\b[NM]\b|\bafinia\b", message)
    return [p.strip(" .:/(){};") for p in parts if len(p.strip(" .:/(){};")) >= 6]


def _written_by_the_code(message: str) -> bool:
    fragments = _fragments(message)
    return bool(fragments) and all(any(f in s for s in CODE) for f in fragments)


README_MESSAGES = [m for m in _table_messages(ROOT / "README.md", "### Troubleshooting")
                   if _fragments(m)]
OPERACION_MESSAGES = [m for m in _table_messages(ROOT / "docs" / "operacion.md",
                                                 "## 8. Problemas frecuentes")
                      if _fragments(m)]


def test_the_tables_were_read() -> None:
    assert len(README_MESSAGES) >= 10
    assert len(OPERACION_MESSAGES) >= 8


@pytest.mark.parametrize("message", README_MESSAGES + OPERACION_MESSAGES)
def test_each_quoted_message_is_written_by_the_code(message: str) -> None:
    assert _written_by_the_code(message), f"no string in the code says: {message!r}"


def test_a_reworded_message_would_be_caught() -> None:
    assert not _written_by_the_code("Bucket '…' has vanished into thin air")


def test_the_configuration_table_lists_every_variable_and_connection() -> None:
    from extractorov import bot, settings

    table = (ROOT / "README.md").read_text(encoding="utf-8").split("## Configuration", 1)[1]
    table = table.split("\n### ", 1)[0]
    listed = {m for m in re.findall(r"^\| `([^`]+)` \|", table, re.MULTILINE)}
    wanted = {*settings.VARIABLES, settings.ALERT_EMAILS_VARIABLE, settings.POSTGRES_CONN_ID,
              settings.AWS_CONN_ID, settings.SMTP_CONN_ID, bot.COMMAND_VARIABLE}
    assert wanted - listed == set()
