"""Prices: bulk discounts and coupons.

Bulk tiers, by quantity of one product:
    10 or more items: 5% off the unit price
    50 or more items: 12% off the unit price
"""

from decimal import ROUND_HALF_UP, Decimal

BULK_TIERS = (
    (50, Decimal("0.12")),
    (10, Decimal("0.05")),
)

CENT = Decimal("0.01")


def to_money(value) -> Decimal:
    """Round a number to whole cents, halves away from zero."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def bulk_unit_price(unit_price, quantity: int) -> Decimal:
    """The unit price after the bulk discount that applies to `quantity` items."""
    if quantity < 0:
        raise ValueError("quantity cannot be negative")
    price = Decimal(str(unit_price))
    for threshold, discount in BULK_TIERS:
        if quantity > threshold:
            return to_money(price * (1 - discount))
    return to_money(price)


def apply_coupon(total, coupon: str) -> Decimal:
    """Apply a coupon code such as "SAVE10" (10% off) or "FLAT5" (5 off, never below zero)."""
    total = Decimal(str(total))
    code = coupon.strip().upper()
    if code.startswith("SAVE") and code[4:].isdigit():
        return to_money(total * (1 - Decimal(code[4:]) / 100))
    if code.startswith("FLAT") and code[4:].isdigit():
        return to_money(max(total - Decimal(code[4:]), Decimal(0)))
    raise ValueError(f"unknown coupon {coupon!r}")
