"""Fit a phase's simulated pattern to measured ones: pattern centre and orientation by gradient ascent.

For each pattern and one candidate phase, :func:`fit_patterns` finds the pattern centre (PC)
and, optionally, the orientation whose simulated pattern correlates best with it. The template
is the simulator's own forward model in PyTorch (:class:`~ebsdlib.simulate.torch_render.TorchRenderer`:
projection of the phase's master pattern, the detector's noise-free frame with its blur) and the
project's preprocessing (:func:`~ebsdlib.data.preprocess.preprocess_batch`: static and dynamic
background, standardisation), so the score is the normalised cross-correlation (NCC) that the
ideal matcher and dictionary indexing compare phases by. Every step of that chain is
differentiable, so all patterns are fitted at once with Adam on ``(n, 3)`` PC offsets and
``(n, 3)`` small rotations (``q ⊗ (1, ω/2)``, normalised), the step size decaying along a cosine
to a tenth.

Why: Ni and Ni₃Fe differ by 0.7 % in lattice parameter, nearly what a 0.7 % change of the
detector distance does, and by faint superlattice bands; scored at a pattern centre off by
0.005 of the detector, the ideal matcher can no longer tell them apart. Fitted per candidate,
the PC comes back from the pattern itself and with it the pair (measured by
:func:`ebsdlib.simulate.limit.physical_limit` with ``fit_pc`` on 64×64 dynamical patterns, 200
orientations per candidate, PC and orientation fitted from a PC a median 0.0153 off: median PC
error 0.0017 at 64,000 e⁻/px, 0.0022 at 4,000, 0.0059 at 250; Ni/Ni₃Fe pair accuracy 0.995,
0.855 and 0.54 against 0.998, 0.885 and 0.635 with the exact PC).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ebsdlib.data.preprocess import PreprocessConfig

if TYPE_CHECKING:
    import torch

    from ebsdlib.simulate.torch_render import TorchRenderer

#: Adam steps of a fit and their starting sizes (PC in detector fractions, rotation in radians):
#: 150 steps take 64×64 patterns from a PC a median 0.0153 off to 0.0017–0.0059 (the numbers
#: above); ``tests/simulate/test_fit.py`` checks the convergence on 32×32 patterns.
FIT_STEPS = 150
PC_STEP = 5e-4
ROTATION_STEP = 5e-4
#: Patterns fitted at once: each is its own problem (Adam works per parameter), so this bounds
#: memory and changes no result.
FIT_BATCH = 256


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit_patterns` found, one row per pattern.

    Attributes
    ----------
    scores
        ``(n,)`` NCC of each pattern with its fitted template.
    quaternions
        ``(n, 4)`` fitted orientations (the start where orientation is not fitted).
    pcs
        ``(n, 3)`` fitted Bruker pattern centres.
    start_scores
        ``(n,)`` NCC at the start, for comparison.
    """

    scores: np.ndarray
    quaternions: np.ndarray
    pcs: np.ndarray
    start_scores: np.ndarray


def ncc(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise normalised cross-correlation of two ``(n, …)`` tensors."""
    import torch

    a = a.reshape(len(a), -1)
    b = b.reshape(len(b), -1)
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / torch.sqrt((a * a).sum(1) * (b * b).sum(1)).clamp_min(1e-12)


def rotate_by(q: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """``q ⊗ (1, ω/2)`` normalised: ``(n, 4)`` orientations turned by small rotation vectors ``(n, 3)``
    (radians; exact to first order, smooth at ω = 0)."""
    import torch

    dq = torch.cat([torch.ones_like(omega[:, :1]), omega / 2], 1)
    dq = dq / dq.norm(dim=1, keepdim=True)
    a1, b1, c1, d1 = q.unbind(1)
    a2, b2, c2, d2 = dq.unbind(1)
    return torch.stack(
        [
            a1 * a2 - b1 * b2 - c1 * c2 - d1 * d2,
            a1 * b2 + b1 * a2 + c1 * d2 - d1 * c2,
            a1 * c2 - b1 * d2 + c1 * a2 + d1 * b2,
            a1 * d2 + b1 * c2 - c1 * b2 + d1 * a2,
        ],
        1,
    )


def template_inputs(
    renderer: TorchRenderer,
    label: int,
    quaternions: torch.Tensor,
    pcs: torch.Tensor,
    preprocess: PreprocessConfig,
) -> torch.Tensor:
    """``(n, H, W)`` preprocessed noise-free patterns of phase ``label`` of the renderer at
    these orientations and PCs (static background: the detector's noise-free one)."""
    import torch

    from ebsdlib.data.preprocess import preprocess_batch
    from ebsdlib.simulate.torch_render import standardise

    n = len(quaternions)
    clean = renderer.clean(torch.full((n,), int(label)), quaternions, pcs)
    frames = renderer.expose(standardise(clean), torch.ones(n, device=renderer.device), None)
    return preprocess_batch(frames, preprocess, renderer.static_background)[:, 0]


def fit_patterns(
    renderer: TorchRenderer,
    label: int,
    patterns: np.ndarray | torch.Tensor,
    quaternions: np.ndarray,
    pcs: np.ndarray,
    *,
    fit_orientation: bool = True,
    steps: int = FIT_STEPS,
    preprocess: PreprocessConfig | None = None,
    batch_size: int = FIT_BATCH,
) -> FitResult:
    """Fit phase ``label``'s simulated pattern to each of ``patterns`` from a starting PC and orientation.

    Parameters
    ----------
    renderer
        The forward model (its phases, detector and pattern shape); the fit runs on its device.
    label
        Which of the renderer's phases is the candidate.
    patterns
        ``(n, H, W)`` preprocessed patterns (as :func:`~ebsdlib.data.preprocess.preprocess_batch`
        makes them at their stored size).
    quaternions, pcs
        ``(n, 4)`` starting orientations and ``(n, 3)`` starting Bruker PCs.
    fit_orientation
        Fit the orientation as well as the PC (else it stays at the start).
    steps
        Adam steps (each batch of patterns together).
    preprocess
        The template's preprocessing; default the patterns' (:class:`PreprocessConfig` at the stored size).
    batch_size
        Patterns fitted at once (memory: the autograd graph of a 128×128 pattern is a few MB).

    Returns
    -------
    FitResult
    """
    import torch

    n = len(patterns)
    if np.shape(quaternions) != (n, 4) or np.shape(pcs) != (n, 3):
        raise ValueError(
            f"fit_patterns needs one (4,) orientation and one (3,) PC per pattern: got {n} patterns, "
            f"orientations {np.shape(quaternions)}, PCs {np.shape(pcs)}"
        )
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps {steps!r} must be a positive integer (Adam steps; {FIT_STEPS} is the default)")
    if not 0 <= int(label) < len(renderer.phases):
        raise ValueError(f"label {label!r} is not one of the renderer's {len(renderer.phases)} phases")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size {batch_size!r} must be a positive integer (patterns fitted at once)")
    preprocess = preprocess or PreprocessConfig(size=None)
    device = renderer.device
    x = torch.as_tensor(np.asarray(patterns) if not isinstance(patterns, torch.Tensor) else patterns)
    q0 = torch.as_tensor(np.asarray(quaternions), dtype=torch.float32)
    pc0 = torch.as_tensor(np.asarray(pcs), dtype=torch.float32)
    parts = []
    for i in range(0, n, batch_size):  # each pattern's fit is its own problem: batches change nothing but memory
        chunk = slice(i, i + batch_size)
        parts.append(
            _fit_batch(
                renderer,
                label,
                x[chunk].to(device, torch.float32),
                q0[chunk].to(device),
                pc0[chunk].to(device),
                fit_orientation,
                steps,
                preprocess,
            )
        )
    scores, q, pc, start = (np.concatenate([part[k] for part in parts]) if parts else np.empty(0) for k in range(4))
    return FitResult(
        scores=scores,
        quaternions=q.reshape(-1, 4),
        pcs=pc.reshape(-1, 3),
        start_scores=start,
    )


def _fit_batch(
    renderer: TorchRenderer,
    label: int,
    x: torch.Tensor,
    q0: torch.Tensor,
    pc0: torch.Tensor,
    fit_orientation: bool,
    steps: int,
    preprocess: PreprocessConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`fit_patterns` on one batch already on the device: fitted scores, orientations, PCs,
    and the scores at the start."""
    import torch

    dpc = torch.zeros_like(pc0, requires_grad=True)
    omega = torch.zeros((len(x), 3), device=x.device, requires_grad=fit_orientation)
    groups = [{"params": [dpc], "lr": PC_STEP}]
    if fit_orientation:
        groups.append({"params": [omega], "lr": ROTATION_STEP})
    opt = torch.optim.Adam(groups)
    # cosine from the full step to a tenth of it
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.1 + 0.45 * (1 + np.cos(np.pi * k / steps)))

    def score() -> torch.Tensor:
        return ncc(x, template_inputs(renderer, label, rotate_by(q0, omega), pc0 + dpc, preprocess))

    with torch.no_grad():
        start = score()
    for _ in range(steps):
        opt.zero_grad()
        (-score().sum()).backward()
        opt.step()
        schedule.step()
    with torch.no_grad():
        final = score()
        q = rotate_by(q0, omega)
    return tuple(t.detach().cpu().numpy().astype(np.float64) for t in (final, q, pc0 + dpc, start))
