"""Property-based test of TrainConfig: any dictionary builds a config that round-trips, or is
refused with a ValueError that names the offending key — never another exception."""

from __future__ import annotations

import json
import math
import re
from dataclasses import fields

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.train.config import TrainConfig

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KNOWN = [f.name for f in fields(TrainConfig)]
PP_KNOWN = [f.name for f in fields(PreprocessConfig)]

#: Anything JSON can hold (and a little more: non-string keys, NaN and infinities).
ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)

#: Values the config must accept, field by field (stated here, independently of its code).
GOOD = {
    "data": st.text(min_size=1, max_size=20),
    "loss": st.sampled_from(["ce", "supcon", "contrastive"]),
    "model": st.sampled_from(["efficientnet_b0", "test_efficientnet", "resnet18"]),
    "pretrained": st.none() | st.text(min_size=1, max_size=10),
    "epochs": st.integers(1, 10000),
    "batch_size": st.integers(2, 65536),
    "lr": st.floats(1e-8, 10) | st.integers(1, 10),
    "weight_decay": st.floats(0, 1) | st.sampled_from([0, 1]),
    "schedule": st.sampled_from(["cosine", "constant", "step"]),
    "warmup_epochs": st.integers(0, 1),
    "temperature": st.floats(1e-4, 10),
    "embedding_dim": st.integers(2, 4096),
    "probe_epochs": st.integers(1, 10000),
    "knn_k": st.integers(1, 1000),
    "validation": st.booleans(),
    "augment": st.booleans(),
    "seed": st.integers(0, 2**32 - 1),
    "device": st.sampled_from(["auto", "cpu", "cuda"]),
    "precision": st.sampled_from(["auto", "fp32", "bf16", "fp16"]),
    "eval_batch_size": st.integers(1, 1 << 20),
    "umap": st.booleans(),
    "stream": st.booleans(),
    "stream_patterns": st.just(0) | st.integers(65536, 10**9),  # 0, or at least any batch size
    "calibrate": st.booleans(),
    "calibrator": st.sampled_from(["auto", "temperature", "vector"]),
    "calibration_holdout": st.floats(0, 0.9) | st.just(0),
    # inactive ranges only: active ones need stream=True (tests/train/test_cli.py round-trips them)
    "randomise": st.none()
    | st.just({})
    | st.fixed_dictionaries({}, optional={"pc_sigma": st.none(), "dose": st.none()}),
    "name": st.text(max_size=20),
    "preprocess": st.fixed_dictionaries(
        {},
        optional={
            "static_background": st.booleans(),
            "dynamic_background": st.booleans(),
            "dynamic_sigma": st.floats(0.01, 0.99),
            "size": st.none() | st.integers(8, 1024),
            "normalise": st.sampled_from(["standard", "minmax", "none"]),
            "circular_mask": st.booleans(),
        },
    ),
}
assert set(GOOD) == set(KNOWN), "a new config field needs a strategy of good values here"

PP_ANY = st.dictionaries(st.sampled_from(PP_KNOWN) | st.text(max_size=6), ANY, max_size=4)


@st.composite
def config_dicts(draw) -> dict:
    """Mostly known keys with good, plausible or arbitrary values; sometimes unknown keys."""
    keys = draw(st.lists(st.sampled_from(KNOWN), max_size=8, unique=True))
    d = {}
    for key in keys:
        kind = draw(
            st.sampled_from(["good", "good", "any", "preprocess"] if key == "preprocess" else ["good", "good", "any"])
        )
        d[key] = draw(GOOD[key] if kind == "good" else PP_ANY if kind == "preprocess" else ANY)
    if draw(st.integers(0, 5)) == 0:
        d.update(draw(st.dictionaries(st.text(max_size=8) | st.integers(), ANY, min_size=1, max_size=2)))
    return d


def _named_key(message: str, d: dict) -> str:
    """The key a refusal names: the message starts with ``key=``, ``preprocess: `` or ``randomise: ``."""
    m = re.match(r"^(preprocess|randomise): |^(\w+)=", message)
    assert m, f"the message does not start with the key: {message!r}"
    return m.group(1) or m.group(2)


def _check_round_trip(cfg: TrainConfig) -> None:
    d = cfg.to_dict()
    assert TrainConfig.from_dict(d) == cfg
    text = json.dumps(d, allow_nan=False)  # plain JSON: no numpy types, no NaN
    assert TrainConfig.from_dict(json.loads(text)) == cfg
    for f in fields(TrainConfig):
        value = getattr(cfg, f.name)
        if f.type in ("int", "bool"):
            assert type(value).__name__ == f.type, (f.name, value)
        if f.type == "float":
            assert type(value) in (int, float) and math.isfinite(value), (f.name, value)


@SETTINGS
@given(d=config_dicts())
def test_any_dict_round_trips_or_is_refused_naming_the_key(d: dict) -> None:
    try:
        cfg = TrainConfig.from_dict(d)
    except ValueError as e:
        msg = str(e)
        unknown = [k for k in d if k not in KNOWN]
        if unknown:
            event("refused: unknown keys")
            listed = msg.split("; known are")[0]
            assert msg.startswith("unknown config keys") and all(repr(k) in listed for k in unknown), msg
            return
        key = _named_key(msg, d)
        event(f"refused: {key}")
        assert key in d, (key, msg)  # a key that was given: the defaults are all valid
        # the named value is wrong on its own (warmup_epochs is judged against epochs)
        alone = {key: d[key], **({"epochs": d["epochs"]} if key == "warmup_epochs" and "epochs" in d else {})}
        with pytest.raises(ValueError):
            TrainConfig.from_dict(alone)
        return
    event("built")
    _check_round_trip(cfg)


@SETTINGS
@given(d=st.fixed_dictionaries({}, optional={k: v for k, v in GOOD.items()}))
def test_good_values_are_accepted(d: dict) -> None:
    if "warmup_epochs" in d and "epochs" in d:
        d["warmup_epochs"] = min(d["warmup_epochs"], d["epochs"])
    _check_round_trip(TrainConfig.from_dict(d))


@pytest.mark.parametrize(
    "d,match",
    [
        ({"epochs": True}, r"^epochs=True is not allowed; use an integer"),
        ({"batch_size": False}, r"^batch_size=False is not allowed"),
        ({"seed": True}, r"^seed=True is not allowed"),
        ({"lr": float("nan")}, r"^lr=nan is not allowed; use a number in \(0, 10\]"),
        ({"lr": True}, r"^lr=True is not allowed"),
        ({"temperature": float("inf")}, r"^temperature=inf is not allowed"),
        ({"weight_decay": float("nan")}, r"^weight_decay=nan is not allowed"),
        ({"epochs": "3", "warmup_epochs": 1}, r"^epochs='3' is not allowed"),
        ({"warmup_epochs": 3, "epochs": 2}, r"^warmup_epochs=3 is not allowed; use an integer from 0 to epochs"),
        ({"preprocess": "standard"}, r"^preprocess='standard' is not allowed; use a PreprocessConfig or a dict"),
        ({"preprocess": [64]}, r"^preprocess=\[64\] is not allowed"),
        ({"preprocess": {"size": float("inf")}}, r"^preprocess: size inf must be a whole number of pixels"),
        ({"preprocess": {"size": 1e300}}, r"^preprocess: size 1e\+300 must be between 8 and 1024"),
        ({"preprocess": {1: 2, "a": 3}}, r"^preprocess: unknown preprocessing keys \['a', 1\]"),
        ({"validation": "yes"}, r"^validation='yes' is not allowed; use True or False"),
        ({"augment": 1}, r"^augment=1 is not allowed"),
        ({"data": None}, r"^data=None is not allowed; use the path of a data set file"),
        ({"data": ""}, r"^data='' is not allowed"),
        ({"name": 5}, r"^name=5 is not allowed; use a string"),
        ({"pretrained": ["w.pt"]}, r"^pretrained=\['w.pt'\] is not allowed"),
        ({"loss": "x" * 500}, r"^loss='x{79}… is not allowed"),  # long values are cut short
        ({"epochs": "9" * 500}, r"^epochs='9{79}… is not allowed"),
        ({1: 0, "colour": "red"}, r"^unknown config keys \['colour', 1\]"),
    ],
)
def test_values_the_property_test_found(d: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrainConfig.from_dict(d)


@pytest.mark.parametrize("d", [["epochs", 3], "epochs=3", None, 3])
def test_a_config_that_is_not_a_dictionary_is_refused(d) -> None:
    with pytest.raises(ValueError, match=r"a training config must be a dictionary of fields, not "):
        TrainConfig.from_dict(d)
