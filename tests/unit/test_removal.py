"""The pure parts of removing one request: telling its lines in a manifest and its request
JSONs apart from every other request's, rewriting a manifest without them, and what a
form or the audit row shows (tests/integration/test_remove_request.py runs the whole)."""

from __future__ import annotations

import json
from pathlib import Path

from extractorov import removal, warehouse

R1_JSON = {"numero_radicado": "R-1", "nombres_apellidos": "María José Núñez Peña"}


def _hit(header: Path, rows: int, total: int, *, legacy: bool = False) -> removal.ManifestHit:
    return removal.ManifestHit(header, (header,), header.name, rows, total, "rewrite", legacy)


def _manifest(folder: Path, records: list[tuple[str, list[str]]]) -> Path:
    """A manifest as extract writes it: a header naming rows and keys files, line for line."""
    (folder / "run.keys").write_text("".join(warehouse.key_row(r, files) for r, files in records))
    (folder / "run.rows").write_text("".join(f"row of {r}\tfields\n" for r, _ in records))
    header = folder / "run.jsonl"
    header.write_text(json.dumps({"rows": "run.rows", "keys": "run.keys",
                                  "records": len(records), "run_id": "run", "attempt": "1"})
                      + "\n")
    return header


def test_a_manifests_lines_of_the_request_are_found_by_its_exact_number(tmp_path):
    header = _manifest(tmp_path, [("R-1", ["RE1_data_20251008_090000.json"]),
                                  ("R-10", ["RE9_data_20251008_090000.json"]),
                                  ("R\\1", ["X_data_20251008_090000.json"]),
                                  ("R-1", ["RE1_data_20251009_090000.json"])])
    names: set[str] = set()
    assert removal._scan_keys(header.with_suffix(".keys"), removal._copy_text("R-1"),
                              names) == (2, 4)
    assert names == {"RE1_data_20251008_090000.json", "RE1_data_20251009_090000.json"}
    assert removal._scan_keys(header.with_suffix(".keys"), removal._copy_text("R\\1"),
                              set()) == (1, 4)


def test_a_manifest_rewritten_keeps_the_other_requests_rows_line_for_line(tmp_path):
    header = _manifest(tmp_path, [("R-2", ["a.json"]), ("R-1", ["b.json"]),
                                  ("R-3", ["c.json"])])

    removal._rewrite_manifest(_hit(header, 1, 3), removal._copy_text("R-1"), "R-1", 7)

    written = json.loads(header.read_text())
    assert written["records"] == 2 and (written["run_id"], written["attempt"]) == ("run", "1")
    assert (tmp_path / written["rows"]).read_text() == "row of R-2\tfields\nrow of R-3\tfields\n"
    assert (tmp_path / written["keys"]).read_text().startswith("R-2\t")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.jsonl", "run.r7.keys",
                                                          "run.r7.rows"]


def test_a_legacy_manifest_is_rewritten_without_the_request(tmp_path):
    header = tmp_path / "old.jsonl"
    lines = [{"record": {"numero_radicado": r, "values": {}}, "files": [f"{r}.json"]}
             for r in ("R-1", "R-2", "R-11")]
    header.write_text(json.dumps({"records": 3}) + "\n"
                      + "".join(json.dumps(line) + "\n" for line in lines))
    names: set[str] = set()
    assert removal._scan_legacy(header, "R-1", names) == (1, 3) and names == {"R-1.json"}

    removal._rewrite_manifest(_hit(header, 1, 3, legacy=True), b"", "R-1", 7)

    head, *rest = header.read_text().splitlines()
    assert json.loads(head) == {"records": 2}
    assert [json.loads(r)["record"]["numero_radicado"] for r in rest] == ["R-2", "R-11"]
    assert [p.name for p in tmp_path.iterdir()] == ["old.jsonl"]


def test_a_request_json_names_its_request_even_when_it_is_damaged():
    whole = json.dumps(R1_JSON, ensure_ascii=False).encode()
    assert removal._request_names_radicado(whole, "R-1")
    assert not removal._request_names_radicado(whole, "R-10")
    assert removal._request_names_radicado(b'{"numero_radicado": 12345}', "12345")
    truncated = b'{"numero_radicado": " R-1 ", "fecha": '
    assert removal._request_names_radicado(truncated, "R-1")
    assert not removal._request_names_radicado(truncated, "R-")
    assert not removal._request_names_radicado(b'{"cuerpo": "ver numero_radicado R-1"}', "R-1")


def test_two_attempts_listings_merge_each_item_once():
    first = {"table_rows": 1, "registry": [{"id": 1, "key": "k1"}],
             "s3": [{"key": "k1", "version_id": "v1", "delete_marker": False}],
             "not_tied": ["k2"], "runs": ["day-1"]}
    second = {"table_rows": 0, "registry": [],
              "s3": [{"key": "k1", "version_id": "v1", "delete_marker": False},
                     {"key": "k2", "version_id": "v2", "delete_marker": True}],
              "not_tied": [], "runs": ["day-1", "day-2"]}

    merged = removal.merge(first, second)

    counts = removal.counts_of(merged)
    assert (counts["table_rows"], counts["registry_rows"], counts["s3_keys"],
            counts["s3_versions"], counts["s3_delete_markers"]) == (1, 1, 2, 1, 1)
    assert merged["not_tied"] == []  # found as the request's by the later attempt
    assert merged["runs"] == ["day-1", "day-2"]
    assert removal.removable(merged) and not removal.removable({"not_tied": ["k9"]})


def test_the_form_shows_counts_and_keys_and_cuts_long_lists():
    listing = {"empresa": "afinia", "table_rows": 1,
               "s3": [{"key": f"p/RE1/RE1_{n:03d}.pdf", "version_id": "null",
                       "delete_marker": False} for n in range(150)],
               "local": ["processed/RE1_data_20251008_090000.json"],
               "not_tied": ["p/RE1/other.pdf"], "runs": ["day-1"]}

    text = "\n".join(removal.describe(listing))

    assert "| row in `data_general.ov_afinia` | 1 |" in text
    assert "| S3 objects | 150 key(s): 150 version(s), 0 delete marker(s) |" in text
    assert "`p/RE1/RE1_099.pdf`" in text and "`p/RE1/RE1_100.pdf`" not in text
    assert "… and 50 more" in text
    assert "1 object(s) in its S3 folder(s) not tied to it" in text


def test_a_removal_applies_only_to_what_its_approved_listing_showed(tmp_path):
    """By name, key or row id, compared as shown: a listed file moved to the archive, a
    listed name registered meanwhile and a new version at a listed key go; what came after
    the listing under other names stays (and is said)."""
    prefix = "oficina-virtual/afinia/raw_data/RE1/"
    day1, day2 = "RE1_data_20251008_090000.json", "RE1_data_20251009_090000.json"
    customers = "Zoraida Quinones CC 1099887766.pdf"
    shown = removal.Listing("afinia", "R-1", "b", registry_rows=[(7, prefix + day1)],
                            versions=[removal.ObjectVersion(prefix + day1, "v1"),
                                      removal.ObjectVersion(prefix + customers, "v1")],
                            local=[removal.LocalFile(tmp_path / day1, f"processed/{day1}")])
    approved = removal.Approved.of(shown.as_dict(), None)
    now = removal.Listing(
        "afinia", "R-1", "b", names={day1, day2},
        registry_rows=[(7, prefix + day1), (8, prefix + day2)],
        versions=[removal.ObjectVersion(prefix + day1, "v2"),
                  removal.ObjectVersion(prefix + customers, "v1"),
                  removal.ObjectVersion(prefix + day2, "v1")],
        local=[removal.LocalFile(tmp_path / day1, f"archive/2025-10/{day1}"),
               removal.LocalFile(tmp_path / day2, f"processed/{day2}")])
    after = approved.restrict(now)
    assert now.registry_rows == [(7, prefix + day1)] and now.names == {day1}
    assert [v.key for v in now.versions] == [prefix + day1, prefix + customers]
    assert [f.shown for f in now.local] == [f"archive/2025-10/{day1}"]
    assert after == sorted([f"processed/{day2}", f"registry row 8: {prefix}{day2}",
                            f"s3 {prefix}{day2}"])
    # No listing recorded (an audit row older than the rule): everything found goes.
    assert removal.Approved.of(None, None).restrict(now) == []
