"""The sidebar's training form takes every bound, default, choice and help from the library's
config table (``ebsdlib.train.config``): nothing is typed twice, so the two cannot disagree."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from ebsdlib.data.format import write_dataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.methods import method_label
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.train.config import BOUNDS, CHOICES, FIELD_HELP, IMAGE_SIZE_BOUNDS, IMAGE_SIZE_HELP, TrainConfig

#: Widget key → config field (``size``: the preprocessing's image size).
NUMBERS = {
    "tf_epochs": "epochs",
    "tf_batch": "batch_size",
    "tf_lr": "lr",
    "tf_wd": "weight_decay",
    "tf_temp": "temperature",
    "tf_size": "size",
    "tf_seed": "seed",
}
CHOICE_WIDGETS = {
    "tf_loss": ("radio", "loss"),
    "tf_schedule": ("selectbox", "schedule"),
    "tf_device": ("selectbox", "device"),
    "tf_calibrator": ("selectbox", "calibrator"),
}
SWITCHES = {"tf_augment": "augment", "tf_umap": "umap", "tf_stream": "stream"}


def _form_only() -> None:
    import sidebar

    sidebar.training_form()


@pytest.fixture
def form(tmp_path, monkeypatch):
    """``form()`` renders the training form alone, on an artifacts folder holding a tiny data set."""
    from streamlit.testing.v1 import AppTest

    labels = np.repeat(np.arange(3), 4)
    patterns = np.random.default_rng(0).integers(0, 255, (len(labels), 16, 16), dtype=np.uint8)
    write_dataset(tmp_path / "datasets" / "tiny.h5", patterns, labels, DEFAULT_PHASES, provenance={"made_by": "test"})
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path))

    def render() -> AppTest:
        at = AppTest.from_function(_form_only, default_timeout=60).run()
        assert not at.exception, at.exception
        return at

    return render


def _accepts(name: str, value) -> bool:
    try:
        if name == "size":
            PreprocessConfig(size=value)
        else:
            TrainConfig(**{name: value})
    except ValueError:
        return False
    return True


def _just_beyond(low: float, high: float, integer: bool) -> tuple[float, float]:
    if integer:
        return low - 1, high + 1
    return math.nextafter(low, -math.inf), math.nextafter(high, math.inf)


def test_every_widget_has_the_configs_bounds_default_choices_and_help(form):
    at = form()
    defaults = TrainConfig()
    for key, name in NUMBERS.items():
        w = at.number_input(key=key)
        bounds = IMAGE_SIZE_BOUNDS if name == "size" else BOUNDS[name]
        default = PreprocessConfig().size if name == "size" else getattr(defaults, name)
        assert (w.min, w.max, w.value) == (bounds.minimum, bounds.high, default), key
        assert (IMAGE_SIZE_HELP if name == "size" else FIELD_HELP[name])[1:] in w.help, key
        # the widget's ends are values the config takes; one step past them it refuses
        assert _accepts(name, int(w.min) if bounds.integer else w.min), key
        assert _accepts(name, int(w.max) if bounds.integer else w.max), key
        below, above = _just_beyond(w.min, w.max, bounds.integer)
        assert not _accepts(name, above), key
        if not bounds.low_open:  # an open bound: the widget starts inside, the bound itself is refused
            assert not _accepts(name, int(below) if bounds.integer else below), key
        else:
            assert not _accepts(name, bounds.low) and w.min > bounds.low, key
    for key, (kind, name) in CHOICE_WIDGETS.items():
        w = getattr(at, kind)(key=key)
        shown = [method_label(o) for o in CHOICES[name]] if name == "loss" else list(CHOICES[name])
        assert list(w.options) == shown and w.value == getattr(defaults, name), key
        assert FIELD_HELP[name][1:] in w.help, key
    for key, name in SWITCHES.items():
        w = at.checkbox(key=key)
        assert w.value is getattr(defaults, name) and FIELD_HELP[name][1:] in w.help, key
    assert at.radio(key="tf_validation").value is defaults.validation
    assert at.text_input(key="tf_model").value == defaults.model


def test_the_form_follows_a_changed_bound(form, monkeypatch):
    """A bound retyped in the form (even to today's number) fails here: change the library's, the form follows."""
    for name, b in BOUNDS.items():
        wider = replace(b, high=b.high + 1, low=b.low - 1, least=None if b.least is None else b.least / 2)
        monkeypatch.setitem(BOUNDS, name, wider)
    at = form()
    for key, name in NUMBERS.items():
        if name != "size":
            w = at.number_input(key=key)
            assert (w.min, w.max) == (BOUNDS[name].minimum, BOUNDS[name].high), key


def test_the_forms_domain_randomisation_reaches_the_launched_config(form, monkeypatch):
    from ebsdlib import jobs
    from ebsdlib.simulate.randomise import SUGGESTED

    launched = []
    monkeypatch.setattr(jobs, "launch", lambda config, base: launched.append(config) or "run-1")
    at = form()
    at.checkbox(key="tf_stream").check()
    at.checkbox(key="tf_randomise").check()
    at.number_input(key="tf_rand_tilt").set_value(5.0)
    at.button[0].click().run()
    assert not at.exception, at.exception
    (config,) = launched
    assert config.stream and config.randomise.camera_tilt == (-5.0, 5.0)
    assert config.randomise.dose == SUGGESTED.dose and config.randomise.dynamical_fraction == 0.5
    at.checkbox(key="tf_stream").uncheck()
    at.button[0].click().run()  # ranges without streaming: refused inline, nothing started
    assert len(launched) == 1 and "need stream" in at.error[0].value


def test_the_image_size_is_the_data_sets_own_unless_the_user_unticks_it(tmp_path, monkeypatch):
    """A simulated data set recommends its pattern size (the demo's: 128 px); the form launches at
    that size by default, so a network is not trained on patterns shrunk to the library default."""
    from streamlit.testing.v1 import AppTest

    from ebsdlib import jobs

    labels = np.repeat(np.arange(3), 4)
    patterns = np.random.default_rng(0).integers(0, 255, (len(labels), 40, 40), dtype=np.uint8)
    write_dataset(
        tmp_path / "datasets" / "big.h5",
        patterns,
        labels,
        DEFAULT_PHASES,
        provenance={"made_by": "test"},
        preprocessing=PreprocessConfig(size=40).to_dict(),
    )
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path))
    launched = []
    monkeypatch.setattr(jobs, "launch", lambda config, base: launched.append(config) or "run-1")
    at = AppTest.from_function(_form_only, default_timeout=60).run()
    assert at.checkbox(key="tf_size_own").value is True
    at.button[0].click().run()
    at.checkbox(key="tf_size_own").uncheck()
    at.number_input(key="tf_size").set_value(24)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert [c.preprocess.size for c in launched] == [40, 24]
    assert PreprocessConfig().size != 40  # the default would have shrunk the patterns
    assert [c.calibrator for c in launched] == ["auto", "auto"]
    at.selectbox(key="tf_calibrator").select("vector")
    at.button[0].click().run()
    assert launched[-1].calibrator == "vector"
