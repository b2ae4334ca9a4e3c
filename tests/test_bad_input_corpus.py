"""The corpus of broken inputs: each one is refused with a message that names the file or field,
the value and the fix, and leaves nothing half-written.

One row per input, through the entry point a user reaches it by (``ebsdlib.data.load`` — what
``python -m ebsdlib import`` calls —, the data-set writer, training, checkpoint loading, the
config and the command line, the run listing the dashboard shows). The rows cover every kind
the reliability issue lists; ``pytest --collect-only -q tests/test_bad_input_corpus.py`` counts
them. The detailed tests of each reader stay in ``tests/data``, ``tests/train`` and ``tests/dashboard``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import replace as replace_field
from pathlib import Path

import h5py
import numpy as np
import pytest

from ebsdlib.data.format import DataFormatError, write_dataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.data.readers import load
from ebsdlib.io import write_json
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.runs import RunDir, check_run_id, list_runs
from ebsdlib.train.config import TrainConfig

N = 12  # patterns in a good data set: 4 per phase
#: A phase table with one name the project does not know.
OTHER_PHASES = (DEFAULT_PHASES[0], replace_field(DEFAULT_PHASES[1], name="Gamma"), DEFAULT_PHASES[2])


@dataclass(frozen=True)
class Case:
    """A broken input: ``build(tmp)`` makes it and returns the attempt to use it.

    ``error`` is the exception the attempt must raise; ``None`` when the attempt returns the
    message a user is shown instead (a broken run on the dashboard, a command-line error).
    """

    name: str
    build: Callable[[Path], Callable[[], object]]
    error: type[BaseException] | None
    match: str


# -- builders -------------------------------------------------------------------------------------


def patterns(n: int = N, shape: tuple[int, int] = (12, 16), dtype=np.uint8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.random((n, *shape)).astype(dtype)
    return rng.integers(1, 250, (n, *shape)).astype(dtype)


def good_file(tmp: Path, name: str = "good.h5", phases=DEFAULT_PHASES, **kw) -> Path:
    """A valid 12-pattern data set with splits and scan positions (3×4)."""
    row, col = np.divmod(np.arange(N), 4)
    args = dict(split=np.tile([0, 0, 1, 2], 3), scan_row=row, scan_col=col, scan_shape=(3, 4)) | kw
    return write_dataset(
        tmp / name, patterns(), np.arange(N) % len(phases), phases, provenance={"made_by": "bad-input corpus"}, **args
    )


def edited(edit: Callable[[h5py.File], None]) -> Callable[[Path], Callable[[], object]]:
    """A good file changed after writing, then loaded."""

    def build(tmp: Path) -> Callable[[], object]:
        path = good_file(tmp)
        with h5py.File(path, "r+") as f:
            edit(f)
        return lambda: load(path)

    return build


def replace(key: str, data) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        del f[key]
        f[key] = data

    return edit


def raw_file(name: str, content: Callable[[Path], bytes]) -> Callable[[Path], Callable[[], object]]:
    def build(tmp: Path) -> Callable[[], object]:
        path = tmp / name
        path.write_bytes(content(tmp))
        return lambda: load(path, out=tmp / "out.h5")

    return build


def writing(**overrides) -> Callable[[Path], Callable[[], object]]:
    """``write_dataset`` of 6 patterns with some arguments replaced."""

    def build(tmp: Path) -> Callable[[], object]:
        args = {"patterns": patterns(6), "labels": [0, 1, 2, 0, 1, 2], "phases": DEFAULT_PHASES} | overrides
        return lambda: write_dataset(
            tmp / "out.h5", args.pop("patterns"), args.pop("labels"), args.pop("phases"), provenance={}, **args
        )

    return build


def constant_at(index: int, value: int) -> np.ndarray:
    p = patterns(6)
    p[index] = value
    return p


def with_value(value: float, dtype=np.float32) -> np.ndarray:
    p = patterns(6, dtype=dtype)
    p[1, 2, 3] = value
    return p


def image_folder(fill: Callable[[Path], None], phases=None, size=None) -> Callable[[Path], Callable[[], object]]:
    """A folder with two good 8×8 Ni images, changed by ``fill``, imported."""

    def build(tmp: Path) -> Callable[[], object]:
        root = tmp / "images"
        for i, img in enumerate(patterns(2, (8, 8))):
            save_image(root / "Ni" / f"ok{i}.png", img)
        fill(root)
        return lambda: load(root, out=tmp / "out.h5", phases=phases, size=size)

    return build


def images_only(tmp: Path, images: dict[str, np.ndarray], size: int | None = None) -> Callable[[], object]:
    """A folder whose one class ``Ni`` holds exactly ``images``, imported."""
    for name, array in images.items():
        save_image(tmp / "images" / "Ni" / name, array)
    return lambda: load(tmp / "images", out=tmp / "out.h5", size=size)


def float_file_with_inf(tmp: Path) -> Path:
    """A valid float32 data set whose pattern 5 got an inf after writing (opening checks the layout
    only; ``verify`` reads every pattern)."""
    path = write_dataset(tmp / "float.h5", patterns(dtype=np.float32), np.arange(N) % 3, DEFAULT_PHASES, provenance={})
    with h5py.File(path, "r+") as f:
        f["patterns"][5, 3, 3] = np.inf
    return path


def save_image(path: Path, array: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def kikuchipy_data() -> Path:
    """kikuchipy's bundled sample files (inside its wheel; nothing is downloaded)."""
    return Path(importlib.util.find_spec("kikuchipy").origin).parent / "data"


def kikuchipy_scan(data: np.ndarray) -> Callable[[Path], Callable[[], object]]:
    """A scan saved in kikuchipy's own h5ebsd format, then imported."""

    def build(tmp: Path) -> Callable[[], object]:
        import kikuchipy as kp

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kp.signals.EBSD(data).save(tmp / "scan.h5")
        return lambda: load(tmp / "scan.h5", out=tmp / "out.h5")

    return build


def vendor_copy(
    source: str, cut: float | None = None, extra: tuple[str, ...] = ()
) -> Callable[[Path], Callable[[], object]]:
    """A kikuchipy sample file, cut to a fraction of its bytes, with its side files."""

    def build(tmp: Path) -> Callable[[], object]:
        src = kikuchipy_data() / source
        raw = src.read_bytes()
        dst = tmp / src.name
        dst.write_bytes(raw if cut is None else raw[: int(len(raw) * cut)])
        for name in extra:
            (tmp / name).write_bytes((src.parent / name).read_bytes())
        return lambda: load(dst, out=tmp / "out.h5")

    return build


def training(data: Callable[[Path], Path] | None = None, **overrides) -> Callable[[Path], Callable[[], object]]:
    """``train`` on a data set (default: a good one) with a tiny CPU config."""

    def build(tmp: Path) -> Callable[[], object]:
        from ebsdlib.train.loop import train

        path = data(tmp) if data else good_file(tmp)
        base = dict(
            data=str(path),
            model="test_efficientnet",
            epochs=1,
            batch_size=4,
            device="cpu",
            umap=False,
            preprocess=PreprocessConfig(size=16),
        )
        return lambda: train(TrainConfig(**(base | overrides)), "corpus-run", progress=False, root=tmp / "artifacts")

    return build


def single_class(tmp: Path) -> Path:
    return write_dataset(
        tmp / "one-phase.h5",
        patterns(),
        np.zeros(N, int),
        DEFAULT_PHASES,
        provenance={},
        split=np.tile([0, 0, 1, 2], 3),
    )


def one_training_pattern(tmp: Path) -> Path:
    return write_dataset(tmp / "tiny.h5", patterns(4), [0, 1, 2, 0], DEFAULT_PHASES, provenance={}, split=[0, 2, 2, 2])


def unlabelled_test_split(tmp: Path) -> Path:
    labels = np.arange(N) % 3
    labels[np.tile([0, 0, 1, 2], 3) == 2] = -1
    return write_dataset(
        tmp / "no-test-labels.h5", patterns(), labels, DEFAULT_PHASES, provenance={}, split=np.tile([0, 0, 1, 2], 3)
    )


def checkpoint(
    change: Callable[[dict], dict] | None = None,
    *,
    raw: Callable[[Path], bytes] | None = None,
    check_data: bool = False,
) -> Callable[[Path], Callable[[], object]]:
    """A checkpoint of an untrained ``test_efficientnet`` (written as training writes one), changed."""

    def build(tmp: Path) -> Callable[[], object]:
        import torch

        from ebsdlib.train.checkpoint import save_checkpoint
        from ebsdlib.train.inference import check_phases, load_model
        from ebsdlib.train.models import build_model

        path = tmp / "checkpoint_best.pt"
        if raw is not None:
            path.write_bytes(raw(tmp))
        else:
            config = TrainConfig(data="x.h5", model="test_efficientnet", device="cpu")
            torch.manual_seed(0)
            state = {
                "model": build_model(config, 3).state_dict(),
                "config": config.to_dict(),
                "phases": [p.to_dict() for p in DEFAULT_PHASES],
                "epoch": 1,
                "probe_fitted": False,
            }
            save_checkpoint(path, change(state) if change else state)
        if check_data:
            data = good_file(tmp, "other-phases.h5", phases=OTHER_PHASES)

            def attempt():
                from ebsdlib.data.format import EBSDDataset

                _, _, phases = load_model(path, "cpu")
                with EBSDDataset(data) as ds:
                    check_phases(phases, ds)

            return attempt
        return lambda: load_model(path, "cpu")

    return build


def other_model_weights(state: dict) -> dict:
    from ebsdlib.train.models import build_model

    other = TrainConfig(data="x.h5", model="test_resnet", device="cpu")
    return state | {"model": build_model(other, 3).state_dict()}


def truncated_checkpoint(tmp: Path) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({"format": "ebsdlib-checkpoint", "model": {"w": torch.ones(1000)}}, buf)
    return buf.getvalue()[:700]


def plain_state_dict(tmp: Path) -> bytes:
    """Another program's checkpoint: a bare state dict."""
    import torch

    buf = io.BytesIO()
    torch.save({"conv.weight": torch.ones(2, 2)}, buf)
    return buf.getvalue()


def pickled_object(tmp: Path) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(
        {
            "format": "ebsdlib-checkpoint",
            "version": 1,
            "model": {},
            "config": {},
            "phases": [],
            "payload": Path("/etc/passwd"),
        },
        buf,
    )
    return buf.getvalue()


def config(**d) -> Callable[[Path], Callable[[], object]]:
    return lambda tmp: lambda: TrainConfig.from_dict(d)


def command_line(*argv: str, config_text: str | None = None) -> Callable[[Path], Callable[[], object]]:
    """``python -m ebsdlib train …`` in this process; the attempt returns the error it prints."""

    def build(tmp: Path) -> Callable[[], object]:
        from ebsdlib.cli import main

        data = good_file(tmp)
        args = [a.replace("{data}", str(data)).replace("{tmp}", str(tmp)) for a in argv]
        if config_text is not None:
            (tmp / "config.json").write_text(config_text)

        def attempt() -> str:
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                try:
                    code = main([*args, "--artifacts", str(tmp / "artifacts"), "--quiet"])
                except SystemExit as e:
                    code = e.code
            assert code == 2, (code, err.getvalue())
            return err.getvalue().strip().splitlines()[-1]

        return attempt

    return build


def broken_run(files: dict[str, str]) -> Callable[[Path], Callable[[], object]]:
    """A run folder with unreadable files beside a healthy one; the attempt builds the dashboard's
    runs table and returns the error its row of the broken run shows."""

    def build(tmp: Path) -> Callable[[], object]:
        root = tmp / "artifacts"
        healthy = RunDir(root / "runs" / "healthy")
        healthy.path.mkdir(parents=True)
        write_json(healthy.config_path, TrainConfig(data="x.h5").to_dict())
        healthy.update_status(state="completed", epochs=10, epoch=10)
        run = RunDir(root / "runs" / "broken")
        run.path.mkdir(parents=True)
        for name, text in files.items():
            (run.path / name).write_text(text)

        def attempt() -> str:
            from ebsdlib.views.runs import runs_table

            table = runs_table(list_runs(root)).set_index("run_id")
            assert table.loc["healthy", "state"] == "completed" and table.loc["healthy", "error"] == ""
            assert table.loc["broken", "state"] == "broken"
            return table.loc["broken", "error"]

        return attempt

    return build


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

# -- the corpus -------------------------------------------------------------------------------------

CASES = [
    # project HDF5 files: truncated, corrupt, wrong layout, shapes, dtypes, values
    Case(
        "hdf5-truncated",
        lambda tmp: raw_file("cut.h5", lambda t: good_file(t).read_bytes()[:2000])(tmp),
        DataFormatError,
        r"cut\.h5: has the HDF5 signature but cannot be opened \(.*truncated file.*\); the file is "
        r"corrupt or truncated: copy or export it again",
    ),
    Case(
        "hdf5-corrupt-bytes-after-signature",
        raw_file("junk.h5", lambda t: HDF5_SIGNATURE + np.random.default_rng(0).bytes(3000)),
        DataFormatError,
        r"junk\.h5: has the HDF5 signature but cannot be opened .*corrupt or truncated",
    ),
    Case(
        "hdf5-text-file",
        raw_file("notes.h5", lambda t: b"hello, not a data set"),
        DataFormatError,
        r"notes\.h5: named like HDF5 but does not start with the HDF5 signature \(found b'hello, n'\)",
    ),
    Case(
        "hdf5-foreign-format-attribute",
        edited(lambda f: f.attrs.__setitem__("format", "something-else")),
        DataFormatError,
        r"good\.h5: kikuchipy cannot read this file as an EBSD scan .*top-level entries "
        r"\['labels', 'patterns'.*expected EDAX/Bruker/Oxford/kikuchipy h5ebsd",
    ),
    Case(
        "hdf5-future-version",
        edited(lambda f: f.attrs.__setitem__("format_version", 99)),
        DataFormatError,
        r"good\.h5: .*format_version 99 is not supported",
    ),
    Case(
        "hdf5-labels-missing",
        edited(lambda f: f.__delitem__("labels")),
        DataFormatError,
        r"good\.h5: dataset '/labels' is missing",
    ),
    Case(
        "hdf5-patterns-2d",
        edited(replace("patterns", np.zeros((N, 12), np.uint8))),
        DataFormatError,
        r"good\.h5: .*'/patterns' has shape \(12, 12\)",
    ),
    Case(
        "hdf5-patterns-float64",
        edited(replace("patterns", np.ones((N, 12, 16), np.float64))),
        DataFormatError,
        r"'/patterns' has shape \(12, 12, 16\) and dtype float64",
    ),
    Case(
        "hdf5-labels-wrong-length",
        edited(replace("labels", np.zeros(N - 1, np.int16))),
        DataFormatError,
        r"'/labels' has shape \(11,\), expected \(12,\)",
    ),
    Case(
        "hdf5-labels-float",
        edited(replace("labels", np.zeros(N, np.float32))),
        DataFormatError,
        r"'/labels' has dtype float32, expected int16",
    ),
    Case(
        "hdf5-label-out-of-range",
        edited(replace("labels", np.full(N, 3, np.int16))),
        DataFormatError,
        r"label 3 at pattern 0 is out of range",
    ),
    Case(
        "hdf5-scan-position-outside-shape",
        edited(replace("scan/row", np.full(N, 9, np.int32))),
        DataFormatError,
        r"scan position \(row 9, col 0\) of pattern 0 lies outside the scan shape 3×4",
    ),
    Case(
        "hdf5-scan-row-without-col",
        edited(lambda f: f.__delitem__("scan/col")),
        DataFormatError,
        r"has only one of '/scan/row' and '/scan/col'",
    ),
    Case(
        "hdf5-scan-shape-3d",
        edited(lambda f: f.attrs.__setitem__("scan_shape", np.array([3, 4, 5]))),
        DataFormatError,
        r"attribute 'scan_shape' is",
    ),
    Case(
        "hdf5-phases-not-json",
        edited(lambda f: f.attrs.__setitem__("phases", "{not json")),
        DataFormatError,
        r"attribute 'phases' is missing or not a valid JSON",
    ),
    Case(
        "hdf5-split-code-unknown",
        edited(replace("split", np.full(N, 4, np.int8))),
        DataFormatError,
        r"'/split' holds code 4",
    ),
    Case(
        "hdf5-static-background-wrong-shape",
        edited(replace("static_background", np.ones((3, 3), np.float32))),
        DataFormatError,
        r"'/static_background' has shape \(3, 3\), expected the pattern shape \(12, 16\)",
    ),
    Case(
        "hdf5-empty",
        edited(replace("patterns", np.zeros((0, 12, 16), np.uint8))),
        DataFormatError,
        r"the data set is empty",
    ),
    Case(
        "hdf5-inf-pattern",
        lambda tmp: (lambda path: lambda: load(path, verify=True))(float_file_with_inf(tmp)),
        DataFormatError,
        r"float\.h5: .*pattern 5 contains NaN or inf values",
    ),
    Case(
        "hdf5-unknown-phase-names",
        lambda tmp: (lambda p: lambda: load(p, out=tmp / "out.h5", phases=["Ni", "Ni3Al", "Ni3Fe"]))(
            good_file(tmp, phases=OTHER_PHASES)
        ),
        DataFormatError,
        r"good\.h5: unknown phase names \['Gamma'\]; expected one of",
    ),
    # arrays given to the writer
    Case(
        "write-patterns-2d",
        writing(patterns=np.zeros((6, 4), np.uint8)),
        DataFormatError,
        r"shape \(N, H, W\), got shape \(6, 4\)",
    ),
    Case(
        "write-patterns-int64",
        writing(patterns=patterns(6).astype(np.int64)),
        DataFormatError,
        r"dtype int64 is not supported",
    ),
    Case("write-patterns-bool", writing(patterns=patterns(6) > 100), DataFormatError, r"dtype bool is not supported"),
    Case(
        "write-empty",
        writing(patterns=np.zeros((0, 4, 4), np.uint8), labels=[]),
        DataFormatError,
        r"no patterns to write",
    ),
    Case("write-nan-pattern", writing(patterns=with_value(np.nan)), DataFormatError, r"pattern 1 contains NaN or inf"),
    Case("write-inf-pattern", writing(patterns=with_value(-np.inf)), DataFormatError, r"pattern 1 contains NaN or inf"),
    Case(
        "write-constant-labelled-pattern",
        writing(patterns=constant_at(2, 17)),
        DataFormatError,
        r"pattern 2 \(label 2\) is constant, every pixel 17",
    ),
    Case(
        "write-all-patterns-constant",
        writing(patterns=np.full((6, 5, 5), 3, np.uint8), labels=None),
        DataFormatError,
        r"all 6 patterns are constant",
    ),
    Case(
        "write-label-too-large",
        writing(labels=[0, 1, 3, 0, 1, 2]),
        DataFormatError,
        r"label 3 at pattern 2 is out of range; labels must be -1 \(unknown\) or 0..2",
    ),
    Case("write-label-negative", writing(labels=[0, -2, 1, 0, 1, 2]), DataFormatError, r"label -2 at pattern 1"),
    Case("write-label-beyond-int16", writing(labels=[0, 70000, 1, 0, 1, 2]), DataFormatError, r"label 70000"),
    Case(
        "write-labels-float",
        writing(labels=[0.5, 1, 2, 0, 1, 2]),
        DataFormatError,
        r"labels has dtype float64, expected integers",
    ),
    Case(
        "write-labels-wrong-length",
        writing(labels=[0, 1]),
        DataFormatError,
        r"labels has shape \(2,\), expected \(6,\)",
    ),
    Case(
        "write-scan-position-outside-shape",
        writing(scan_row=[0, 0, 1, 1, 2, 2], scan_col=[0, 1] * 3, scan_shape=(2, 2)),
        DataFormatError,
        r"scan position \(row 2, col 0\) of pattern 4 lies outside the scan shape 2×2",
    ),
    Case(
        "write-scan-shape-zero",
        writing(scan_shape=(0, 3)),
        DataFormatError,
        r"scan_shape \(0, 3\) must be two positive",
    ),
    Case(
        "write-step-size-negative",
        writing(step_size=-1.0),
        DataFormatError,
        r"step_size -1.0 must be a positive number",
    ),
    Case(
        "write-phase-names-repeat",
        writing(phases=[DEFAULT_PHASES[0]] * 3),
        DataFormatError,
        r"phase names \['Ni', 'Ni', 'Ni'\] repeat",
    ),
    # image folders: unreadable, blank, mixed sizes and modes, layout
    Case(
        "images-garbage-file",
        image_folder(lambda r: (r / "Ni" / "bad.png").write_bytes(b"not an image")),
        DataFormatError,
        r"bad\.png: cannot be read as an image .*corrupt or not a PNG/TIFF/JPEG/BMP",
    ),
    Case(
        "images-truncated-png",
        image_folder(
            lambda r: (r / "Ni" / "bad.png").write_bytes(
                save_image(r / "Ni" / "bad.png", patterns(1, (64, 64), seed=3)[0]).read_bytes()[:300]
            )
        ),
        DataFormatError,
        r"bad\.png: the image cannot be decoded .*corrupt or truncated",
    ),
    Case(
        "images-blank",
        image_folder(lambda r: save_image(r / "Ni" / "bad.png", np.full((8, 8), 9, np.uint8))),
        DataFormatError,
        r"bad\.png: every pixel is 9, a blank image carries no diffraction pattern",
    ),
    Case(
        "images-nan-tiff",
        lambda tmp: images_only(
            tmp, {"ok.tif": patterns(1, (8, 8), np.float32)[0], "bad.tif": with_value(np.nan)[1, :8, :8]}
        ),
        DataFormatError,
        r"bad\.tif: 1 pixels are NaN or inf",
    ),
    Case(
        "images-mixed-sizes-other-aspect",
        image_folder(lambda r: save_image(r / "Ni" / "bad.png", patterns(1, (8, 12))[0])),
        DataFormatError,
        r"bad\.png: image of 8×12 pixels cannot be resized to the common shape",
    ),
    Case(
        "images-mixed-modes-float-and-integer",
        image_folder(lambda r: save_image(r / "Ni" / "bad.tif", patterns(1, (8, 8), np.float32)[0])),
        DataFormatError,
        r"mixes float images \(e.g. .*bad\.tif\) with 8/16-bit integer images",
    ),
    Case(
        "images-32-bit-mode-out-of-range",
        image_folder(
            lambda r: save_image(r / "Ni" / "bad.tif", np.full((8, 8), 70000, np.int32) + np.eye(8, dtype=np.int32))
        ),
        DataFormatError,
        r"bad\.tif: 32-bit integer image with values in \[70000, 70001\], outside 0..65535",
    ),
    Case(
        "images-empty-class-folder",
        image_folder(lambda r: ((r / "Ni3Al").mkdir(), (r / "Ni3Al" / "readme.txt").write_text("todo"))),
        DataFormatError,
        r"Ni3Al: empty class folder",
    ),
    Case(
        "images-outside-class-folders",
        image_folder(lambda r: save_image(r / "loose.png", patterns(1, (8, 8))[0])),
        DataFormatError,
        r"images \['loose\.png'\] lie outside the phase sub-folders",
    ),
    Case(
        "images-unknown-phase-name",
        image_folder(
            lambda r: save_image(r / "Gamma" / "g.png", patterns(1, (8, 8))[0]), phases=["Ni", "Ni3Al", "Ni3Fe"]
        ),
        DataFormatError,
        r"unknown phase names \['Gamma'\]; expected one of \['Ni', 'Ni3Al', 'Ni3Fe'\]",
    ),
    Case(
        "images-resize-to-blank",
        lambda tmp: images_only(tmp, {"checker.png": np.array([[0, 255], [255, 0]], np.uint8)}, size=1),
        DataFormatError,
        r"checker\.png: becomes blank \(every pixel 128\) when resized from 2×2 to 1×1",
    ),
    # vendor scans kikuchipy cannot read, or that hold no usable patterns
    Case(
        "vendor-truncated-oxford-ebsp",
        vendor_copy("oxford_binary/patterns.ebsp", cut=0.05),
        DataFormatError,
        r"patterns\.ebsp: kikuchipy cannot read this file as an EBSD scan",
    ),
    Case(
        "vendor-truncated-nordif",
        vendor_copy("nordif/Pattern.dat", cut=0.5, extra=("Setting.txt",)),
        DataFormatError,
        r"Pattern\.dat: reading patterns 0..8 failed .*truncated or corrupt",
    ),
    Case(
        "vendor-edax-up1-only-a-name",
        raw_file("fake.up1", lambda t: b"\x00\x01"),
        DataFormatError,
        r"fake\.up1: kikuchipy cannot read this file",
    ),
    Case(
        "vendor-hdf5-of-something-else",
        lambda tmp: (lambda p: lambda: load(p, out=tmp / "out.h5"))(_hdf5_with(tmp / "other.h5", "something")),
        DataFormatError,
        r"other\.h5: kikuchipy cannot read this file as an EBSD scan .*top-level entries \['something'\]",
    ),
    Case(
        "vendor-master-pattern-not-a-scan",
        lambda tmp: (
            lambda: load(kikuchipy_data() / "emsoft_ebsd_master_pattern" / "master_patterns.h5", out=tmp / "out.h5")
        ),
        DataFormatError,
        r"read it as LazyEBSDMasterPattern, not a scan of EBSD patterns",
    ),
    Case(
        "vendor-all-frames-blank",
        kikuchipy_scan(np.zeros((2, 3, 5, 5), np.uint8)),
        DataFormatError,
        r"scan\.h5: all 6 patterns are constant \(blank frames\)",
    ),
    Case(
        "vendor-nan-pattern",
        kikuchipy_scan(
            np.where(
                np.arange(100).reshape(2, 2, 5, 5) == 37, np.nan, np.random.default_rng(3).random((2, 2, 5, 5))
            ).astype(np.float32)
        ),
        DataFormatError,
        r"scan\.h5: pattern 1 contains NaN or inf values",
    ),
    # data sets that cannot train a classifier
    Case(
        "train-single-class",
        training(single_class),
        ValueError,
        r"one-phase\.h5: splits \['train', 'val'\] contain only the phase\(s\) \['Ni'\]",
    ),
    Case(
        "train-one-labelled-pattern",
        training(one_training_pattern),
        ValueError,
        r"tiny\.h5: splits \['train', 'val'\] hold 1 labelled patterns; training needs at least 2",
    ),
    Case(
        "train-report-split-unlabelled",
        training(unlabelled_test_split),
        ValueError,
        r"no-test-labels\.h5: split 'test' has no labelled patterns",
    ),
    Case("train-data-file-missing", training(lambda tmp: tmp / "gone.h5"), FileNotFoundError, r"gone\.h5"),
    Case(
        "train-fp16-on-the-cpu",
        training(precision="fp16"),
        ValueError,
        r"precision 'fp16' needs a CUDA device, the run is on 'cpu'; use 'bf16' or 'fp32'",
    ),
    Case(
        "train-unknown-model",
        training(model="efficientnet_b00"),
        ValueError,
        r"model 'efficientnet_b00' is not a timm model name",
    ),
    # checkpoints: another model, another phase list, corrupt, not ours, pickled objects
    Case(
        "checkpoint-of-another-model",
        checkpoint(other_model_weights),
        ValueError,
        r"checkpoint_best\.pt: the weights do not fit model 'test_efficientnet' .*missing .*unexpected",
    ),
    Case(
        "checkpoint-phase-list-shorter-than-classifier",
        checkpoint(lambda s: s | {"phases": [p.to_dict() for p in DEFAULT_PHASES[:2]]}),
        ValueError,
        r"the classifier predicts 3 classes but the checkpoint's phase list has 2 \(\['Ni', 'Ni3Al'\]\)",
    ),
    Case(
        "checkpoint-phase-list-other-than-data",
        checkpoint(check_data=True),
        ValueError,
        r"other-phases\.h5: its phase list \['Ni', 'Gamma', 'Ni3Fe'\] does not match the model's",
    ),
    Case(
        "checkpoint-truncated",
        checkpoint(raw=truncated_checkpoint),
        ValueError,
        r"checkpoint_best\.pt: not a readable PyTorch checkpoint .*corrupt or truncated",
    ),
    Case(
        "checkpoint-pickled-python-object",
        checkpoint(raw=pickled_object),
        ValueError,
        r"checkpoint_best\.pt: refused to load — it holds the Python object .*weights_only=False",
    ),
    Case(
        "checkpoint-plain-state-dict",
        checkpoint(raw=plain_state_dict),
        ValueError,
        r"checkpoint_best\.pt: not an ebsdlib checkpoint \(format None",
    ),
    Case(
        "checkpoint-future-version",
        checkpoint(lambda s: s | {"version": 7}),
        ValueError,
        r"checkpoint version 7 is not supported",
    ),
    Case(
        "checkpoint-supcon-without-probe",
        checkpoint(lambda s: s | {"config": s["config"] | {"loss": "supcon"}}),
        ValueError,
        r"this SupCon checkpoint has no fitted linear probe yet",
    ),
    # training configs: unknown keys, impossible values
    Case("config-unknown-key", config(colour="red"), ValueError, r"unknown config keys \['colour'\]"),
    Case(
        "config-epochs-zero", config(epochs=0), ValueError, r"epochs=0 is not allowed; use an integer from 1 to 10000"
    ),
    Case("config-epochs-true", config(epochs=True), ValueError, r"epochs=True is not allowed"),
    Case(
        "config-batch-size-one", config(batch_size=1), ValueError, r"batch_size=1 is not allowed; use an integer from 2"
    ),
    Case("config-lr-nan", config(lr=float("nan")), ValueError, r"lr=nan is not allowed; use a number in \(0, 10\]"),
    Case("config-lr-negative", config(lr=-0.1), ValueError, r"lr=-0\.1 is not allowed"),
    Case(
        "config-warmup-longer-than-training",
        config(epochs=2, warmup_epochs=5),
        ValueError,
        r"warmup_epochs=5 is not allowed; use an integer from 0 to epochs",
    ),
    Case(
        "config-unknown-loss",
        config(loss="triplet"),
        ValueError,
        r"loss='triplet' is not allowed; use one of \('ce', 'supcon', 'contrastive'\)",
    ),
    Case("config-unknown-device", config(device="tpu"), ValueError, r"device='tpu' is not allowed"),
    Case(
        "config-validation-not-a-bool",
        config(validation="yes"),
        ValueError,
        r"validation='yes' is not allowed; use True or False",
    ),
    Case(
        "config-preprocess-not-a-dict",
        config(preprocess="standard"),
        ValueError,
        r"preprocess='standard' is not allowed",
    ),
    Case(
        "config-preprocess-size-too-small",
        config(preprocess={"size": 4}),
        ValueError,
        r"preprocess: size 4 must be between 8 and 1024 pixels",
    ),
    Case(
        "config-preprocess-unknown-normalisation",
        config(preprocess={"normalise": "zscore"}),
        ValueError,
        r"preprocess: unknown normalise 'zscore'; options are 'standard', 'minmax', 'none'",
    ),
    # the command line
    Case(
        "cli-lr-nan",
        command_line("train", "--data", "{data}", "--lr", "nan"),
        None,
        r"error: argument --lr: lr=nan is not allowed",
    ),
    Case(
        "cli-unknown-loss",
        command_line("train", "--data", "{data}", "--loss", "triplet"),
        None,
        r"error: argument --loss: invalid choice: 'triplet' \(choose from 'ce', 'supcon', 'contrastive'\)",
    ),
    Case(
        "cli-data-set-missing",
        command_line("train", "--data", "{tmp}/absent.h5"),
        None,
        r"error: argument --data: data set '.*absent\.h5' not found",
    ),
    Case(
        "cli-config-file-not-json",
        command_line("train", "--config", "{tmp}/config.json", config_text="{epochs: 3"),
        None,
        r"error: .*config\.json: not valid JSON .*the file is corrupt",
    ),
    Case(
        "cli-config-file-a-list",
        command_line("train", "--config", "{tmp}/config.json", config_text="[1, 2]"),
        None,
        r"error: argument --config: .*config\.json holds a JSON list, not an object of config fields",
    ),
    Case(
        "cli-config-file-unknown-key",
        command_line("train", "--config", "{tmp}/config.json", config_text=json.dumps({"colour": "red"})),
        None,
        r"error: argument --config: unknown config keys \['colour'\]",
    ),
    Case(
        "cli-run-id-path-traversal",
        command_line("train", "--data", "{data}", "--run-id", "../escape"),
        None,
        r"error: argument --run-id: run id '\.\./escape' is not allowed",
    ),
    # run folders the dashboard lists
    Case(
        "run-status-not-json",
        broken_run({"status.json": "{oops", "config.json": "{}"}),
        None,
        r"ValueError: .*status\.json: not valid JSON .*the file is corrupt",
    ),
    Case(
        "run-config-not-json", broken_run({"config.json": "[1, 2"}), None, r"ValueError: .*config\.json: not valid JSON"
    ),
    Case(
        "run-status-unknown-state",
        broken_run({"status.json": json.dumps({"state": "exploded"})}),
        None,
        r"ValueError: .*status\.json: unknown run state 'exploded'; states are",
    ),
    Case(
        "run-status-a-list",
        broken_run({"status.json": "[1]"}),
        None,
        r"ValueError: .*status\.json: a status must be a JSON object, not list; the file is corrupt",
    ),
    Case(
        "run-status-epoch-text",
        broken_run({"status.json": json.dumps({"state": "running", "epoch": "three"})}),
        None,
        r"ValueError: .*status\.json: status field 'epoch' is 'three'; expected int; the file is corrupt",
    ),
    Case(
        "run-status-start-time-impossible",
        broken_run({"status.json": json.dumps({"state": "failed", "started": 1e300})}),
        None,
        r"(Overflow|Value)Error: .*\(in .*broken\)",
    ),
    Case(
        "run-config-a-list",
        broken_run({"config.json": "[1, 2]", "status.json": json.dumps({"state": "failed"})}),
        None,
        r"ValueError: .*config\.json: holds a JSON list, not an object; the file is corrupt",
    ),
    Case(
        "run-config-epochs-text",
        broken_run({"config.json": json.dumps({"epochs": "many"})}),
        None,
        r"ValueError: invalid literal for int\(\) with base 10: 'many' \(in .*broken\)",
    ),
    Case(
        "run-metrics-a-list",
        broken_run({"metrics.json": "[0.9]", "status.json": json.dumps({"state": "completed"})}),
        None,
        r"ValueError: .*metrics\.json: holds a JSON list, not an object",
    ),
    Case("run-folder-empty", broken_run({}), None, r"FileNotFoundError: neither config\.json nor status\.json exists"),
    Case("run-id-absolute-path", lambda tmp: lambda: check_run_id("/etc"), ValueError, r"run id '/etc' is not allowed"),
]


def _hdf5_with(path: Path, key: str) -> Path:
    with h5py.File(path, "w") as f:
        f[key] = np.arange(3)
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_input_is_refused_with_a_clear_message(case: Case, tmp_path: Path) -> None:
    attempt = case.build(tmp_path)
    if case.error is None:
        message = str(attempt())
    else:
        with warnings.catch_warnings(), pytest.raises(case.error) as info:
            warnings.simplefilter("ignore")
            attempt()
        message = str(info.value)
    assert re.search(case.match, message, re.DOTALL), f"{case.name}: {message!r}"
    # nothing half-written: no converted output, no temporary files
    assert not (tmp_path / "out.h5").exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".part")]


def test_every_kind_of_input_the_issue_lists_is_in_the_corpus() -> None:
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names)
    kinds = [
        "hdf5-truncated",
        "hdf5-corrupt",
        "hdf5-patterns-2d",
        "hdf5-labels-float",
        "-nan-",
        "-inf-",
        "constant",
        "label-out-of-range",
        "images-unknown-phase-name",
        "hdf5-unknown-phase-names",
        "scan-position-outside-shape",
        "empty",
        "single-class",
        "images-mixed-sizes",
        "images-mixed-modes",
        "vendor-",
        "checkpoint-of-another-model",
        "checkpoint-phase-list",
        "config-unknown-key",
        "config-epochs-zero",
    ]
    for kind in kinds:
        assert any(kind in n for n in names), kind
