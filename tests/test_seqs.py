"""SeqRanges behaves like a set of ints (the model it replaces to save memory)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from validators.seqs import SeqRanges


@given(st.lists(st.integers(min_value=0, max_value=60), max_size=80))
def test_seq_ranges_agree_with_a_set(seqs: list[int]) -> None:
    ranges, model = SeqRanges(), set()
    for seq in seqs:
        assert ranges.add(seq) == (seq not in model)
        model.add(seq)
    assert ranges.distinct == len(model)
    assert ranges.gaps == ((max(model) - min(model) + 1 - len(model)) if model else 0)
    assert all(lo <= hi for lo, hi in zip(ranges.los, ranges.his, strict=True))
    assert all(hi + 1 < lo for hi, lo in zip(ranges.his, ranges.los[1:], strict=False))


def test_in_order_ids_stay_one_range() -> None:
    ranges = SeqRanges()
    for seq in range(1000, 5000):
        ranges.add(seq)
    assert (ranges.los, ranges.his, ranges.gaps) == ([1000], [4999], 0)
