""":func:`ztsim.engine.targets.iter_bits` (the set bits of a wide mask found in its
binary digits past a few) against the plain way (one bit cleared per step)."""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given
from hypothesis import strategies as st

from ztsim.engine.targets import FEW_BITS, iter_bits


def _cleared(mask: int) -> Iterator[int]:
    """The plain way: the lowest set bit, cleared, until none is left."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


@given(st.integers(min_value=0, max_value=(1 << 3000) - 1))
def test_same_bits_as_iter_bits(mask: int) -> None:
    assert list(iter_bits(mask)) == list(_cleared(mask))


@given(st.lists(st.integers(min_value=0, max_value=20_000), max_size=200))
def test_sparse_and_dense_wide_masks(bits: list[int]) -> None:
    mask = 0
    for b in bits:
        mask |= 1 << b
    assert list(iter_bits(mask)) == sorted(set(bits))


def test_both_ways_taken() -> None:
    few = (1 << 10_000) | 1
    many = (1 << (FEW_BITS + 1)) - 1 | 1 << 9_999
    assert list(iter_bits(few)) == [0, 10_000]
    assert list(iter_bits(many)) == [*range(FEW_BITS + 1), 9_999]
    assert isinstance(iter_bits(many), list)
