"""The company registry: the one place that knows which companies exist.

Adding a company is one entry in :data:`COMPANIES`; the DAG file loops over it,
the warehouse creates its table from it, and every SQL identifier (table
names) comes from here, never from input data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,40}\Z")


@dataclass(frozen=True)
class Company:
    """One electricity company whose Oficina Virtual the scraper reads."""

    empresa: str
    """Short name used in folders, S3 keys, registry rows (``afinia``)."""
    display_name: str
    portal: str
    extra_fields: tuple[str, ...] = ()
    """Fields only this company's records carry, stored as typed columns."""
    extra_prefixes: tuple[str, ...] = ()
    """Key prefixes (``tabla_``) expected in this company's records; kept in ``extras``."""

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.empresa):
            raise ValueError(f"empresa {self.empresa!r} is not a safe identifier")
        for field in self.extra_fields:
            if not _IDENTIFIER.match(field):
                raise ValueError(f"extra field {field!r} is not a safe identifier")

    @property
    def dag_id(self) -> str:
        return f"ov_{self.empresa}"

    @property
    def writer_pool(self) -> str:
        """Airflow pool (one slot) shared by every task that writes this company's data:
        the scheduler runs one at a time (``extractorov.locks`` is the guarantee)."""
        return f"{self.dag_id}_writer"

    @property
    def table(self) -> str:
        """Table name in schema ``data_general`` holding one row per request."""
        return f"ov_{self.empresa}"


COMPANIES: dict[str, Company] = {
    company.empresa: company
    for company in (
        Company(
            empresa="afinia",
            display_name="Afinia",
            portal="caribemar.facture.co",
            extra_fields=("finalizar", "adjuntar_archivo", "comentarios"),
            extra_prefixes=("tabla_",),
        ),
        Company(
            empresa="aire",
            display_name="Air-e",
            portal="caribesol.facture.co",
        ),
    )
}


def get_company(empresa: str) -> Company:
    """Return the registered company or fail with the list of known ones."""
    try:
        return COMPANIES[empresa]
    except KeyError:
        known = ", ".join(sorted(COMPANIES))
        raise KeyError(f"unknown empresa {empresa!r}; registered companies: {known}") from None
