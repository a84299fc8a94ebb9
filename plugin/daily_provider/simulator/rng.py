"""Small deterministic randomness for the simulator.

Every record and every fault decision is a function of a few integers. Single decisions use a hash
(:func:`unit`, :func:`mix64`); body generation needs many draws and uses :class:`Rng`, a stream on
Mersenne Twister's raw 64-bit output (``getrandbits``: a fixed algorithm with stable integer seeding,
and ~7x faster than a pure-Python generator). The derived draws (below, choice, ...) are written here
rather than taken from ``random.Random``, whose helper algorithms are not promised stable across
Python versions.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")
_MASK = (1 << 64) - 1


def digest(*parts: object, size: int = 16) -> bytes:
    """A stable hash of ``parts`` (joined with ``:``); the basis of ids and record seeds."""
    text = ":".join(str(part) for part in parts)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=size).digest()


def seed_of(*parts: object) -> int:
    return int.from_bytes(digest(*parts, size=8), "big")


def mix64(value: int) -> int:
    """SplitMix64's finalizer: a cheap, well-spread hash of one 64-bit integer."""
    z = value & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def unit(*parts: object) -> float:
    """A uniform float in [0, 1) that depends only on ``parts``."""
    return (seed_of(*parts) >> 11) * (1.0 / (1 << 53))


class Rng:
    """A seeded random stream with the handful of draws the generator needs."""

    __slots__ = ("_bits",)

    def __init__(self, seed: int) -> None:
        self._bits = random.Random(seed & _MASK).getrandbits

    def next64(self) -> int:
        return self._bits(64)

    def random(self) -> float:
        return (self.next64() >> 11) * (1.0 / (1 << 53))

    def below(self, n: int) -> int:
        """An integer in [0, n); the modulo bias is irrelevant for n far below 2**64."""
        return self.next64() % n

    def between(self, low: int, high: int) -> int:
        """An integer in [low, high], both ends included."""
        return low + self.next64() % (high - low + 1)

    def chance(self, p: float) -> bool:
        return self.random() < p

    def choice(self, items: Sequence[T]) -> T:
        return items[self.next64() % len(items)]

    def hex(self, length: int) -> str:
        out = ""
        while len(out) < length:
            out += f"{self.next64():016x}"
        return out[:length]

    def digits(self, length: int) -> str:
        return "".join(str(self.next64() % 10) for _ in range(length))

    def weighted(self, table: Sequence[tuple[T, int]], total: int) -> T:
        """Pick from ``(item, weight)`` pairs whose weights sum to ``total``."""
        mark = self.next64() % total
        for item, weight in table:
            if mark < weight:
                return item
            mark -= weight
        return table[-1][0]
