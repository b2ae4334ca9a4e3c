"""Several processes, GPUs or nodes: the same commands under PyTorch's launcher ``torchrun``.

``torchrun --nproc_per_node=N -m ebsdlib train …`` trains with DistributedDataParallel and
``torchrun … -m ebsdlib predict …`` maps a scan with every process; without ``torchrun``
nothing changes. A process knows it runs under ``torchrun`` from the variables the launcher
sets (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``); see :func:`~ebsdlib.distributed.context.setup`.

The rules
---------
Batch size and learning rate
    ``batch_size`` is per process: a step sees the *global batch* of
    ``batch_size × world_size`` patterns. The learning rate is **not** scaled: ``lr`` is used
    as given, so a run's ``config.json`` means the same thing on any number of processes.
    ``N`` processes with ``--batch-size B/N`` train exactly like one process with
    ``--batch-size B`` (same global order, same flips, gradients averaged over the global
    batch); to train with a larger global batch, raise ``--lr`` yourself (AdamW tolerates
    about ``√N``; the linear rule is for SGD). ``metrics.json`` and the checkpoints record
    ``world_size``, the effective batch size and the learning rate under ``distributed``.
Data
    Each epoch's shuffled order is drawn from ``(seed, epoch)``, the same on every rank; global
    batch ``k`` is split into ``world_size`` consecutive parts and rank ``r`` trains on part
    ``r`` (:class:`~ebsdlib.train._ddp_sampler.ShardedFeeder`). Incomplete global batches are
    dropped. The data set must be readable at the same path on every node.
BatchNorm
    On CUDA, BatchNorm layers become ``SyncBatchNorm``: the statistics cover the global
    batch, as in one process. On the CPU (Gloo) PyTorch has no SyncBatchNorm, so each process
    normalises over its own part; a model with GroupNorm or LayerNorm (e.g. timm's
    ``test_efficientnet_gn``) then still trains exactly as in one process.
Supervised contrastive loss
    Embeddings and labels are gathered from every rank (pytorch-metric-learning's
    ``DistributedLossWrapper``), so every step contrasts the whole global batch.
Who writes
    Only rank 0 touches the run folder: it creates the run id and hands it to the others,
    writes ``config.json``, ``status.json``, checkpoints, ``history.csv``, the evaluation and
    phase maps; it also reads checkpoints for ``resume`` and ``predict`` and hands them over.
    The other ranks never open a file in it, so it may live on the first node only.
    Losses and validation figures are averaged / gathered across ranks.
Stopping
    A cancel request (the ``CANCEL`` file or SIGTERM on rank 0, SIGTERM on any rank) is
    agreed on by all ranks at the next step, so all stop together. An error on one rank is
    published through the process group's store; every other rank's watchdog sees it within
    a fraction of a second, rank 0 writes ``failed`` with that error, and all exit instead of
    waiting in a collective. Collectives time out after ``$EBSDLIB_DIST_TIMEOUT`` seconds
    (default 1800).
"""

from ebsdlib.distributed.context import Context, current, setup, teardown, torchrun_env

__all__ = ["Context", "current", "setup", "teardown", "torchrun_env"]
