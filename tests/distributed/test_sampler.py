"""Each rank's part of the global batches, the flips of a part, and the contiguous shards of inference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ebsdlib.data.format import EBSDDataset
from ebsdlib.train._ddp_inference import shard_range
from ebsdlib.train._ddp_sampler import ShardedFeeder, make_feeder
from ebsdlib.train.data import BATCHES_PER_READ, PatternFeeder


@pytest.fixture
def dataset(tiny_data):
    with EBSDDataset(tiny_data) as ds:
        yield ds


def rank_batches(ds, indices, world, batch, seed, memory_limit):
    feeders = [ShardedFeeder(ds, indices, r, world, memory_limit=memory_limit) for r in range(world)]
    return [list(f.batches(batch, np.random.default_rng(seed))) for f in feeders], feeders


def test_in_memory_ranks_split_the_one_process_batches_of_the_global_size(dataset):
    idx = np.arange(46)  # 46 = 5 global batches of 8, and 6 left over
    parts, feeders = rank_batches(dataset, idx, 2, 4, 3, memory_limit=1 << 30)
    single = list(PatternFeeder(dataset, idx).batches(8, np.random.default_rng(3)))
    assert feeders[0].steps(4) == len(single) == 5
    for step, (pos, raw, labels) in enumerate(single):
        joined = [np.concatenate([parts[r][step][k] for r in range(2)]) for k in range(3)]
        assert np.array_equal(joined[0], pos)
        assert np.array_equal(joined[1], raw) and np.array_equal(joined[2], labels)
        assert all(len(parts[r][step][0]) == 4 for r in range(2))


def test_streamed_ranks_read_one_contiguous_range_per_block_and_cover_it(dataset):
    batch, world = 2, 2
    block = batch * BATCHES_PER_READ * world  # 32 positions; 48 patterns = 1 block and a tail of 16
    parts, feeders = rank_batches(dataset, np.arange(48), world, batch, 5, memory_limit=0)
    assert not feeders[0].in_memory
    assert feeders[0].steps(batch) == 48 // (batch * world)
    for r in range(world):
        first = np.concatenate([p for p, _, _ in parts[r][:BATCHES_PER_READ]])
        lo = r * batch * BATCHES_PER_READ
        assert np.array_equal(np.sort(first), np.arange(lo, lo + batch * BATCHES_PER_READ))
        for pos, raw, labels in parts[r]:
            assert np.array_equal(raw, dataset.read(pos)) and np.array_equal(labels, dataset.labels[pos])
    every = np.concatenate([p for r in range(world) for p, _, _ in parts[r]])
    assert np.array_equal(np.sort(every), np.arange(48))  # no pattern twice, none lost here
    assert np.array_equal(np.sort(every[every < block]), np.arange(block))


def test_one_streamed_rank_shuffles_exactly_like_the_plain_feeder(dataset):
    idx = np.arange(40)
    sharded = ShardedFeeder(dataset, idx, 0, 1, memory_limit=0)
    plain = PatternFeeder(dataset, idx, memory_limit=0)
    assert np.array_equal(sharded.order(2, np.random.default_rng(9)), plain.order(2, np.random.default_rng(9)))


def test_too_few_patterns_for_one_global_batch_is_refused_with_the_numbers(dataset):
    feeder = ShardedFeeder(dataset, np.arange(10), 1, 4)
    with pytest.raises(
        ValueError,
        match=r"10 training patterns do not fill one global batch of "
        r"batch_size × world_size = 4 × 4 = 16",
    ):
        feeder.steps(4)
    with pytest.raises(ValueError, match="drop_last=False"):
        feeder.steps(2, drop_last=False)
    with pytest.raises(ValueError, match=r"rank 4 must lie in \[0, world_size=4\)"):
        ShardedFeeder(dataset, np.arange(10), 4, 4)


def test_make_feeder_shares_the_node_memory_limit(dataset):
    assert type(make_feeder(dataset, np.arange(8))) is PatternFeeder
    feeder = make_feeder(dataset, np.arange(8), rank=1, world_size=4, local_world_size=4)
    assert isinstance(feeder, ShardedFeeder) and (feeder.rank, feeder.world_size) == (1, 4)


def test_flips_of_a_rank_part_are_those_of_the_global_batch(dataset):
    import torch

    from ebsdlib.data.preprocess import PreprocessConfig
    from ebsdlib.train.data import prepare_batch

    pp = PreprocessConfig(size=24, static_background=False)
    raw = dataset.read(np.arange(8))
    whole = prepare_batch(raw, torch.device("cpu"), pp, None, torch.Generator().manual_seed(1))
    parts = [
        prepare_batch(
            raw[4 * r : 4 * r + 4], torch.device("cpu"), pp, None, torch.Generator().manual_seed(1), shard=(r, 2)
        )
        for r in range(2)
    ]
    assert torch.equal(torch.cat(parts), whole)
    unflipped = prepare_batch(raw, torch.device("cpu"), pp, None)
    assert not torch.equal(whole, unflipped)  # the seed does flip some patterns


@pytest.mark.parametrize("n,world", [(35, 2), (7, 4), (3, 4), (0, 2)])
def test_shard_ranges_are_contiguous_and_cover_every_item_once(n, world):
    ranges = [shard_range(n, r, world) for r in range(world)]
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    sizes = [hi - lo for lo, hi in ranges]
    assert max(sizes) - min(sizes) <= 1
    with pytest.raises(ValueError, match="0 <= rank < world_size"):
        shard_range(n, world, world)
