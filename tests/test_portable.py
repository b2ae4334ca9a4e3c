"""Portable artifacts: no absolute path in a run folder or phase map, data sets found again in a
moved or cloned artifacts folder, and a data set that is not the run's is named, not shown.

A tiny artifacts tree (data set, scan, a trained ``test_efficientnet`` run, a dictionary run, the
phase maps of both, an evaluation on the scan) is built in a folder A and copied to B while A is
out of the way; the dashboard's own loaders (``dashboard/cache.py``) then show patterns from B.
The committed demo is checked in a ``git clone`` of the repository.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest

from ebsdlib.data.fingerprint import DataSetMismatchError, differences, fingerprint, resolve_data
from ebsdlib.data.format import write_dataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.paths import data_candidates, portable_path
from ebsdlib.phases import DEFAULT_PHASES

REPO = Path(__file__).resolve().parents[1]
SIZE = 24


def simulation_record() -> dict:
    """A simulation record with the shipped masters' settings, so a dictionary builds in seconds."""
    from ebsdlib.simulate.detector import DetectorModel

    return {
        "source": "simulation",
        "config": {
            "detector": DetectorModel().to_dict(),
            "master_half_size": 250,
            "min_dspacing": 0.7,
            "forward_model": "dynamical",
        },
    }


def write_tiny(root: Path, seed: int = 0) -> tuple[Path, Path]:
    """``datasets/tiny.h5`` (18 labelled patterns, train and test) and ``datasets/scan.h5`` (3×4)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), 6).astype(np.int16)
    data = write_dataset(
        root / "datasets" / "tiny.h5",
        rng.integers(0, 256, (18, SIZE, SIZE)).astype(np.uint8),
        labels,
        DEFAULT_PHASES,
        provenance=simulation_record(),
        split=np.tile(np.r_[np.zeros(3), np.full(3, 2)], 3).astype(np.int8),
        preprocessing=PreprocessConfig(size=SIZE, static_background=False).to_dict(),
        seed=seed,
    )
    scan = write_scan(root / "datasets" / "scan.h5", rng, np.array([0, 1, 2, 0]))
    return data, scan


def write_scan(path: Path, rng: np.random.Generator, phase_of_column: np.ndarray) -> Path:
    rr, cc = np.mgrid[0:3, 0:4]
    return write_dataset(
        path,
        rng.integers(0, 256, (12, SIZE, SIZE)).astype(np.uint8),
        phase_of_column[cc.ravel()].astype(np.int16),
        DEFAULT_PHASES,
        provenance=simulation_record(),
        scan_row=rr.ravel(),
        scan_col=cc.ravel(),
        scan_shape=(3, 4),
        step_size=0.5,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> dict:
    """Folder A's artifacts: a trained run and a dictionary run, each with the scan's phase map."""
    import torch

    from ebsdlib.baseline import DictionaryConfig, index_run
    from ebsdlib.predict import predict_scan
    from ebsdlib.train.config import TrainConfig
    from ebsdlib.train.cross_eval import evaluate_on
    from ebsdlib.train.loop import train

    root = tmp_path_factory.mktemp("A") / "artifacts"
    data, scan = write_tiny(root)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("EBSDLIB_ARTIFACTS", str(root))
            config = TrainConfig(
                data=str(data),  # absolute, as the dashboard's launcher passes it
                loss="ce",
                model="test_efficientnet",
                epochs=1,
                batch_size=8,
                device="cpu",
                preprocess=PreprocessConfig(size=SIZE, static_background=False),
                name="tiny",
            )
            net = train(config, progress=False, root=root)
            predict_scan(net, scan, progress=False, device="cpu")
            evaluate_on(net, scan, device="cpu", progress=False, root=root)
            dictionary = index_run(
                data,
                DictionaryConfig(resolution=20.0, calibration_patterns=6),
                scans=[scan],
                run_id="dictionary",
                root=root,
                progress=False,
            )
    finally:
        torch.set_num_threads(threads)
    return {"root": root, "net": net.run_id, "dictionary": dictionary.run_id, "scan": "scan"}


# -- the audit: every file, every string --------------------------------------------------------


def strings_of(path: Path) -> Iterator[tuple[str, bytes]]:
    """``(where, bytes)`` of a file: its raw bytes, each member of a zip (``.npz``, torch's ``.pt``)
    uncompressed, and each attribute and string data set of an HDF5 file."""
    yield "", path.read_bytes()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                yield name, z.read(name)
    if path.suffix == ".h5":
        import h5py

        with h5py.File(path, "r") as f:
            found = [("/", repr(dict(f.attrs)))]

            def visit(name: str, obj) -> None:
                found.append((name, repr(dict(obj.attrs))))
                if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "OSU":
                    found.append((name, repr(obj[()])))

            f.visititems(visit)
        for name, text in found:
            yield name, text.encode()


def absolute_paths_in(files: Iterable[Path], needles: Iterable[str]) -> list[str]:
    """Every ``file [member]: needle`` where a file holds one of the absolute ``needles``."""
    needles = sorted({n for n in needles if len(n) > 4}, key=len, reverse=True)
    hits = []
    for path in files:
        for where, blob in strings_of(path):
            hits += [f"{path} [{where or 'bytes'}]: {n!r}" for n in needles if n.encode() in blob]
    return hits


def machine_paths(*folders: Path) -> list[str]:
    """Absolute paths that must never be stored: the folders given, the temporary folder, the
    checkout, the home folder."""
    import tempfile

    out = {str(REPO) + "/", str(REPO.resolve()) + "/", tempfile.gettempdir() + "/", "/work/"}
    out |= {str(f) for f in folders} | {str(f.resolve()) for f in folders}
    home = str(Path.home())
    if home not in ("", "/"):
        out.add(home + "/")
    return sorted(out)


def test_no_absolute_path_in_any_run_folder_or_phase_map(tree):
    root = tree["root"]
    files = [p for p in root.rglob("*") if p.is_file() and "datasets" not in p.relative_to(root).parts]
    names = {p.relative_to(root / "runs").as_posix() for p in files if "runs" in p.parts}
    net, dic = tree["net"], tree["dictionary"]
    for must in (
        f"{net}/config.json",
        f"{net}/metrics.json",
        f"{net}/checkpoint_best.pt",
        f"{net}/checkpoint_last.pt",
        f"{net}/predictions.csv",
        f"{net}/status.json",
        f"{net}/evaluations/scan/metrics.json",
        f"{net}/phasemaps/scan/phasemap.npz",
        f"{net}/phasemaps/scan/crystalmap.h5",
        f"{net}/phasemaps/scan/phasemap.csv",
        f"{dic}/config.json",
        f"{dic}/metrics.json",
        f"{dic}/phasemaps/scan/phasemap.npz",
    ):
        assert must in names, f"the tiny tree lacks {must}; the audit would not look at it"
    assert absolute_paths_in(files, machine_paths(root.parent)) == []


def test_every_stored_data_path_is_relative_with_a_fingerprint(tree):
    from ebsdlib.phasemap import load_phasemap
    from ebsdlib.runs import open_run

    root = tree["root"]
    net, dic = open_run(tree["net"], root), open_run(tree["dictionary"], root)
    records = {
        "network metrics": net.metrics(),
        "evaluation": _json(net.path / "evaluations" / "scan" / "metrics.json"),
        "dictionary config": dic.config(),
        "network map": load_phasemap(net, "scan").meta,
        "dictionary map": load_phasemap(dic, "scan").meta,
    }
    assert net.config()["data"] == "artifacts/datasets/tiny.h5"
    for what, record in records.items():
        assert not Path(record["data"]).is_absolute(), what
        assert record["data_fingerprint"]["kind"] == "ebsdlib-hdf5", what
        assert resolve_data(record["data"], root, record["data_fingerprint"]).parent == root / "datasets", what


def _json(path: Path) -> dict:
    import json

    return json.loads(path.read_text())


@contextlib.contextmanager
def moved(tree: dict, tmp_path: Path) -> Iterator[Path]:
    """The whole tree copied to ``tmp_path/B/artifacts`` while A is renamed away (so that a path
    into A fails); A comes back afterwards for the other tests."""
    a = tree["root"]
    b = tmp_path / "B" / "artifacts"
    shutil.copytree(a, b)
    away = a.with_name("artifacts-away")
    a.rename(away)
    try:
        yield b
    finally:
        away.rename(a)


@pytest.fixture
def dashboard_on(monkeypatch):
    """The dashboard's loaders (``dashboard/cache.py``) with ``$EBSDLIB_ARTIFACTS`` set to a folder."""
    import cache

    def use(root: Path):
        monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(root))
        return cache

    return use


def pixel_pattern(cache, run_id: str, scan: str) -> tuple[np.ndarray, int]:
    """What the phase-map page shows for pixel (1, 2): the pattern of that pixel."""
    data = cache.load_run(run_id)
    pm = cache.load_phasemap(run_id, scan)
    index = pm.pixel(1, 2)["index"]
    img = cache.load_patterns(
        pm.meta["data"], [index], True, data.config.get("preprocess"), pm.meta.get("data_fingerprint")
    )
    return img, index


def gallery_patterns(cache, run_id: str, evaluation: str | None = None) -> tuple[np.ndarray, list[int]]:
    """What the Confusion page's gallery shows for its default cell."""
    from ebsdlib.views.confusion import cells_table, confusion_array
    from ebsdlib.views.gallery import cell_rows, default_cell, gallery_items

    data = cache.load_run(run_id, evaluation)
    assert data.problem is None, data.problem
    cells = cells_table(confusion_array(data.metrics, len(data.phases)), data.phase_names)
    true, pred = default_cell(cells, ("Ni", "Ni3Fe"))
    items = gallery_items(cell_rows(data.predictions, true, pred), data.phases, 6)
    indices = [it.index for it in items]
    images = cache.load_patterns(
        data.config.get("data", ""), indices, True, data.config.get("preprocess"), data.data_fingerprint
    )
    return images, indices


def expected(path: Path, indices: list[int], preprocess: dict) -> np.ndarray:
    from ebsdlib.views.gallery import load_patterns

    return load_patterns(path, indices, True, preprocess)


def test_a_moved_tree_shows_patterns_in_the_phase_map_and_the_gallery(tree, tmp_path, dashboard_on):
    from ebsdlib.train.evaluate import evaluate_run

    with moved(tree, tmp_path) as b:
        cache = dashboard_on(b)
        assert cache.root() == b.resolve()
        for run_id in (tree["net"], tree["dictionary"]):
            preprocess = cache.load_run(run_id).config["preprocess"]
            img, index = pixel_pattern(cache, run_id, tree["scan"])
            assert img.shape == (1, SIZE, SIZE) and img.dtype == np.uint8 and img.std() > 0
            np.testing.assert_array_equal(img, expected(b / "datasets" / "scan.h5", [index], preprocess))
            images, indices = gallery_patterns(cache, run_id)
            assert len(indices) and images.shape == (len(indices), SIZE, SIZE) and images.std() > 0
            np.testing.assert_array_equal(images, expected(b / "datasets" / "tiny.h5", indices, preprocess))
        images, indices = gallery_patterns(cache, tree["net"], "scan")  # the evaluation on the scan
        np.testing.assert_array_equal(images, expected(b / "datasets" / "scan.h5", indices, preprocess))
        # the library finds the data from B too: the run is re-evaluated there
        metrics = evaluate_run(tree["net"], device="cpu", progress=False, root=b)
        assert metrics["data"] == "artifacts/datasets/tiny.h5" and metrics["n"] > 0
        files = [p for p in b.rglob("*") if p.is_file() and "datasets" not in p.relative_to(b).parts]
        assert absolute_paths_in(files, machine_paths(tree["root"].parent, b.parent)) == []


def test_another_data_set_at_the_path_is_named_not_shown(tree, tmp_path, dashboard_on):
    from ebsdlib.train.evaluate import evaluate_run

    with moved(tree, tmp_path) as b:
        write_scan(b / "datasets" / "scan.h5", np.random.default_rng(7), np.array([2, 2, 1, 1]))
        write_tiny(tmp_path / "other", seed=3)
        shutil.copy(tmp_path / "other" / "datasets" / "tiny.h5", b / "datasets" / "tiny.h5")
        cache = dashboard_on(b)
        scan_msg = (
            rf"the data set at '{b.resolve()}/datasets/scan.h5' is not the one the run used "
            r"\('artifacts/datasets/scan.h5'\): its labels_sha256 .* put the run's own data set back"
        )
        for run_id in (tree["net"], tree["dictionary"]):
            with pytest.raises(DataSetMismatchError, match=scan_msg):
                pixel_pattern(cache, run_id, tree["scan"])
            with pytest.raises(DataSetMismatchError, match=r"tiny\.h5' is not the one the run used .* seed 0 → 3"):
                gallery_patterns(cache, run_id)
        with pytest.raises(DataSetMismatchError, match=r"tiny\.h5' is not the one the run used"):
            evaluate_run(tree["net"], device="cpu", progress=False, root=b)


def test_an_artifact_without_a_fingerprint_still_shows_its_patterns(tree, tmp_path, dashboard_on):
    import json

    with moved(tree, tmp_path) as b:
        npz = b / "runs" / tree["dictionary"] / "phasemaps" / "scan" / "phasemap.npz"
        with np.load(npz) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays["meta"]))
        del meta["data_fingerprint"]
        arrays["meta"] = np.asarray(json.dumps(meta))
        np.savez_compressed(npz, **arrays)
        config = b / "runs" / tree["dictionary"] / "config.json"
        stored = json.loads(config.read_text())
        del stored["data_fingerprint"]
        config.write_text(json.dumps(stored))
        cache = dashboard_on(b)
        img, _ = pixel_pattern(cache, tree["dictionary"], tree["scan"])
        assert img.shape == (1, SIZE, SIZE)
        assert cache.load_run(tree["dictionary"]).data_fingerprint is None
        images, indices = gallery_patterns(cache, tree["dictionary"])
        assert images.shape == (len(indices), SIZE, SIZE)


# -- the fingerprint and the resolver --------------------------------------------------------------


def test_the_fingerprint_is_the_content_not_the_file(tmp_path):
    a, _ = write_tiny(tmp_path / "a")
    b, _ = write_tiny(tmp_path / "b")  # the same content, written again: other bytes (the creation date)
    assert fingerprint(a) == fingerprint(b) and differences(fingerprint(a), fingerprint(b)) == []
    c, _ = write_tiny(tmp_path / "c", seed=1)
    assert differences(fingerprint(c), fingerprint(a)) == ["seed 0 → 1"]
    other = tmp_path / "scan.up1"
    other.write_bytes(b"\x00" * 100)
    assert fingerprint(other) == {"kind": "file", "size": 100, "head_sha256": fingerprint(other)["head_sha256"]}
    folder = tmp_path / "images" / "Ni"
    folder.mkdir(parents=True)
    (folder / "Ni_0001.png").write_bytes(b"png")
    print_ = fingerprint(tmp_path / "images")
    assert print_["kind"] == "folder" and print_["n_files"] == 1 and print_["size"] == 3
    assert differences(print_, fingerprint(a)) == ["kind 'ebsdlib-hdf5' → 'folder'"]
    (folder / "Ni_0002.png").write_bytes(b"png")  # a new image in a sub-folder changes it
    assert fingerprint(tmp_path / "images")["n_files"] == 2
    with pytest.raises(FileNotFoundError, match=r"'.*gone\.h5': no data set to fingerprint"):
        fingerprint(tmp_path / "gone.h5")


def test_a_renamed_artifacts_folder_still_resolves(tmp_path):
    root = tmp_path / "my-artifacts"
    data, _ = write_tiny(root)
    assert portable_path(data, root) == "my-artifacts/datasets/tiny.h5"
    renamed = tmp_path / "lab" / "artifacts"
    shutil.move(root, renamed)
    assert resolve_data("my-artifacts/datasets/tiny.h5", renamed, fingerprint(renamed / "datasets" / "tiny.h5")) == (
        renamed.resolve() / "datasets" / "tiny.h5"
    )
    assert data_candidates("artifacts/datasets/x.h5", renamed)[0] == renamed.resolve() / "datasets" / "x.h5"
    # a path in the portable form is never looked for in the working folder (another checkout's artifacts)
    assert all(renamed.resolve() in c.parents for c in data_candidates("artifacts/datasets/x.h5", renamed))
    copy = tmp_path / "lab" / "artifacts-copy"  # a copy beside the original reads its own data sets
    shutil.copytree(renamed, copy)
    assert resolve_data("artifacts/datasets/tiny.h5", copy) == copy.resolve() / "datasets" / "tiny.h5"
    with pytest.raises(FileNotFoundError, match=r"'artifacts/datasets/x\.h5' was not found \(looked at"):
        resolve_data("artifacts/datasets/x.h5", renamed)


# -- the committed demo, in a clone ----------------------------------------------------------------


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A ``git clone`` of this repository's committed HEAD in another folder."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.fail("the clone test needs git and this repository's .git folder")
    target = tmp_path_factory.mktemp("clone") / "ebsdlib"
    subprocess.run(["git", "clone", "-q", str(REPO), str(target)], check=True, timeout=300)
    return target


def test_the_committed_demo_holds_no_absolute_path(clone):
    files = [clone / f for f in _tracked(clone, "artifacts")]
    assert any(f.suffix == ".npz" for f in files) and any(f.name == "config.json" for f in files)
    assert absolute_paths_in(files, machine_paths(clone, Path("/tmp"))) == []


def _tracked(repo: Path, under: str) -> list[str]:
    out = subprocess.run(["git", "-C", str(repo), "ls-files", under], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_the_clones_demo_looks_for_its_data_in_the_clone(clone, dashboard_on):
    """The demo's data sets are not committed (rebuilt on first start); every view looks for them
    inside the clone, never in the checkout it was cloned from."""
    from ebsdlib.demo import DemoConfig, run_ids
    from ebsdlib.runs import list_runs

    art = clone / "artifacts"
    cache = dashboard_on(art)
    runs = [r.run_id for r in list_runs(art)]
    assert set(run_ids(DemoConfig()).values()) <= set(runs)
    for run_id in runs:
        data = cache.load_run(run_id)
        assert data.problem is None, data.problem
        pm = cache.load_phasemap(run_id, "default_scan")
        for stored, name in ((data.config["data"], "default.h5"), (pm.meta["data"], "default_scan.h5")):
            assert data_candidates(stored, art)[0] == art.resolve() / "datasets" / name
        if not (art / "datasets" / "default_scan.h5").exists():
            with pytest.raises(FileNotFoundError) as e:
                pixel_pattern(cache, run_id, "default_scan")
            assert str(REPO) + "/" not in str(e.value) and str(art.resolve()) in str(e.value)
