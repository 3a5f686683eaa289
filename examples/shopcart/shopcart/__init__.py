"""shopcart: carts, line items and prices."""

from shopcart.cart import Cart, LineItem
from shopcart.pricing import bulk_unit_price, apply_coupon

__all__ = ["Cart", "LineItem", "bulk_unit_price", "apply_coupon"]
