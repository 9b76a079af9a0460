"""The request JSONs extract hands to pairing, by the SGC part of their names
(``extract._Marks``): a single JSON per part is held as such, later readings win unless
told to keep what is there, and SGC strings are shared with the run's."""

from __future__ import annotations

from datetime import UTC, datetime

from extractorov.extract import _Marks
from extractorov.pairing import JsonMark, JsonState

WHEN = datetime(2025, 10, 8, 9, 0, tzinfo=UTC)


def _marks() -> tuple[_Marks, dict[str, str]]:
    strings: dict[str, str] = {}
    return _Marks(lambda text: strings.setdefault(text, text)), strings


def test_later_readings_win_and_keep_leaves_what_is_there():
    marks, _ = _marks()
    marks.put("123", JsonMark("123_data_1.json", WHEN, JsonState.WRITING))
    marks.put("123", JsonMark("123_data_1.json", WHEN, JsonState.LOADED, "123"))
    assert marks.of("123") == [JsonMark("123_data_1.json", WHEN, JsonState.LOADED, "123")]
    marks.put("123", JsonMark("123_data_1.json", WHEN, JsonState.QUARANTINED), keep=True)
    assert [m.state for m in marks.of("123")] == [JsonState.LOADED]


def test_several_jsons_of_one_part_are_all_given_back_in_order():
    marks, _ = _marks()
    first = JsonMark("123_data_1.json", WHEN, JsonState.LOADED, "123")
    second = JsonMark("123_data_2.json", WHEN, JsonState.QUARANTINED)
    third = JsonMark("123_data_3.json", WHEN, JsonState.LOADED, "sin_sgc/R-9")
    marks.put("123", first)
    marks.put("123", second)
    marks.put("123", third)
    marks.put("123", JsonMark("123_data_2.json", WHEN, JsonState.WRITING), keep=True)
    assert marks.of("123") == [first, second, third]
    marks.put("123", JsonMark("123_data_2.json", WHEN, JsonState.WRITING))
    assert [m.state for m in marks.of("123")] == [JsonState.LOADED, JsonState.WRITING,
                                                  JsonState.LOADED]
    assert marks.of("456") == []
    assert marks.folders() == {"123", "sin_sgc/R-9"}


def test_sgc_strings_are_the_runs_own():
    marks, strings = _marks()
    run_sgc = "".join(["12", "3"])  # an equal string, another object
    strings[run_sgc] = run_sgc
    marks.put("".join(["1", "23"]), JsonMark("123_data_1.json", WHEN, JsonState.WRITING))
    (key,) = marks._by_sgc
    assert key is run_sgc
    marks.clear()
    assert marks.of("123") == []
