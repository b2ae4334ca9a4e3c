"""Checkpoints: written atomically, holding only tensors and plain types, loaded weights-only.

A checkpoint is a dictionary with

=====================  ==============================================================
``format``, ``version``  ``"ebsdlib-checkpoint"``, ``1``
``model``              the model's state dict
``config``             the resolved :class:`~ebsdlib.train.config.TrainConfig` as a dict
``phases``             the phase table as a list of :class:`~ebsdlib.phases.Phase` dicts
``epoch``              epochs completed
``history``            the per-epoch rows written to ``history.csv`` so far
``best``               ``{"epoch", "metric", "selected_on"}`` of the best epoch so far
``training_seconds``   wall time spent training so far (all sessions together)
``probe_fitted``       whether ``model``'s classifier is a fitted SupCon probe
``distributed``        (torchrun runs only) ``world_size``, backend, batch size per process,
                       effective batch size and learning rate; a resume needs the same
                       ``world_size``
``optimizer``,         (``checkpoint_last.pt`` only) optimiser, scheduler and grad-scaler
``scheduler``,         state, and the torch RNG states, for an exact resume
``scaler``, ``rng``
=====================  ==============================================================

Loading uses ``torch.load(..., weights_only=True)``: nothing from a run folder is unpickled
as arbitrary Python objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ebsdlib.io import atomic_write
from ebsdlib.phases import Phase

FORMAT = "ebsdlib-checkpoint"
VERSION = 1


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (plus format and version) atomically with ``torch.save``."""
    import torch

    payload = {"format": FORMAT, "version": VERSION, **state}
    return atomic_write(path, lambda p: torch.save(payload, p))


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` and check that it is one of ours.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file is not a weights-only ebsdlib checkpoint (corrupt, truncated, another
        program's file, or one holding pickled objects), naming the file and the reason.
    """
    import pickle
    import re

    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} not found; has the run finished an epoch?")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL (\S+)", str(e))
        if found:
            raise ValueError(
                f"{path}: refused to load — it holds the Python object {found.group(1)!r}, not "
                "only tensors and plain types; run folders are never loaded with "
                "weights_only=False"
            ) from e
        raise ValueError(
            f"{path}: not a readable PyTorch checkpoint ({str(e).strip().splitlines()[-1][:200]}); "
            "the file is corrupt or truncated"
        ) from e
    except (RuntimeError, EOFError, OSError) as e:
        raise ValueError(
            f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}); the file is corrupt or truncated"
        ) from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{path}: not an ebsdlib checkpoint (format {found!r}, expected {FORMAT!r})")
    if int(ckpt.get("version", -1)) != VERSION:
        raise ValueError(
            f"{path}: checkpoint version {ckpt.get('version')!r} is not supported "
            f"(this ebsdlib reads version {VERSION}); retrain or use a matching ebsdlib"
        )
    for key in ("model", "config", "phases"):
        if key not in ckpt:
            raise ValueError(f"{path}: checkpoint lacks {key!r}; the file is incomplete")
    return ckpt


def checkpoint_phases(ckpt: dict[str, Any]) -> tuple[Phase, ...]:
    """The phase table stored in a checkpoint."""
    return tuple(Phase.from_dict(d) for d in ckpt["phases"])


def rng_state() -> dict[str, Any]:
    """The torch RNG states (CPU and every CUDA device) as tensors."""
    import torch

    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved (CUDA states only where CUDA is available)."""
    import torch

    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def load_model_state(model: Any, state: dict[str, Any], path: str | Path, expected: str) -> None:
    """``model.load_state_dict(state)``, with an error that says which weights do not fit.

    Parameters
    ----------
    model
        The freshly built model.
    state
        The checkpoint's state dict.
    path
        The checkpoint file, for the message.
    expected
        What the model is, for the message (e.g. ``"model 'efficientnet_b0' (loss 'ce', 3 phases)"``).

    Raises
    ------
    ValueError
        Naming the file, the model, and the missing, unexpected and reshaped weights.
    """
    try:
        model.load_state_dict(state, strict=True)
        return
    except RuntimeError:
        pass
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    reshaped = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    parts = [
        f"{len(keys)} {what} (e.g. {keys[:3]})"
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("of another shape", reshaped))
        if keys
    ]
    raise ValueError(
        f"{path}: the weights do not fit {expected}: {'; '.join(parts)}; the checkpoint comes "
        "from another model or another version of ebsdlib's model code — start a new run"
    )
