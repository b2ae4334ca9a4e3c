"""What the dashboard lets in: the server binds to localhost, data sets chosen in the sidebar stay
inside the artifacts folder (paths, '..', symlinks), nothing reaches a shell."""

import os
import tomllib
from pathlib import Path

import numpy as np
import pytest

from ebsdlib.data.format import write_dataset
from ebsdlib.phases import DEFAULT_PHASES

REPO = Path(__file__).resolve().parents[2]


def test_server_config_is_local_and_quiet():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "localhost"
    assert config["server"]["headless"] is True
    assert config["server"]["maxUploadSize"] <= 10
    assert config["server"]["enableXsrfProtection"] is True
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == "none"  # no tracebacks in the browser


def launch_from_sidebar(home: str, data: str) -> None:
    """Run the sidebar's launch step with a data-set path, as if it came from the form."""
    import sys
    from pathlib import Path

    import streamlit as st

    for p in (str(Path(home).parent), str(Path(home).parent.parent)):
        if p not in sys.path:
            sys.path.insert(0, p)
    import cache
    import sidebar

    sidebar._launch(
        cache.root(),
        dict(
            data=data,
            loss="ce",
            model="test_efficientnet",
            epochs=1,
            batch_size=8,
            lr=1e-3,
            validation=False,
            name="",
            weight_decay=0.0,
            schedule="constant",
            temperature=0.1,
            seed=0,
            device="cpu",
            augment=False,
            umap=False,
        ),
        32,
    )
    st.write(st.session_state["tf_message"][1])


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """An artifacts folder with one real data set, and a secret data set outside it."""
    rng = np.random.default_rng(0)
    pats = rng.integers(0, 255, (6, 16, 16), dtype=np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2])
    art = tmp_path / "artifacts"
    write_dataset(art / "datasets" / "ok.h5", pats, labels, DEFAULT_PHASES, provenance={})
    secret = write_dataset(tmp_path / "elsewhere" / "secret.h5", pats, labels, DEFAULT_PHASES, provenance={})
    os.symlink(secret, art / "datasets" / "link.h5")
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(art))
    return art, secret


@pytest.mark.parametrize("choice", ["absolute", "dotdot", "symlink"])
def test_sidebar_refuses_data_sets_outside_the_artifacts_folder(lab, choice, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from ebsdlib import jobs

    art, secret = lab
    monkeypatch.setattr(jobs, "launch", lambda *a, **k: pytest.fail("must not launch"))
    path = {
        "absolute": str(secret),
        "dotdot": str(art / "datasets" / ".." / ".." / "elsewhere" / "secret.h5"),
        "symlink": str(art / "datasets" / "link.h5"),
    }[choice]
    at = AppTest.from_function(
        launch_from_sidebar, args=(str(REPO / "dashboard" / "Home.py"), path), default_timeout=60
    ).run()
    assert not at.exception
    message = at.markdown[0].value
    assert message.startswith("Not started: path") and "lies outside" in message


def test_sidebar_launches_a_data_set_inside(lab, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from ebsdlib import jobs

    art, _ = lab
    launched = []
    monkeypatch.setattr(jobs, "launch", lambda config, root: launched.append(config) or "run-1")
    at = AppTest.from_function(
        launch_from_sidebar,
        args=(str(REPO / "dashboard" / "Home.py"), str(art / "datasets" / "ok.h5")),
        default_timeout=60,
    ).run()
    assert not at.exception and at.markdown[0].value.startswith("Started run `run-1`")
    assert launched[0].data == str((art / "datasets" / "ok.h5").resolve())
