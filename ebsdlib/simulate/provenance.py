"""The provenance record every simulated file carries: what made it, with which parameters."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Literal

_DETECTOR = (
    " projected onto the detector with EBSDMasterPattern.get_patterns, then "
    "ebsdlib.simulate.detector.DetectorModel (background, Poisson shot noise, blur, read noise, quantisation)"
)

#: What made the patterns, per forward model.
METHODS = {
    "kinematical": "kinematical master patterns (kikuchipy KikuchiPatternSimulator, Lobato electron scattering "
    "factors, band intensity ∝ |F_hkl|)" + _DETECTOR,
    "dynamical": "dynamical master patterns (de-ebsd MasterPatternSimulator: Bloch waves with absorption, "
    "depth-integrated over a seeded Monte Carlo exit-depth profile)" + _DETECTOR,
}


def package_versions() -> dict[str, str]:
    """Versions of the packages the simulation depends on."""
    from ebsdlib import __version__

    out = {"ebsdlib": __version__}
    for name in ("kikuchipy", "orix", "diffsims", "de-ebsd", "numpy", "scipy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(kind: Literal["dataset", "scan"], config: dict, masters: dict) -> dict:
    """JSON-ready provenance: simulator, method (of ``config["forward_model"]``), full config, master
    patterns, versions."""
    return {
        "source": "simulation",
        "simulator": f"ebsdlib.simulate.{kind}",
        "method": METHODS[config.get("forward_model", "kinematical")],
        "config": config,
        "master_patterns": masters,
        "versions": package_versions(),
    }
