"""The load benchmark reports the median of repeated timings (bench/load_bench.py)."""

from __future__ import annotations

from bench.load_bench import medians


def _sample(method, seconds, exact=True, case="all_new", rss=100.0):
    return {"method": method, "size": 1000, "case": case, "seconds": seconds,
            "records_per_second": 1000 / seconds, "counts_exact": exact, "peak_rss_mb": rss}


def test_each_method_and_case_keeps_its_median_and_all_samples_in_first_seen_order():
    samples = [_sample("project", 3.0), _sample("project", 2.0, case="rerun"),
               _sample("ceiling", 1.0), _sample("project", 9.0, rss=150.0),
               _sample("ceiling", 1.2), _sample("project", 2.5), _sample("ceiling", 5.0)]
    results = medians(samples)
    assert [(r["method"], r["case"]) for r in results] == [
        ("project", "all_new"), ("project", "rerun"), ("ceiling", "all_new")]
    project, rerun, ceiling = results
    assert project["seconds"] == 3.0 and project["samples_seconds"] == [3.0, 9.0, 2.5]
    assert project["records_per_second"] == round(1000 / 3.0, 1)
    assert project["peak_rss_mb"] == 150.0  # the worst sample's memory, not the median's
    assert ceiling["seconds"] == 1.2 and rerun["samples_seconds"] == [2.0]


def test_one_wrong_count_in_any_sample_marks_the_result_wrong():
    results = medians([_sample("project", 3.0), _sample("project", 2.0, exact=False)])
    assert results[0]["counts_exact"] is False
    assert medians([_sample("stock", 3.0, exact=None)])[0]["counts_exact"] is None
