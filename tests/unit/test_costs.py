"""The S3 cost arithmetic of the stats page (pure functions)."""

from __future__ import annotations

import pytest

from extractorov import costs
from extractorov.costs import GB, Prices, Usage


def test_default_prices_are_the_guide_s_with_aws_s_put_price():
    prices = Prices()
    assert (prices.storage_gb_month, prices.storage_ia_gb_month,
            prices.storage_glacier_gb_month, prices.get_per_1000) == (0.023, 0.0125, 0.004, 0.0004)
    assert prices.put_per_1000 == 0.005  # the guide's $0.0005 is a tenth of AWS's


def test_the_guide_s_month_at_its_own_prices_and_at_aws_s():
    guide_prices = Prices(put_per_1000=0.0005)
    at_guide = costs.guide_scenario(guide_prices)
    assert at_guide.storage_usd == pytest.approx(0.069)  # guide: "~$0.07/mes"
    assert at_guide.requests_usd == pytest.approx(0.015)  # guide: "~$0.02/mes"
    assert at_guide.total_usd == pytest.approx(0.084)  # guide: "~$0.10/mes"
    at_aws = costs.guide_scenario(Prices())
    assert at_aws.put_usd == pytest.approx(0.15)
    assert at_aws.total_usd == pytest.approx(0.219)


def test_estimate_prices_each_part():
    used = Usage(stored_bytes=10 * GB, stored_objects=2_500, puts=4_000, lists=600, gets=50)
    est = costs.estimate(used, Prices())
    assert est.storage_usd == pytest.approx(0.23)
    assert est.put_usd == pytest.approx(0.02)
    assert est.list_usd == pytest.approx(0.003)
    assert est.get_usd == pytest.approx(0.00002)
    assert est.total_usd == pytest.approx(0.25302)
    assert est.as_dict()["total_usd"] == pytest.approx(0.25302)


@pytest.mark.parametrize(("objects", "lists"), [
    (0, 30 * (19 + 1)), (1_000, 30 * (19 + 1)), (1_001, 30 * (19 * 2 + 1)),
    (30_000, 30 * (19 * 30 + 1)),
])
def test_lists_per_month_count_reconcile_pages_and_the_daily_preflight(objects, lists):
    assert costs.lists_per_month(objects) == lists


def test_usage_from_the_registry():
    used = costs.usage(stored_bytes=5, stored_objects=1_500, uploaded_last_30_days=40,
                       found_taken_last_30_days=3)
    assert used == Usage(stored_bytes=5, stored_objects=1_500, puts=40,
                         lists=30 * (19 * 2 + 1), gets=3)


def test_total_adds_companies():
    a = costs.estimate(Usage(GB, 10, 10, 600, 1), Prices())
    b = costs.estimate(Usage(2 * GB, 20, 30, 600, 0), Prices())
    both = costs.total([a, b])
    assert both.usage == Usage(3 * GB, 30, 40, 1200, 1)
    assert both.total_usd == pytest.approx(a.total_usd + b.total_usd)


def test_prices_from_the_variable():
    assert Prices.from_json("") == Prices()
    assert Prices.from_json(None) == Prices()
    assert Prices.from_json('{"put_per_1000": 0.0005}') == Prices(put_per_1000=0.0005)
    assert Prices.from_json('{"storage_gb_month": 1}').storage_gb_month == 1.0


@pytest.mark.parametrize(("text", "message"), [
    ("{", "is not JSON"),
    ("[1]", "must be a JSON object"),
    ('{"put": 1}', "unknown key(s) put; known: get_per_1000, put_per_1000"),
    ('{"put_per_1000": -1}', "put_per_1000 must be a number >= 0"),
    ('{"put_per_1000": "0.005"}', "put_per_1000 must be a number >= 0"),
    ('{"put_per_1000": true}', "put_per_1000 must be a number >= 0"),
])
def test_a_wrong_variable_is_explained(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Prices.from_json(text)
