"""The provenance record every simulated file carries: what made it, with which parameters."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Literal

METHOD = (
    "kinematical master patterns (kikuchipy KikuchiPatternSimulator, Lobato electron scattering "
    "factors, band intensity ∝ |F_hkl|) projected onto the detector with "
    "EBSDMasterPattern.get_patterns, then ebsdlib.simulate.detector.DetectorModel "
    "(background, Poisson shot noise, blur, read noise, quantisation)"
)


def package_versions() -> dict[str, str]:
    """Versions of the packages the simulation depends on."""
    from ebsdlib import __version__

    out = {"ebsdlib": __version__}
    for name in ("kikuchipy", "orix", "diffsims", "numpy", "scipy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(kind: Literal["dataset", "scan"], config: dict, masters: dict) -> dict:
    """JSON-ready provenance: simulator, method, full config, master patterns, versions."""
    return {
        "source": "simulation",
        "simulator": f"ebsdlib.simulate.{kind}",
        "method": METHOD,
        "config": config,
        "master_patterns": masters,
        "versions": package_versions(),
    }
