"""Entry point the distributed tests start under torchrun: ``worker.py MODE [ARGS…]``.

Every mode first installs, on ranks other than 0, an audit hook that records each file
operation (open, mkdir, rename, remove) under ``$EBSDLIB_ARTIFACTS``; the record goes to
``$AUDIT_DIR/rank<r>.json`` when the process ends (``inside``: those operations; ``outside``:
how many it saw elsewhere), so the tests can check that only rank 0 touched the run folder. Modes:

``cli ARGV…``
    ``ebsdlib.cli.main(ARGV)``, what ``python -m ebsdlib ARGV`` runs.
``fail-rank1 ARGV…``
    The same, but rank 1's training data raise an ``OSError`` at its second step.
``cancel-after-epoch-1 CONFIG_JSON RUN_ID``
    The library's ``train`` with that config; rank 0 requests a cancel after epoch 1.
``supcon-loss OUT.npz``
    SupCon on 8 embeddings, half per rank through ``GlobalBatchLoss``; rank 0 saves the loss
    and the gradients of both halves.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
from pathlib import Path


def audit_run_folder(rank: int) -> None:
    root = str(Path(os.environ["EBSDLIB_ARTIFACTS"]).resolve())
    record: dict = {"inside": [], "outside": 0}

    def hook(event: str, args: tuple) -> None:
        if event in ("open", "os.mkdir", "os.rename", "os.remove", "os.rmdir", "shutil.rmtree"):
            path = args[0]
            if isinstance(path, (str, bytes, os.PathLike)):
                text = os.fsdecode(path)
                if os.path.abspath(text).startswith(root):
                    record["inside"].append([event, text])
                else:
                    record["outside"] += 1  # proof that the hook sees the process's file activity

    def dump() -> None:
        out = Path(os.environ["AUDIT_DIR"]) / f"rank{rank}.json"
        out.write_text(json.dumps(record))

    atexit.register(dump)
    sys.addaudithook(hook)


def fail_on_rank1() -> None:
    from ebsdlib.train import _ddp_sampler as sampler

    original = sampler.ShardedFeeder.batches

    def batches(self, *args, **kwargs):
        for step, item in enumerate(original(self, *args, **kwargs)):
            if self.rank == 1 and step == 1:
                raise OSError("injected read error on rank 1")
            yield item

    sampler.ShardedFeeder.batches = batches


def cancel_after_epoch_1(config_json: str, run_id: str) -> int:
    from ebsdlib.distributed import teardown
    from ebsdlib.io import read_json
    from ebsdlib.paths import runs_root
    from ebsdlib.runs import RunDir
    from ebsdlib.train.config import TrainConfig
    from ebsdlib.train.loop import train

    run = RunDir(runs_root() / run_id)
    train(
        TrainConfig.from_dict(read_json(config_json)),
        run_id,
        progress=False,
        on_epoch_end=lambda epoch, row: run.request_cancel() if epoch == 1 else None,
    )
    teardown()  # leave the group as the CLI does (see supcon_loss)
    return 0


def supcon_loss(out: str) -> int:
    import numpy as np
    import torch
    from pytorch_metric_learning.losses import SupConLoss

    from ebsdlib.distributed import setup, teardown
    from ebsdlib.train._ddp_model import metric_loss

    ctx = setup()
    g = torch.Generator().manual_seed(0)
    emb = torch.nn.functional.normalize(torch.randn(8, 5, generator=g), dim=1)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    lo, hi = 4 * ctx.rank, 4 * ctx.rank + 4
    mine = emb[lo:hi].clone().requires_grad_(True)
    loss = metric_loss(SupConLoss(temperature=0.1), ctx)(mine, labels[lo:hi])
    loss.backward()
    # what DDP does with the ranks' gradients: their mean
    grads = ctx.all_gather(mine.grad.numpy())
    if ctx.is_main:
        np.savez(out, loss=loss.item(), grad=np.concatenate(grads) / ctx.world_size)
    # leave the group as the CLI does: a process that exits inside it can abort in Gloo's
    # threads ("terminate called without an active exception"; seen once in a fresh-clone run)
    teardown()
    return 0


def main() -> int:
    rank = int(os.environ.get("RANK", "0"))
    if rank != 0:
        audit_run_folder(rank)
    mode, *rest = sys.argv[1:]
    if mode == "cancel-after-epoch-1":
        return cancel_after_epoch_1(*rest)
    if mode == "supcon-loss":
        return supcon_loss(*rest)
    if mode == "fail-rank1":
        fail_on_rank1()
    elif mode != "cli":
        raise SystemExit(f"unknown mode {mode!r}")
    from ebsdlib.cli import main as cli_main

    return cli_main(rest)


if __name__ == "__main__":
    raise SystemExit(main())
