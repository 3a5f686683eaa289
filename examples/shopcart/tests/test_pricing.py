from decimal import Decimal

import pytest

from shopcart import apply_coupon, bulk_unit_price


def test_no_discount_for_few_items():
    assert bulk_unit_price("2.00", 3) == Decimal("2.00")


def test_large_orders_get_the_top_tier():
    assert bulk_unit_price("10.00", 80) == Decimal("8.80")


def test_negative_quantity_is_refused():
    with pytest.raises(ValueError):
        bulk_unit_price("1.00", -1)


def test_percentage_coupon():
    assert apply_coupon("40.00", "save10") == Decimal("36.00")


def test_flat_coupon_never_goes_below_zero():
    assert apply_coupon("3.00", "FLAT5") == Decimal("0.00")


def test_unknown_coupon():
    with pytest.raises(ValueError):
        apply_coupon("3.00", "FREE")
