"""Distinct sequence ids as sorted, disjoint, inclusive ranges.

A lane's producer emits each seq once, increasing, so the ids of a window are one range
per gap: memory grows with the gaps, not with the events (a set of half a million ints
would cost tens of MB)."""

from __future__ import annotations

from bisect import bisect_right


class SeqRanges:
    __slots__ = ("distinct", "his", "los")

    def __init__(self) -> None:
        self.los: list[int] = []
        self.his: list[int] = []
        self.distinct = 0

    def add(self, seq: int) -> bool:
        """Record ``seq``; False when it was already there (a duplicate)."""
        los, his = self.los, self.his
        if his and seq == his[-1] + 1:
            his[-1] = seq
            self.distinct += 1
            return True
        i = bisect_right(los, seq) - 1
        if i >= 0 and seq <= his[i]:
            return False
        self.distinct += 1
        joins_left = i >= 0 and his[i] == seq - 1
        joins_right = i + 1 < len(los) and los[i + 1] == seq + 1
        if joins_left and joins_right:
            his[i] = his[i + 1]
            del los[i + 1], his[i + 1]
        elif joins_left:
            his[i] = seq
        elif joins_right:
            los[i + 1] = seq
        else:
            los.insert(i + 1, seq)
            his.insert(i + 1, seq)
        return True

    @property
    def gaps(self) -> int:
        """``(max - min + 1) - distinct``: the ids missing between the first and the last."""
        return self.his[-1] - self.los[0] + 1 - self.distinct if self.los else 0
