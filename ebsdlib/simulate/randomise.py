"""Domain randomisation for stream training: ranges the simulator draws each pattern's conditions from.

A network trained on one simulator setting learns that setting: its pattern centre, its dose, its
blur, its background and its forward model. Real scans differ in every one of them. With
:class:`DomainRanges` the stream (:mod:`ebsdlib.train.stream`) draws, per pattern,

pattern centre
    around the detector's with σ ``pc_sigma`` (instead of the detector's ``pc_spread``);
dose
    log-uniformly in ``dose`` (electrons per pixel), instead of the data set's log-normal;
blur
    the point-spread σ uniformly in ``psf_sigma`` pixels;
background
    the σ of the random per-pattern background gradient uniformly in ``background_jitter``;
band contrast
    uniformly in ``band_contrast`` (the Kikuchi modulation relative to the background);
camera tilt
    uniformly in ``camera_tilt`` degrees;
forward model
    dynamical (de-ebsd) with probability ``dynamical_fraction``, else kinematical.

A field left ``None`` keeps the data set's own setting, so an empty :class:`DomainRanges` streams
patterns exactly like the stored ones (and draws the same random numbers as before it existed).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

#: Range fields and the smallest value each allows (``dose`` must be positive: see :data:`POSITIVE`).
RANGE_FLOORS: dict[str, float] = {
    "dose": 0.0,
    "psf_sigma": 0.0,
    "background_jitter": 0.0,
    "band_contrast": 0.0,
    "camera_tilt": -90.0,
}
#: Range fields whose values must be strictly above their floor.
POSITIVE = ("dose",)
#: Largest allowed ``pc_sigma`` (detector fractions): beyond it the pattern leaves the screen.
PC_SIGMA_MAX = 0.2
#: One line per field, for flags and forms.
RANGE_HELP: dict[str, str] = {
    "pc_sigma": "σ of the per-pattern pattern-centre shift (fractions of the detector; default: the data set's)",
    "dose": "electrons per pixel, drawn log-uniformly (default: the data set's log-normal dose)",
    "psf_sigma": "point-spread blur σ in pixels (default: the detector's)",
    "background_jitter": "σ of the per-pattern background gradient (default: the detector's)",
    "band_contrast": "Kikuchi band contrast relative to the background (default: the detector's)",
    "camera_tilt": "camera tilt in degrees (default: the detector's)",
    "dynamical_fraction": "share of patterns made with dynamical masters, the rest kinematical (default: the "
    "data set's forward model only)",
}


@dataclass(frozen=True)
class DomainRanges:
    """Per-pattern ranges of the simulator's conditions for stream training (see the module docstring).

    Parameters
    ----------
    pc_sigma
        σ of the per-pattern pattern-centre shift, ≥ 0.
    dose, psf_sigma, background_jitter, band_contrast, camera_tilt
        ``(low, high)`` with ``low ≤ high``; ``dose`` log-uniform and > 0, the others uniform.
    dynamical_fraction
        Probability in [0, 1] that a pattern uses the dynamical masters.
    """

    pc_sigma: float | None = None
    dose: tuple[float, float] | None = None
    psf_sigma: tuple[float, float] | None = None
    background_jitter: tuple[float, float] | None = None
    band_contrast: tuple[float, float] | None = None
    camera_tilt: tuple[float, float] | None = None
    dynamical_fraction: float | None = None

    def __post_init__(self) -> None:
        for name, floor in RANGE_FLOORS.items():
            value = getattr(self, name)
            if value is None:
                continue
            if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(_number(v) for v in value)):
                raise ValueError(f"{name}={value!r} is not a range; give two numbers LOW HIGH")
            low, high = float(value[0]), float(value[1])
            if low > high:
                raise ValueError(
                    f"{name} range ({low:g}, {high:g}) is empty; give LOW ≤ HIGH, e.g. ({high:g}, {low:g})"
                )
            strict = name in POSITIVE
            if low < floor or (strict and low <= floor):
                bound = "> 0" if strict else f"≥ {floor:g}"
                raise ValueError(f"{name} range ({low:g}, {high:g}) starts below what is physical; use values {bound}")
            object.__setattr__(self, name, (low, high))
        if self.pc_sigma is not None and not (_number(self.pc_sigma) and 0 <= self.pc_sigma <= PC_SIGMA_MAX):
            raise ValueError(
                f"pc_sigma={self.pc_sigma!r} is not allowed; use a σ from 0 to {PC_SIGMA_MAX} (detector fractions)"
            )
        frac = self.dynamical_fraction
        if frac is not None and not (_number(frac) and 0 <= frac <= 1):
            raise ValueError(f"dynamical_fraction={frac!r} is not allowed; use a probability from 0 to 1")

    @property
    def active(self) -> bool:
        """Whether any condition is drawn from a range (an empty object changes nothing)."""
        return any(getattr(self, f.name) is not None for f in fields(self))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (ranges as two-element lists, unset fields ``None``)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict | None) -> DomainRanges:
        """Inverse of :meth:`to_dict` (``None`` or ``{}``: no randomisation); unknown keys are an error."""
        if not d:
            return cls()
        if not isinstance(d, dict):
            raise ValueError(f"domain ranges must be a dictionary of fields, not {type(d).__name__} ({d!r})")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown domain-range keys {unknown}; known are {sorted(known)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def describe(self) -> str:
        """One line naming the randomised conditions, or ``"none"``."""
        parts = []
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple):
                parts.append(f"{f.name} {v[0]:g}–{v[1]:g}")
            elif v is not None:
                parts.append(f"{f.name} {v:g}")
        return ", ".join(parts) or "none"


def _number(value: object) -> bool:
    """A finite ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


#: A starting point for forms: doses across the dose benchmark's range, a PC spread like a vendor
#: calibration's error, a few degrees of camera tilt, and half the patterns dynamical.
SUGGESTED = DomainRanges(pc_sigma=0.02, dose=(500.0, 16000.0), camera_tilt=(-3.0, 3.0), dynamical_fraction=0.5)
