"""Money in the stores: exact INTEGER micro-units (1 unit = 1,000,000), compared and
changed atomically in SQL by every backend."""
from __future__ import annotations

from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from functools import lru_cache

__all__ = ["from_micro", "to_micro"]

_MICRO_EXP = 6
_MAX_MICRO = 2**63 - 1
_MONEY = Context(prec=60, traps=[InvalidOperation, Inexact, Overflow])


def to_micro(amount: Decimal | int) -> int:
    """`amount` in micro-units; ValueError if it has more than 6 decimals or does not fit."""
    kind = type(amount)
    if kind is Decimal and amount.is_finite() or kind is int:
        return _to_micro(amount)  # prices repeat: cached
    if not isinstance(amount, (Decimal, int)) or isinstance(amount, bool):
        raise TypeError(f"money must be a Decimal, not {kind.__name__}")
    return _to_micro.__wrapped__(amount)


@lru_cache(maxsize=1024, typed=True)
def _to_micro(amount: Decimal | int) -> int:
    try:
        scaled = Decimal(amount).scaleb(_MICRO_EXP, _MONEY)
        micro = int(scaled)
        exact = scaled == micro
    except (ArithmeticError, ValueError) as e:
        raise ValueError(f"not a storable amount of money: {amount!r}") from e
    if not exact:
        raise ValueError(f"{amount} has more than {_MICRO_EXP} decimals")
    if not -_MAX_MICRO <= micro <= _MAX_MICRO:
        raise ValueError(f"{amount} is out of range")
    return micro


def from_micro(micro: int) -> Decimal:
    """The exact Decimal for `micro` micro-units, always with 6 decimals."""
    return Decimal(micro).scaleb(-_MICRO_EXP, _MONEY)
