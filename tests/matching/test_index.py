"""The multi-index hash table finds exactly what a scan of every hash finds."""

import numpy as np
import pytest

from verify.matching.index import LayeredIndex, MultiIndex, ScannedRows


@pytest.fixture(scope="module")
def stored() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 2**63, 50_000, dtype=np.int64).view(np.uint64) << np.uint64(1)


@pytest.mark.parametrize("max_distance", [0, 3, 8, 11])
def test_it_finds_every_hash_a_scan_finds_within_the_distance(stored, max_distance):
    index = MultiIndex(stored, np.arange(len(stored)) // 12, np.arange(len(stored)) % 12)
    rng = np.random.default_rng(max_distance)
    near = [int(stored[n]) ^ sum(1 << int(b) for b in rng.choice(64, 5, replace=False)) for n in range(10)]
    queries = np.array(near + [int(v) for v in stored[100:105]], dtype=np.uint64)

    hits = index.search(queries, max_distance)

    scanned = {
        (row, position, int(np.bitwise_count(stored[row] ^ query)))
        for position, query in enumerate(queries)
        for row in np.flatnonzero(np.bitwise_count(stored ^ query) <= max_distance).tolist()
    }
    assert set(zip(hits.rows.tolist(), hits.queries.tolist(), hits.distances.tolist(), strict=True)) == scanned
    assert len(hits.rows) == len(scanned)


def test_it_finds_nothing_in_an_empty_index():
    index = MultiIndex(np.empty(0, np.uint64), np.empty(0, np.int64), np.empty(0, np.int16))

    assert len(index.search(np.array([123], dtype=np.uint64), 8).rows) == 0


@pytest.mark.parametrize("split", [0, 1, 20_000, 49_999, 50_000])
def test_an_index_with_rows_scanned_since_finds_what_one_index_of_every_row_finds(stored, split):
    owners, regions = np.arange(len(stored)) // 12, (np.arange(len(stored)) % 12).astype(np.int16)
    whole = MultiIndex(stored, owners, regions)
    layered = LayeredIndex(
        MultiIndex(stored[:split], owners[:split], regions[:split]),
        ScannedRows(stored[split:], owners[split:], regions[split:]),
    )
    rng = np.random.default_rng(split)
    picked = rng.choice(len(stored), 12, replace=False)
    near = [int(stored[n]) ^ sum(1 << int(b) for b in rng.choice(64, 4, replace=False)) for n in picked]
    queries = np.array(near + [int(v) for v in stored[picked[:4]]], dtype=np.uint64)

    def found(index) -> set[tuple]:
        hits = index.search(queries, 9)
        columns = (hits.rows, hits.queries, hits.distances, hits.owners, hits.regions)
        return set(zip(*(column.tolist() for column in columns), strict=True))

    assert len(layered) == len(whole)
    assert found(layered) == found(whole)
    assert len(found(whole)) >= len(queries)
