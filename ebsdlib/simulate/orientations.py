"""Seeded random orientations as unit quaternions ``(a, b, c, d)``, scalar first (orix's order)."""

from __future__ import annotations

import numpy as np


def random_quaternions(n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, 4)`` orientations uniform over SO(3) (Shoemake's method), with ``a ≥ 0``."""
    u1, u2, u3 = rng.random((3, n))
    q = np.column_stack(
        [
            np.sqrt(u1) * np.cos(2 * np.pi * u3),
            np.sqrt(1 - u1) * np.sin(2 * np.pi * u2),
            np.sqrt(1 - u1) * np.cos(2 * np.pi * u2),
            np.sqrt(u1) * np.sin(2 * np.pi * u3),
        ]
    )
    return canonical(q)


def multiply(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamilton product ``p · q`` of ``(…, 4)`` quaternion arrays."""
    a1, b1, c1, d1 = np.moveaxis(np.asarray(p, dtype=np.float64), -1, 0)
    a2, b2, c2, d2 = np.moveaxis(np.asarray(q, dtype=np.float64), -1, 0)
    return np.stack(
        [
            a1 * a2 - b1 * b2 - c1 * c2 - d1 * d2,
            a1 * b2 + b1 * a2 + c1 * d2 - d1 * c2,
            a1 * c2 - b1 * d2 + c1 * a2 + d1 * b2,
            a1 * d2 + b1 * c2 - c1 * b2 + d1 * a2,
        ],
        axis=-1,
    )


def small_rotations(n: int, sigma_deg: float, rng: np.random.Generator) -> np.ndarray:
    """``(n, 4)`` rotations about random axes by angles ~ |N(0, σ)| degrees."""
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    angle = np.deg2rad(np.abs(rng.normal(0.0, sigma_deg, size=n)))
    return np.column_stack([np.cos(angle / 2), axis * np.sin(angle / 2)[:, None]])


def perturb(q: np.ndarray, sigma_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Each orientation of ``q`` turned by a small random rotation (spread ``sigma_deg``)."""
    q = np.asarray(q, dtype=np.float64)
    if sigma_deg <= 0:
        return canonical(q)
    return canonical(multiply(small_rotations(len(q), sigma_deg, rng), q))


def canonical(q: np.ndarray) -> np.ndarray:
    """Unit quaternions with a non-negative scalar part (q and −q are the same rotation)."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def misorientation_deg(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Rotation angle in degrees between orientations ``p`` and ``q`` (no crystal symmetry)."""
    dot = np.abs(np.sum(canonical(p) * canonical(q), axis=-1))
    return np.rad2deg(2 * np.arccos(np.clip(dot, 0.0, 1.0)))
