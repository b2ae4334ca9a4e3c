"""Recognising a torchrun launch, and the single-process context that everything else sees."""

from __future__ import annotations

import pytest

from ebsdlib.distributed import Context, current, setup, torchrun_env


def test_torchrun_variables_give_rank_world_and_local_rank():
    env = {"WORLD_SIZE": "8", "RANK": "5", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4"}
    assert torchrun_env(env) == (5, 8, 1, 4)
    assert torchrun_env({"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}) == (0, 2, 0, 2)
    assert torchrun_env({"PATH": "/bin"}) is None


@pytest.mark.parametrize(
    "env,message",
    [
        ({"WORLD_SIZE": "2"}, r"sets \['WORLD_SIZE'\] but not \['RANK', 'LOCAL_RANK'\]"),
        ({"WORLD_SIZE": "two", "RANK": "0", "LOCAL_RANK": "0"}, r"WORLD_SIZE='two' is not an integer"),
        ({"WORLD_SIZE": "2", "RANK": "2", "LOCAL_RANK": "0"}, r"RANK=2, WORLD_SIZE=2, LOCAL_RANK=0 are inconsistent"),
    ],
)
def test_broken_torchrun_variables_are_named(env, message):
    with pytest.raises(ValueError, match=message):
        torchrun_env(env)


def test_outside_torchrun_the_context_is_one_local_process(monkeypatch):
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    ctx = setup()
    assert ctx is current() and not ctx.enabled and ctx.is_main and ctx.shard is None
    assert ctx.main_only(lambda: 41) + 1 == 42
    assert ctx.broadcast("x") == "x" and ctx.all_gather(3) == [3] and ctx.gather(3) == [3]
    assert ctx.any(True) and not ctx.any(False) and ctx.mean(2.5) == 2.5
    assert ctx.fail(OSError("disk")) == "OSError: disk"
    with pytest.raises(KeyError):
        ctx.main_only(lambda: {}["missing"])


def test_cuda_is_asked_for_on_a_rank_without_its_gpu():
    import torch

    ctx = Context(rank=3, world_size=4, local_rank=3 + torch.cuda.device_count(), group=object())
    assert ctx.device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match=r"LOCAL_RANK=\d+ but this node has \d+ CUDA device\(s\); start at most"):
        ctx.device(torch.device("cuda"))
