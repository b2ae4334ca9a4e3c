"""DictionaryConfig and the geometry a dictionary is simulated with."""

import pytest

from ebsdlib.baseline.config import DictionaryConfig
from ebsdlib.baseline.geometry import Geometry, apply_overrides, geometry_for
from ebsdlib.data.format import EBSDDataset, write_dataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.simulate.detector import DetectorModel


def test_round_trip():
    cfg = DictionaryConfig(
        resolution=3.0, refine=True, temperature=0.02, pc=(0.4, 0.2, 0.5), preprocess=PreprocessConfig(size=48)
    )
    back = DictionaryConfig.from_dict(cfg.to_dict())
    assert back == cfg
    assert back.preprocess.size == 48 and back.pc == (0.4, 0.2, 0.5)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"resolution": 0.1}, r"resolution=0\.1 is not allowed; use a number of degrees"),
        ({"temperature": -1.0}, r"temperature=-1\.0 is not allowed; use None \(fit it\)"),
        ({"device": "tpu"}, r"device='tpu' is not allowed; use one of \('auto', 'cpu', 'cuda'\)"),
        ({"pc": (0.4, 0.2)}, r"pc=\(0\.4, 0\.2\) is not allowed"),
        ({"refine": "yes"}, r"refine='yes' is not allowed; use True or False"),
        ({"calibration_patterns": -3}, r"calibration_patterns=-3 is not allowed"),
    ],
)
def test_bad_options_are_named(change, match):
    with pytest.raises(ValueError, match=match):
        DictionaryConfig(**change)


def test_unknown_keys_are_named():
    with pytest.raises(ValueError, match=r"unknown dictionary indexing options \['resolutoin'\]"):
        DictionaryConfig.from_dict({"resolutoin": 3.0})


def test_geometry_from_the_simulation_record(clean_data):
    with EBSDDataset(clean_data) as ds:
        geometry = geometry_for(ds)
    assert geometry.master_half_size == 60
    assert geometry.detector == DetectorModel()
    assert "simulation record of clean.h5" in geometry.source
    assert Geometry.from_dict(geometry.to_dict()) == geometry


def test_geometry_of_unsimulated_data_is_the_default_and_options_override(tmp_path, clean_data):
    with EBSDDataset(clean_data) as src:
        patterns, labels = src.read(slice(None)), src.labels
    path = write_dataset(
        tmp_path / "imported.h5", patterns, labels, DEFAULT_PHASES, provenance={"source": "vendor file"}
    )
    with EBSDDataset(path) as ds:
        geometry = geometry_for(ds, DictionaryConfig(pc=(0.5, 0.3, 0.6), sample_tilt=68.0))
    assert geometry.master_half_size == 250
    assert geometry.detector.pc == (0.5, 0.3, 0.6) and geometry.detector.sample_tilt == 68.0
    assert "records no geometry" in geometry.source and "pc, sample_tilt from the options" in geometry.source
    same = apply_overrides(geometry, DictionaryConfig())
    assert same is geometry
