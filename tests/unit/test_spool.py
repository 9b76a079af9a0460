"""The disk-backed collections ``extract`` keeps a run's entries and rows in."""

from __future__ import annotations

from datetime import UTC, datetime

from extractorov.registry import RegistryEntry
from extractorov.spool import EntrySpool, LatestRows


def _entry(n: int, shared: str) -> RegistryEntry:
    # The same string object twice in one entry, as bucket and company names can be:
    # a pickle stream shares such repeats, and reading them back must not mix entries.
    return RegistryEntry(
        filename=f"F{n}_data_20251008_093221.json", local_path=f"/landing/F{n}.json",
        s3_bucket=shared, s3_key=f"k/{n}", s3_url=f"s3://{shared}/k/{n}",
        numero_reclamo_sgc=None if n % 2 else f"SGC{n}", empresa=shared, file_size=n * 10,
        file_type="json", content_type="application/json", file_hash=f"{n:064x}",
        metadata={"kind": "data", "numero_radicado": f"R-{n}", "nested": [shared, n]})


def test_entries_come_back_exactly_in_order_and_can_be_read_twice(tmp_path):
    entries = [_entry(n, f"bucket-{n}") for n in range(1, 500)]
    spool = EntrySpool(tmp_path)
    try:
        for entry in entries:
            spool.append(entry)
        assert len(spool) == len(entries)
        assert spool.bytes_total == sum(e.file_size for e in entries)
        assert list(spool) == entries
        spool.append(_entry(999, "late"))  # appending after a read still works
        assert list(spool) == [*entries, _entry(999, "late")]
    finally:
        spool.close()
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_the_newest_row_of_each_radicado_wins_in_first_seen_order(tmp_path):
    rows = LatestRows(tmp_path)
    fecha = datetime(2025, 10, 7, tzinfo=UTC)
    try:
        rows.offer("R-1", ("2025-10-08T09:00", "a.json"), "R-1 old\n", (), fecha, "S1", "a.json")
        rows.offer("R-2", ("2025-10-08T09:00", "b.json"), "R-2 only\n", ("fecha",), None, "S2",
                   "b.json")
        rows.offer("R-1", ("2025-10-09T09:00", "c.json"), "R-1 new\n", (), fecha, "S1", "c.json")
        rows.offer("R-1", ("2025-10-07T09:00", "d.json"), "R-1 older\n", (), fecha, "S1",
                   "d.json")
        rows.offer("R-2", ("2025-10-08T09:00", "b.json"), "R-2 tie\n", (), fecha, "S2", "b.json")
        assert len(rows) == 2
        # Every JSON of a radicado goes to the manifest's keys (all marked loaded), the
        # older ones too; only the newest row is kept.
        assert list(rows.rows()) == [("R-1", b"R-1 new\n", ("a.json", "c.json", "d.json")),
                                     ("R-2", b"R-2 only\n", ("b.json", "b.json"))]
        assert rows.index["R-2"].incomplete == ("fecha",)
        assert rows.index["R-1"].order == ("2025-10-09T09:00", "c.json")
        assert rows.index["R-1"].fecha == fecha
        rows.offer("R-3", ("2025-10-08T09:00", "e.json"), "ñandú\t\\N\n", (), None, None,
                   "e.json")
        assert {r: row for r, row, _ in rows.rows()}["R-3"] == "ñandú\t\\N\n".encode()
    finally:
        rows.close()


def test_a_spool_gives_back_slotted_names_and_records_as_they_went_in(tmp_path):
    from extractorov.landing import LandingFile, parse_file_name
    from extractorov.spool import Spool

    name = parse_file_name("PQR_4_ERROR_data_20251008_093221.json")
    assert name is not None
    items = [(LandingFile(tmp_path, f"F{n}.json", n, 1.5), name, {"n": n}) for n in range(50)]
    spool: Spool[tuple] = Spool(tmp_path)
    try:
        for item in items:
            spool.append(item)
        back = list(spool)
        assert back == items
        assert back[3][0].path == tmp_path / "F3.json"
    finally:
        spool.close()
