"""The method registry: lookups, the runs written before it, and its agreement with TrainConfig."""

from __future__ import annotations

import subprocess
import sys
from typing import get_args, get_type_hints

import pytest

from ebsdlib.methods import (
    METHODS,
    Method,
    get_method,
    indexing_methods,
    method_keys,
    method_label,
    method_of_run,
    network_methods,
)
from ebsdlib.train.config import LOSSES, TrainConfig


def test_keys_are_unique_and_in_display_order() -> None:
    assert method_keys() == (
        "ce",
        "supcon",
        "contrastive",
        "dictionary",
        "dictionary_refined",
        "dictionary_fitted",
        "hough",
    )
    assert len({m.label for m in METHODS}) == len(METHODS)
    assert all(m.color.startswith("#") and len(m.color) == 7 for m in METHODS)
    assert [m.key for m in network_methods()] == ["ce", "supcon", "contrastive"]
    assert [m.key for m in indexing_methods()] == ["dictionary", "dictionary_refined", "dictionary_fitted", "hough"]
    assert get_method("hough").label == "Hough/Radon indexing (PyEBSDIndex)" and get_method("hough").kind == "indexing"


def test_unknown_key_names_it_and_the_known_ones() -> None:
    with pytest.raises(
        ValueError,
        match=r"unknown method 'transformer'; known methods are \['ce', 'supcon', 'contrastive', 'dictionary'",
    ):
        get_method("transformer")
    assert get_method("supcon").label == "supervised contrastive (SupCon)"


def test_label_of_a_key_from_another_version_is_the_key() -> None:
    assert method_label("dictionary") == "dictionary indexing"
    assert method_label("supcon", short=True) == "SupCon"
    assert method_label("transformer") == "transformer"


def test_every_network_trains_with_a_loss_trainconfig_accepts() -> None:
    for m in network_methods():
        config = TrainConfig(loss=m.loss)
        assert config.to_dict()["method"] == m.key
        assert method_of_run(config.to_dict()) is m
    # and every loss TrainConfig trains with is a method of the registry
    assert {m.loss for m in network_methods()} == set(LOSSES) == set(get_args(get_type_hints(TrainConfig)["loss"]))


def test_trainconfig_round_trips_its_method_and_refuses_an_indexing_one() -> None:
    d = TrainConfig(loss="supcon").to_dict()
    assert TrainConfig.from_dict(d) == TrainConfig(loss="supcon")
    assert TrainConfig.from_dict(d | {"loss": "ce"}).to_dict()["method"] == "ce"  # a --loss override wins
    with pytest.raises(
        ValueError, match=r"^method='dictionary' is not allowed; .* one of \['ce', 'supcon', 'contrastive'\]"
    ):
        TrainConfig.from_dict(d | {"method": "dictionary"})


@pytest.mark.parametrize(
    "config,key",
    [
        ({"method": "ce", "loss": "ce"}, "ce"),
        ({"method": "dictionary", "model": "NCC dictionary 5°"}, "dictionary"),
        ({"method": "dictionary_refined"}, "dictionary_refined"),
        ({"method": "hough", "model": "PyEBSDIndex 0.3.10.1, 9 bands"}, "hough"),
        # written before runs recorded their method
        ({"loss": "supcon", "model": "efficientnet_b0"}, "supcon"),
        ({"loss": "ce"}, "ce"),
        ({"method": "dictionary_indexing", "loss": "dictionary", "dictionary": {"refine": False}}, "dictionary"),
        ({"method": "dictionary_indexing", "loss": "dictionary", "dictionary": {"refine": True}}, "dictionary_refined"),
        ({"loss": "dictionary"}, "dictionary"),
    ],
)
def test_method_of_run(config: dict, key: str) -> None:
    assert method_of_run(config).key == key


@pytest.mark.parametrize(
    "config,match",
    [
        ({"method": "transformer"}, r"config.json: unknown method 'transformer'; known methods are \['ce'"),
        ({"method": ["ce"]}, r"unknown method \['ce'\]"),
        (
            {"loss": "triplet"},
            r"config.json: unknown loss 'triplet'; the networks train with \['ce', 'supcon', 'contrastive'\]",
        ),
        ({"method": "ce", "loss": "supcon"}, r"method 'ce' trains with loss 'ce', but the config says loss 'supcon'"),
        ({"model": "x"}, r"config.json has neither 'method' nor 'loss'"),
    ],
)
def test_method_of_run_refuses(config: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        method_of_run(config)


def test_a_method_states_its_kind_and_loss() -> None:
    with pytest.raises(ValueError, match=r"method 'x': a network needs the TrainConfig loss"):
        Method("x", "x", "x", "network", "#000000")
    with pytest.raises(ValueError, match=r"kind 'model' is not allowed; use 'network' or 'indexing'"):
        Method("x", "x", "x", "model", "#000000")  # type: ignore[arg-type]


def test_the_registry_imports_nothing_heavy() -> None:
    code = (
        "import sys, ebsdlib.methods; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ebsdlib', 'torch', 'numpy', 'pandas')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['ebsdlib', 'ebsdlib.methods']"


def test_is_network_run_never_raises():
    from ebsdlib.methods import is_network_run

    assert is_network_run({"loss": "ce"}) and is_network_run({"method": "supcon", "loss": "supcon"})
    assert not is_network_run({"method": "dictionary"})
    assert not is_network_run({"loss": "dictionary"})  # a legacy dictionary run
    assert not is_network_run({"method": "no-such-method"}) and not is_network_run({})


def test_is_indexing_run_never_raises():
    from ebsdlib.methods import is_indexing_run

    assert is_indexing_run({"method": "hough"}) and is_indexing_run({"method": "dictionary_refined"})
    assert is_indexing_run({"loss": "dictionary"})  # a legacy dictionary run
    assert not is_indexing_run({"loss": "ce"}) and not is_indexing_run({"method": "supcon", "loss": "supcon"})
    assert not is_indexing_run({"method": "no-such-method"}) and not is_indexing_run({})
