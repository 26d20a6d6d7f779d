"""A multi-index hash table of 64-bit hashes: lookups within a Hamming distance in milliseconds at
ten million hashes, where a scan of every hash would take a tenth of a second per query hash.

Each hash is cut into CHUNKS pieces of 21 or 22 bits. Two hashes within distance d agree to within
d // CHUNKS bits on at least one piece (pigeonhole), so a lookup probes, in each piece's table, every
piece value that close to the query's, and counts the full distance only for the rows it finds there.
A piece's table is the row numbers sorted by that piece and where each piece value starts among them.
Pieces of about log2(hashes) bits keep a few rows per piece value at ten million hashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from typing import Self

import numpy as np

HASH_BITS = 64
CHUNKS = 3
# (shift, width) of each piece: 22 + 21 + 21 bits.
PIECES = ((0, 22), (22, 21), (43, 21))


@lru_cache(maxsize=32)
def _flips(width: int, radius: int) -> np.ndarray:
    """Every `width`-bit mask with at most `radius` bits set."""
    masks = [0]
    for count in range(1, radius + 1):
        masks += [sum(1 << bit for bit in bits) for bits in combinations(range(width), count)]
    return np.array(masks, dtype=np.int64)


@dataclass(frozen=True)
class Hits:
    """Rows of the index within the distance of a query hash: row numbers, which query hash, how far, and
    each row's item and region code."""

    rows: np.ndarray
    queries: np.ndarray
    distances: np.ndarray
    owners: np.ndarray
    regions: np.ndarray

    @classmethod
    def none(cls) -> Hits:
        return cls(
            np.empty(0, np.int64),
            np.empty(0, np.int32),
            np.empty(0, np.uint8),
            np.empty(0, np.int64),
            np.empty(0, np.int16),
        )

    def after(self, other: Hits, offset: int) -> Hits:
        """These hits followed by `other`'s, whose row numbers are counted from `offset`."""
        return Hits(
            np.concatenate([self.rows, other.rows + offset]),
            np.concatenate([self.queries, other.queries]),
            np.concatenate([self.distances, other.distances]),
            np.concatenate([self.owners, other.owners]),
            np.concatenate([self.regions, other.regions]),
        )


class HashRows:
    """Unsigned 64-bit hashes, each with the item it belongs to and a region code."""

    def __init__(self, values: np.ndarray, owners: np.ndarray, regions: np.ndarray):
        self.values = np.ascontiguousarray(values, dtype=np.uint64)
        self.owners = np.ascontiguousarray(owners, dtype=np.int64)
        self.regions = np.ascontiguousarray(regions, dtype=np.int16)

    @classmethod
    def empty(cls) -> Self:
        return cls(np.empty(0, np.uint64), np.empty(0, np.int64), np.empty(0, np.int16))

    def __len__(self) -> int:
        return len(self.values)


class MultiIndex(HashRows):
    """Hashes searchable by distance through a table per piece of the hash (see the module's docstring)."""

    def __init__(self, values: np.ndarray, owners: np.ndarray, regions: np.ndarray):
        super().__init__(values, owners, regions)
        self._orders = []
        self._starts = []
        for chunk in range(CHUNKS):
            pieces = self._piece(self.values, chunk)
            self._orders.append(np.argsort(pieces, kind="stable").astype(np.int32))
            counts = np.bincount(pieces, minlength=1 << PIECES[chunk][1])
            # Summed straight into the int32 table: at 2**22 piece values a temporary copy costs a rebuild more
            # than the rows themselves until there are hundreds of thousands of them.
            starts = np.empty(len(counts) + 1, dtype=np.int32)
            starts[0] = 0
            np.cumsum(counts, dtype=np.int32, out=starts[1:])
            self._starts.append(starts)
            del pieces, counts

    @staticmethod
    def _piece(values: np.ndarray, chunk: int) -> np.ndarray:
        shift, width = PIECES[chunk]
        return ((values >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(np.int64)

    @property
    def nbytes(self) -> int:
        arrays = [self.values, self.owners, self.regions, *self._orders, *self._starts]
        return sum(array.nbytes for array in arrays)

    def search(self, queries: np.ndarray, max_distance: int) -> Hits:
        """Every row within `max_distance` bits of one of `queries` (unsigned 64-bit), once per query hash."""
        queries = np.asarray(queries, dtype=np.uint64)
        if not len(queries) or not len(self):
            return Hits.none()
        radius = max_distance // CHUNKS
        found = [self._probe(queries, chunk, _flips(PIECES[chunk][1], radius)) for chunk in range(CHUNKS)]
        rows = np.concatenate([rows for rows, _ in found]).astype(np.int64)
        positions = np.concatenate([positions for _, positions in found])
        distances = np.bitwise_count(self.values[rows] ^ queries[positions])
        near = distances <= max_distance
        # A row found through several pieces is kept once per query hash (only the few near ones are sorted).
        pairs, first = np.unique(rows[near] * len(queries) + positions[near], return_index=True)
        rows = pairs // len(queries)
        return Hits(
            rows, (pairs % len(queries)).astype(np.int32), distances[near][first], self.owners[rows], self.regions[rows]
        )

    def _probe(self, queries: np.ndarray, chunk: int, flips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows whose piece `chunk` is within the flips of a query's, and which query each is for."""
        probes = (self._piece(queries, chunk)[:, None] ^ flips[None, :]).ravel()
        starts = self._starts[chunk][probes].astype(np.int64)
        lengths = self._starts[chunk][probes + 1] - starts
        total = int(lengths.sum())
        if not total:
            return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int64)
        # The positions start..end of every probed bucket, as one array, without a Python loop.
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        positions = np.repeat(np.arange(len(probes)) // len(flips), lengths)
        return self._orders[chunk][offsets + np.arange(total)], positions


class ScannedRows(HashRows):
    """A few hashes, searched by comparing every one with every query hash: the rows stored since a MultiIndex
    was built (20,000 of them add about 1.2 ms to a lookup of 16 hashes, bench/matching_scale.py), where
    building their own piece tables (2**22 entries each) would cost more than the lookups."""

    def search(self, queries: np.ndarray, max_distance: int) -> Hits:
        """Every row within `max_distance` bits of one of `queries` (unsigned 64-bit), once per query hash."""
        queries = np.asarray(queries, dtype=np.uint64)
        if not len(queries) or not len(self):
            return Hits.none()
        distances = np.bitwise_count(self.values[:, None] ^ queries[None, :])
        rows, positions = np.nonzero(distances <= max_distance)
        return Hits(
            rows.astype(np.int64),
            positions.astype(np.int32),
            distances[rows, positions],
            self.owners[rows],
            self.regions[rows],
        )


class LayeredIndex:
    """A MultiIndex of the rows up to some point and the rows stored since, scanned: searched as one table, whose
    rows are numbered through the first and on into the second."""

    def __init__(self, base: MultiIndex, recent: ScannedRows):
        self.base = base
        self.recent = recent

    def __len__(self) -> int:
        return len(self.base) + len(self.recent)

    def search(self, queries: np.ndarray, max_distance: int) -> Hits:
        return self.base.search(queries, max_distance).after(self.recent.search(queries, max_distance), len(self.base))
