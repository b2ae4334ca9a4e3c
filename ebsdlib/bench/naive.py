"""The naive baseline: how a first script would feed patterns to the same network.

One PNG file per pattern, opened with PIL one by one, converted to float32 and standardised
in numpy, stacked into batches of 32, default (contiguous) memory format, fp32, under
``torch.no_grad`` — the patterns are the same as in the pipeline's stages, only the feeding
differs. The PNG files are written once before timing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_pngs(patterns: np.ndarray, folder: str | Path) -> list[Path]:
    """Save each ``(H, W)`` pattern as ``folder/000000.png`` (8- or 16-bit greyscale)."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, p in enumerate(patterns):
        path = folder / f"{i:06d}.png"
        Image.fromarray(np.ascontiguousarray(p if p.dtype == np.uint8 else p.astype(np.uint16))).save(path)
        paths.append(path)
    return paths


def load_batch(paths: list[Path]) -> np.ndarray:
    """Read PNGs with PIL into a float32 ``(B, 1, H, W)`` batch, each pattern standardised."""
    from PIL import Image

    batch = []
    for path in paths:
        img = np.asarray(Image.open(path), dtype=np.float32)
        img = (img - img.mean()) / (img.std() + 1e-6)
        batch.append(img[None])
    return np.stack(batch)


def naive_inference(model, paths: list[Path], device, batch_size: int = 32) -> int:
    """Classify every PNG; returns the number of patterns."""
    import torch

    model.eval()
    preds = []
    for start in range(0, len(paths), batch_size):
        x = torch.from_numpy(load_batch(paths[start : start + batch_size])).to(device)
        with torch.no_grad():
            preds.append(model(x).argmax(dim=1).cpu())
    return int(sum(len(p) for p in preds))


def naive_training(
    model,
    optimizer,
    paths: list[Path],
    labels: np.ndarray,
    device,
    batch_size: int = 32,
    epochs: int = 1,
    seed: int = 0,
) -> int:
    """Train on the PNGs (shuffled each epoch, last partial batch kept); returns patterns seen."""
    import torch
    import torch.nn.functional as F

    model.train()
    rng = np.random.default_rng(seed)
    seen = 0
    for _ in range(epochs):
        order = rng.permutation(len(paths))
        for start in range(0, len(order), batch_size):
            pick = order[start : start + batch_size]
            if len(pick) < 2:
                continue
            x = torch.from_numpy(load_batch([paths[i] for i in pick])).to(device)
            y = torch.from_numpy(labels[pick].astype(np.int64)).to(device)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seen += len(pick)
    return seen
