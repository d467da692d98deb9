"""A bounded memo owned by one run (``deidentify.Engine``), never module state.

Every memo of the run's hot paths keeps results that are pure functions of their keys, so none
changes a result; each is bounded the same way: at ``limit`` entries it starts again empty.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedMemo(Generic[K, V]):
    """``values`` (read directly on hot paths) and ``remember``, which empties a full memo first."""

    __slots__ = ("limit", "values")

    def __init__(self, limit: int) -> None:
        self.values: dict[K, V] = {}
        self.limit = limit

    def remember(self, key: K, value: V) -> None:
        """Keep ``value`` for ``key``; a full memo is emptied first."""
        values = self.values
        if len(values) >= self.limit:
            values.clear()
        values[key] = value

    def __len__(self) -> int:
        return len(self.values)


__all__ = ["BoundedMemo"]
