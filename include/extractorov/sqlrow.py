"""The one row of a statement that always returns one row.

An aggregate (``count(*)``), ``EXISTS``, or a ``WITH … SELECT count(*)`` answers with
exactly one row; psycopg still types ``fetchone()`` as ``row | None``. :func:`one`
says so once, instead of indexing a possible ``None``.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

_Row_co = TypeVar("_Row_co", covariant=True)


class _Fetches(Protocol[_Row_co]):
    def fetchone(self) -> _Row_co | None: ...


def one(cur: _Fetches[_Row_co]) -> _Row_co:
    """``cur.fetchone()`` of a statement that returns one row; raises if it returned none."""
    row = cur.fetchone()
    if row is None:
        raise LookupError("the statement returned no row (one was expected)")
    return row
