from decimal import Decimal

from shopcart import Cart


def test_adding_the_same_sku_merges_lines():
    cart = Cart()
    cart.add("tea", "3.50", 2)
    cart.add("tea", "3.50", 1)
    assert len(cart.items) == 1 and cart.items[0].quantity == 3


def test_total_with_coupon():
    cart = Cart(coupon="SAVE10")
    cart.add("mug", "12.00", 2)
    assert cart.total() == Decimal("21.60")
