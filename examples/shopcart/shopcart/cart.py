"""A cart of line items."""

from dataclasses import dataclass, field
from decimal import Decimal

from shopcart.pricing import apply_coupon, bulk_unit_price, to_money


@dataclass
class LineItem:
    sku: str
    unit_price: Decimal
    quantity: int = 1

    def subtotal(self) -> Decimal:
        return to_money(bulk_unit_price(self.unit_price, self.quantity) * self.quantity)


@dataclass
class Cart:
    items: list = field(default_factory=list)
    coupon: str = ""

    def add(self, sku: str, unit_price, quantity: int = 1) -> None:
        for item in self.items:
            if item.sku == sku:
                item.quantity += quantity
                return
        self.items.append(LineItem(sku, Decimal(str(unit_price)), quantity))

    def total(self) -> Decimal:
        total = sum((item.subtotal() for item in self.items), Decimal(0))
        return apply_coupon(total, self.coupon) if self.coupon else to_money(total)
