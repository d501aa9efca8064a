"""``fixpoint._set_bits`` (the set bits of a wide mask, found in its binary digits past
a few) against :func:`ztsim.engine.targets.iter_bits` (one bit cleared per step)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ztsim.engine.fixpoint import _FEW_BITS, _set_bits
from ztsim.engine.targets import iter_bits


@given(st.integers(min_value=0, max_value=(1 << 3000) - 1))
def test_same_bits_as_iter_bits(mask: int) -> None:
    assert list(_set_bits(mask)) == list(iter_bits(mask))


@given(st.lists(st.integers(min_value=0, max_value=20_000), max_size=200))
def test_sparse_and_dense_wide_masks(bits: list[int]) -> None:
    mask = 0
    for b in bits:
        mask |= 1 << b
    assert list(_set_bits(mask)) == sorted(set(bits))


def test_both_ways_taken() -> None:
    few = (1 << 10_000) | 1
    many = (1 << (_FEW_BITS + 1)) - 1 | 1 << 9_999
    assert list(_set_bits(few)) == [0, 10_000]
    assert list(_set_bits(many)) == [*range(_FEW_BITS + 1), 9_999]
    assert isinstance(_set_bits(many), list)
