"""Who this process is under ``torchrun``, the process group, and the few collectives ebsdlib needs.

:func:`setup` returns a :class:`Context`. Outside ``torchrun`` it is the single-process
context (rank 0 of 1, :attr:`Context.enabled` false) and every method is a plain local
operation, so library code is written once for both cases.

Under ``torchrun`` the default process group uses NCCL for CUDA tensors and Gloo for CPU
tensors (``"cpu:gloo,cuda:nccl"``; Gloo alone on a machine without CUDA), each process
takes the GPU ``cuda:LOCAL_RANK``, and a second, Gloo-only group carries the control
messages (run ids, cancel flags, objects), so they never wait for the GPU.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ebsdlib.distributed._failures import FailureWatch, publish_failure, remote_failure, wait_for_exit

if TYPE_CHECKING:
    import torch

#: Variables ``torchrun`` sets for every worker; all three mark a distributed launch.
TORCHRUN_VARS = ("WORLD_SIZE", "RANK", "LOCAL_RANK")
#: Seconds a collective waits for the other ranks before it fails; ``$EBSDLIB_DIST_TIMEOUT``.
DEFAULT_TIMEOUT_S = 1800.0

T = TypeVar("T")
_CURRENT: Context | None = None


def torchrun_env(environ: Mapping[str, str] | None = None) -> tuple[int, int, int, int] | None:
    """``(rank, world_size, local_rank, local_world_size)`` from torchrun's variables, or ``None``.

    Raises ``ValueError`` naming the variable when only some are set or one is not a valid number.
    """
    env = os.environ if environ is None else environ
    present = [k for k in TORCHRUN_VARS if k in env]
    if not present:
        return None
    if len(present) < len(TORCHRUN_VARS):
        missing = [k for k in TORCHRUN_VARS if k not in env]
        raise ValueError(
            f"the environment sets {present} but not {missing}; launch with torchrun, which "
            "sets all of them, or unset them to run in one process"
        )
    values = {}
    for key in (*TORCHRUN_VARS, "LOCAL_WORLD_SIZE"):
        text = env.get(key, env["WORLD_SIZE"])
        try:
            values[key] = int(text)
        except ValueError:
            raise ValueError(
                f"environment variable {key}={text!r} is not an integer; it is set by torchrun, do not set it by hand"
            ) from None
    rank, world, local = values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"]
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ValueError(
            f"RANK={rank!r}, WORLD_SIZE={world!r}, LOCAL_RANK={local!r} are inconsistent; "
            "need WORLD_SIZE >= 1, 0 <= RANK < WORLD_SIZE and LOCAL_RANK >= 0"
        )
    return rank, world, local, max(1, values["LOCAL_WORLD_SIZE"])


@dataclass
class Context:
    """This process's place in the job; the single-process context by default.

    Parameters
    ----------
    rank, world_size, local_rank, local_world_size
        As torchrun numbers them (``local_*``: on this node).
    backend
        The default process group's backend, ``""`` when there is none.
    group
        The Gloo group of the control messages (``None`` in one process).
    store
        The process group's key-value store (failures are published there).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    backend: str = ""
    group: Any = None
    store: Any = None
    stop_requested: bool = False
    _failing: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _watch: Any = field(default=None, repr=False)

    @property
    def enabled(self) -> bool:
        """Whether a process group is running (launched by torchrun)."""
        return self.group is not None

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that reads and writes the run folder."""
        return self.rank == 0

    @property
    def shard(self) -> tuple[int, int] | None:
        """``(rank, world_size)`` when distributed, else ``None``."""
        return (self.rank, self.world_size) if self.enabled else None

    def device(self, requested: torch.device) -> torch.device:
        """The device this rank uses: ``cuda:LOCAL_RANK`` when CUDA is asked for, else ``requested``."""
        import torch

        if not self.enabled or requested.type != "cuda":
            return requested
        count = torch.cuda.device_count()
        if self.local_rank >= count:
            raise ValueError(
                f"LOCAL_RANK={self.local_rank} but this node has {count} CUDA device(s); start "
                f"at most {count} processes per node (torchrun --nproc_per_node={count}), or "
                "use --device cpu"
            )
        return torch.device("cuda", self.local_rank)

    def describe(self, batch_size: int, lr: float) -> dict:
        """What ``metrics.json`` and the checkpoints record about the launch."""
        return {
            "world_size": self.world_size,
            "backend": self.backend or "none",
            "batch_size_per_process": int(batch_size),
            "effective_batch_size": int(batch_size) * self.world_size,
            "lr": float(lr),
            "lr_rule": "as given (not scaled with world_size)",
        }

    def request_stop(self) -> None:
        """Ask every rank to stop at the next step (a signal handler's job on ranks other than 0)."""
        self.stop_requested = True

    # -- collectives (plain local operations in one process) -----------------------------------
    def broadcast(self, obj: T) -> T:
        """Rank 0's ``obj`` on every rank."""
        if not self.enabled:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0, group=self.group)
        return box[0]

    def main_only(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on rank 0 only and return its result on every rank.

        An exception in ``fn`` is raised on rank 0 and, with the same message, on every other
        rank (as ``ValueError``, ``FileNotFoundError`` or ``KeyError`` when it was one, else
        ``RuntimeError``), so all ranks fail alike instead of waiting for each other.
        """
        if not self.enabled:
            return fn()
        if self.is_main:
            try:
                result = fn()
            except Exception as e:
                kind = next(
                    (k.__name__ for k in (FileNotFoundError, KeyError, ValueError) if isinstance(e, k)), "RuntimeError"
                )
                self.broadcast(("error", kind, e.args[0] if isinstance(e, KeyError) and e.args else str(e)))
                raise
            self.broadcast(("ok", result))
            return result
        status, *payload = self.broadcast(None)
        if status == "error":
            kind, message = payload
            raise {"FileNotFoundError": FileNotFoundError, "KeyError": KeyError, "ValueError": ValueError}.get(
                kind, RuntimeError
            )(message)
        return payload[0]

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on at least one rank."""
        if not self.enabled:
            return bool(flag)
        import torch
        import torch.distributed as dist

        t = torch.tensor([1 if flag else 0], dtype=torch.int32)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self.group)
        return bool(t.item())

    def mean(self, value: float) -> float:
        """The mean of ``value`` over the ranks."""
        if not self.enabled:
            return float(value)
        import torch
        import torch.distributed as dist

        t = torch.tensor([float(value)], dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.SUM, group=self.group)
        return float(t.item()) / self.world_size

    def all_gather(self, obj: T) -> list[T]:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.enabled:
            return [obj]
        import torch.distributed as dist

        out: list = [None] * self.world_size
        dist.all_gather_object(out, obj, group=self.group)
        return out

    def gather(self, obj: T) -> list[T] | None:
        """Every rank's ``obj``, in rank order, on rank 0; ``None`` elsewhere."""
        if not self.enabled:
            return [obj]
        import torch.distributed as dist

        out: list | None = [None] * self.world_size if self.is_main else None
        dist.gather_object(obj, out, dst=0, group=self.group)
        return out

    # -- failures ----------------------------------------------------------------------------
    def fail(self, error: BaseException) -> str:
        """Publish this rank's error to the others; return the text the run should report.

        An error another rank published first wins: this one is then usually its consequence
        (a collective that lost its peer). When the watchdog is already stopping this process
        for another rank's error, this call waits for it to do so.
        """
        local = f"{type(error).__name__}: {error}"
        if not self.enabled:
            return local
        if not self._failing.acquire(blocking=False):
            wait_for_exit()
        earlier = remote_failure(self.store)
        publish_failure(self.store, f"rank {self.rank}: {local}")
        return earlier or (local if self.world_size == 1 else f"rank {self.rank}: {local}")

    def on_remote_failure(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(error)`` (in the watchdog thread) before exiting for another rank's error.

        Replaces the callback given before (one run at a time).
        """
        if self._watch is not None:
            self._watch.callbacks[:] = [callback]


def timeout_seconds() -> float:
    """``$EBSDLIB_DIST_TIMEOUT`` or :data:`DEFAULT_TIMEOUT_S`."""
    text = os.environ.get("EBSDLIB_DIST_TIMEOUT", str(DEFAULT_TIMEOUT_S))
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"EBSDLIB_DIST_TIMEOUT={text!r} must be a positive number of seconds")
    return value


def setup() -> Context:
    """Join the process group when launched by torchrun (once per process); the context.

    Outside torchrun this imports nothing and returns the single-process context.
    """
    global _CURRENT
    if _CURRENT is not None:
        return _CURRENT
    env = torchrun_env()
    if env is None:
        _CURRENT = Context()
        return _CURRENT
    import atexit
    from datetime import timedelta

    import torch
    import torch.distributed as dist

    rank, world, local, local_world = env
    timeout = timedelta(seconds=timeout_seconds())
    backend = "gloo"
    if torch.cuda.is_available():
        backend = "cpu:gloo,cuda:nccl"
        if local < torch.cuda.device_count():
            torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=timeout)
    group = dist.new_group(backend="gloo", timeout=timeout)
    store = dist.distributed_c10d._get_default_store()
    ctx = Context(
        rank=rank,
        world_size=world,
        local_rank=local,
        local_world_size=local_world,
        backend=backend,
        group=group,
        store=store,
    )
    ctx._watch = FailureWatch(store, rank, ctx._failing)
    ctx._watch.start()
    _CURRENT = ctx
    atexit.register(ctx._watch.stop)
    return ctx


def current() -> Context:
    """The context :func:`setup` made, or the single-process one before any setup."""
    return _CURRENT if _CURRENT is not None else Context()


def teardown() -> None:
    """Stop the watchdog and leave the process group (nothing outside torchrun).

    Call it when the work ended normally; after an error the process just exits (leaving a
    group whose peers are gone could wait for them).
    """
    global _CURRENT
    ctx, _CURRENT = _CURRENT, None
    if ctx is None or not ctx.enabled:
        return
    import torch.distributed as dist

    if ctx._watch is not None:
        ctx._watch.stop()
    if dist.is_initialized():
        dist.destroy_process_group()
