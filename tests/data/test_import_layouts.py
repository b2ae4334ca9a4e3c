"""Importing images as the data comes: file-name labels, regex, manifest, split folders, aliases, caps, dry run.

Every image is a tiny RGB PNG whose brightness says its phase (Ni dark, Ni₃Al mid, Ni₃Fe bright),
so a test can check from the pixels that each pattern carries the label of the file it came from.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ebsdlib.cli import main
from ebsdlib.data.format import DataFormatError, EBSDDataset
from ebsdlib.data.image_folder import convert_image_folder
from ebsdlib.data.import_plan import plan_image_import
from ebsdlib.data.labels import compile_label_regex, name_prefix
from ebsdlib.data.readers import load
from ebsdlib.phases import NI3AL, NI3FE, Phase, match_phase, phase_from_name, resolve_phase_name

from .conftest import save_image

#: Brightness band of each phase's images (as the composition they stand for).
BASE = {"Ni": 10, "Ni3Al": 100, "Ni3Fe": 190, "Gamma": 60}
CANONICAL = {"ni": "Ni", "ni3al": "Ni3Al", "alni3": "Ni3Al", "ni3fe": "Ni3Fe", "feni3": "Ni3Fe", "gamma": "Gamma"}


def png(path: Path, phase: str, seed: int, shape: tuple[int, int] = (16, 16)) -> Path:
    """A colour PNG whose grey value lies in the band of ``phase`` (any spelling)."""
    rng = np.random.default_rng(seed)
    base = BASE[CANONICAL[phase.lower()]]
    return save_image(path, rng.integers(base, base + 50, (*shape, 3), dtype=np.uint8))


def phase_of_pixels(ds: EBSDDataset) -> list[str]:
    """The phase each stored pattern's brightness says it is."""
    means = ds.read(slice(None)).reshape(len(ds.labels), -1).mean(axis=1)
    bands = sorted(BASE.items(), key=lambda kv: kv[1])
    return [next(name for name, base in reversed(bands) if m >= base) for m in means]


def assert_labels_match_pixels(ds: EBSDDataset) -> None:
    names = [ds.phase_names[i] for i in ds.labels]
    assert names == phase_of_pixels(ds)


def kaufmann(root: Path, counts: dict[str, int] | None = None) -> Path:
    """One folder of ``<phase>_Site 1_0001.png`` files, some with the ``originalsize_`` prefix."""
    counts = counts or {"Ni": 4, "FeNi3": 3, "originalsize_Ni3Al": 2, "Ni3Al": 1}
    seed = 0
    for prefix, n in counts.items():
        for i in range(n):
            phase = prefix.removeprefix("originalsize_")
            png(root / f"{prefix}_Site 1_{i + 1:04d}.png", phase, seed)
            seed += 1
    return root


# ---------------------------------------------------------------------------- phase aliases


@pytest.mark.parametrize(
    ("name", "phase", "how"),
    [
        ("Ni3Fe", "Ni3Fe", "name"),
        ("ni3fe", "Ni3Fe", "name"),
        ("NI", "Ni", "name"),
        ("FeNi3", "Ni3Fe", "alias by formula"),
        ("AlNi3", "Ni3Al", "alias by formula"),
        ("FENI3", "Ni3Fe", "alias by formula"),
        ("alni3", "Ni3Al", "alias by formula"),
        ("NiAlNi2", "Ni3Al", "alias by formula"),
        ("Ni2", None, None),  # counts are compared as written
        ("NiFe", None, None),
        ("Co", None, None),
        ("Gamma", None, None),
        ("Site", None, None),
        ("Ni₃Al", None, None),
    ],
)
def test_phase_names_resolve_by_name_or_formula(name: str, phase: str | None, how: str | None) -> None:
    match = match_phase(name)
    assert (None if match is None else (match[0].name, match[1])) == ((phase, how) if phase else None)
    assert resolve_phase_name(name) is (match[0] if match else None)
    assert phase_from_name(name).name == (phase or name)


def test_phase_from_name_gives_the_default_phase_for_an_alias() -> None:
    assert phase_from_name("FeNi3") is NI3FE and phase_from_name("AlNi3") is NI3AL
    assert phase_from_name("Gamma").space_group == 0  # unknown names stay generic phases
    twins = (Phase("Ni3Fe", 221, 3.55, "#000000"), Phase("FeNi3", 221, 3.55, "#111111"))
    assert match_phase("FeNi3", twins)[0] is twins[1]  # the exact name wins
    with pytest.raises(ValueError, match=r"'NiFeNi2' has the composition of several phases \['Ni3Fe', 'FeNi3'\]"):
        match_phase("NiFeNi2", twins)
    custom = (Phase("CoNi", 225, 3.5, ""),)
    assert match_phase("NiCo", custom)[0] is custom[0] and match_phase("CONI", custom)[0] is custom[0]


@pytest.mark.parametrize(
    ("filename", "prefix"),
    [
        ("Ni_Site 1_0001.png", "Ni"),
        ("FeNi3_Site 1_0001.png", "FeNi3"),
        ("originalsize_Ni3Al_Site 2_0010.png", "Ni3Al"),
        ("ORIGINALSIZE_Ni_0001.png", "Ni"),
        ("Ni3Al Site 1 0001.png", "Ni3Al"),
        ("Ni3Fe.tif", "Ni3Fe"),
    ],
)
def test_name_prefix(filename: str, prefix: str) -> None:
    assert name_prefix(filename) == prefix


# ---------------------------------------------------------------------------- labels from file names


def test_kaufmann_layout_labels_from_file_names(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = kaufmann(tmp_path / "Kaufmann2020")
    out = tmp_path / "kaufmann.h5"
    assert main(["import", str(root), "--label-from", "name", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "FeNi3 → Ni3Fe (alias by formula)" in text and "Ni3Al → Ni3Al (same name)" in text
    assert "labels from    file-name prefix" in text and "new phase" not in text
    with EBSDDataset(out) as ds:
        assert ds.phase_names == ["Ni", "Ni3Al", "Ni3Fe"]  # FeNi3 is Ni3Fe, not a fourth phase
        assert ds.pattern_shape == (16, 16) and ds.patterns.dtype == np.uint8  # RGB became grey
        assert np.bincount(ds.labels).tolist() == [4, 3, 3]
        assert_labels_match_pixels(ds)
        assert ds.provenance["phase_names"]["FeNi3"] == "Ni3Fe (alias by formula)"
        assert ds.provenance["labels_from"] == "file-name prefix"
        assert set(np.unique(ds.split)) <= {0, 1, 2} and ds.summary()["split_rule"].startswith("stratified")


def test_name_labels_ignore_scan_set_sub_folders(tmp_path: Path) -> None:
    root = tmp_path / "scans"
    for i in range(3):
        png(root / "scan A" / f"Ni_Site 1_{i}.png", "Ni", i)
        png(root / "scan B" / f"feni3_Site 2_{i}.png", "feni3", 10 + i)
    (root / "scan B" / "notes.txt").write_text("20 kV")
    with EBSDDataset(convert_image_folder(root, tmp_path / "s.h5", label_from="name")) as ds:
        assert ds.phase_names == ["Ni", "Ni3Fe"] and ds.provenance["classes"] == {"Ni": 3, "Ni3Fe": 3}
        assert_labels_match_pixels(ds)


def test_file_name_without_a_phase_is_refused(tmp_path: Path) -> None:
    png(tmp_path / "f" / "Ni_1.png", "Ni", 0)
    png(tmp_path / "f" / "0001.png", "Ni", 1)
    with pytest.raises(DataFormatError, match=r"0001.png: the file name '0001.png' starts with '0001', not a phase"):
        convert_image_folder(tmp_path / "f", tmp_path / "o.h5", label_from="name")
    assert not (tmp_path / "o.h5").exists()


# ---------------------------------------------------------------------------- split folders


@pytest.mark.parametrize("labels", ["folder", "name"])
def test_split_folders_keep_their_split(tmp_path: Path, labels: str) -> None:
    root = tmp_path / "splits"
    layout = {"train": {"Ni": 3, "FeNi3": 3}, "Validation": {"Ni": 2, "FeNi3": 1}, "test": {"Ni": 1, "FeNi3": 2}}
    seed = 0
    for split, counts in layout.items():
        for phase, n in counts.items():
            for i in range(n):
                path = root / split / phase / f"{i}.png" if labels == "folder" else root / split / f"{phase}_{i}.png"
                png(path, phase, seed)
                seed += 1
    out = tmp_path / "o.h5"
    convert_image_folder(root, out, label_from=labels)
    with EBSDDataset(out) as ds:
        assert ds.phase_names == ["Ni", "Ni3Fe"]
        assert_labels_match_pixels(ds)
        counts = ds.summary()["counts"]
        assert counts["Ni"] == {"total": 6, "train": 3, "val": 2, "test": 1}
        assert counts["Ni3Fe"] == {"total": 6, "train": 3, "val": 1, "test": 2}
        assert ds.summary()["split_rule"].startswith("given by the source")
    with pytest.raises(ValueError, match=r"the splits come from .*; leave out the split fractions \(0.5, 0.25, 0.25\)"):
        plan_image_import(root, label_from=labels, fractions=(0.5, 0.25, 0.25))


def test_load_honours_split_folders(tmp_path: Path) -> None:
    for split, n in (("train", 4), ("val", 1), ("test", 2)):
        for i in range(n):
            png(tmp_path / "s" / split / "Ni3Al" / f"{i}.png", "Ni3Al", i)
    with load(tmp_path / "s", out=tmp_path / "o.h5") as ds:
        assert ds.phase_names == ["Ni3Al"] and np.bincount(ds.split).tolist() == [4, 1, 2]


def test_unknown_split_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "splits"
    for split in ("train", "val", "extra"):
        png(root / split / "Ni" / "0.png", "Ni", 0)
    out = tmp_path / "out" / "o.h5"
    match = (
        r"extra: unknown split folder 'extra' beside the split folders \['train', 'val'\]; "
        r"split folders must be named train, val \(or validation\) or test"
    )
    with pytest.raises(DataFormatError, match=match):
        convert_image_folder(root, out)
    assert main(["import", str(root), "--out", str(out)]) == 2
    assert "unknown split folder 'extra'" in capsys.readouterr().err
    assert not out.parent.exists()


# ---------------------------------------------------------------------------- labels from a regex


def regex_folder(root: Path) -> Path:
    for i, phase in enumerate(["Ni", "Ni", "AlNi3", "Ni3Fe", "ni3fe"]):
        png(root / f"scan{i % 2}-{phase}-{i:03d}.png", phase, i)
    return root


@pytest.mark.parametrize("regex", [r"^scan\d-([^-]+)-", r"^(?P<scan>scan\d)-(?P<phase>[A-Za-z0-9]+)"])
def test_labels_from_a_regex(tmp_path: Path, regex: str, capsys: pytest.CaptureFixture) -> None:
    root = regex_folder(tmp_path / "r")
    out = tmp_path / "o.h5"
    assert main(["import", str(root), "--label-regex", regex, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "AlNi3 → Ni3Al (alias by formula)" in text and "ni3fe → Ni3Fe (name, other case)" in text
    with EBSDDataset(out) as ds:
        assert ds.phase_names == ["Ni", "Ni3Al", "Ni3Fe"] and np.bincount(ds.labels).tolist() == [2, 1, 2]
        assert_labels_match_pixels(ds)
        assert ds.provenance["labels_from"] == f"file names, --label-regex '{regex}'"


@pytest.mark.parametrize(
    ("regex", "match"),
    [
        (r"^scan\d-[^-]+-", re.escape(r"--label-regex '^scan\d-[^-]+-' has no group; put the phase part")),
        (r"^(scan\d)-([^-]+)-", r"has 2 groups and none named 'phase'"),
        (r"^scan(", r"is not a valid regular expression"),
    ],
)
def test_a_regex_without_one_phase_group_is_refused(regex: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compile_label_regex(regex)


def test_a_regex_that_misses_files_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = regex_folder(tmp_path / "r")
    out = tmp_path / "out" / "o.h5"
    with pytest.raises(
        DataFormatError, match=re.escape(r"r: --label-regex '^Site_(\w+)' matches none of the 5 file names")
    ):
        convert_image_folder(root, out, label_regex=r"^Site_(\w+)")
    png(root / "odd_Ni.png", "Ni", 9)
    with pytest.raises(DataFormatError, match=r"odd_Ni.png: the file name 'odd_Ni.png' does not match --label-regex"):
        convert_image_folder(root, out, label_regex=r"^scan\d-([^-]+)-")
    assert main(["import", str(root), "--label-regex", "^scan[0-9]-", "--out", str(out)]) == 2
    assert "has no group" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"--label-regex labels from file names; leave out --label-from folder"):
        convert_image_folder(root, out, label_regex=r"(\w+)", label_from="folder")
    assert not out.parent.exists()


# ---------------------------------------------------------------------------- manifest


def manifest_folder(root: Path, text: str) -> Path:
    for i, (sub, phase) in enumerate([("a", "Ni"), ("a", "FeNi3"), ("b", "Ni3Al"), ("b", "Ni"), ("b", "Ni3Fe")]):
        png(root / "images" / sub / f"{i}.png", phase, i)
    (root / "labels.csv").write_text(text)
    return root / "labels.csv"


MANIFEST = """File, Phase ,split
images/a/0.png,Ni,train
images/a/1.png,FeNi3,train
images/b/2.png,Ni3Al,validation

images/b/3.png,Ni,test
images/b/4.png,Ni3Fe,TEST
"""


def test_labels_and_splits_from_a_manifest(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    manifest = manifest_folder(tmp_path / "set", MANIFEST)
    out = tmp_path / "o.h5"
    assert main(["import", str(manifest.parent), "--manifest", str(manifest), "--out", str(out)]) == 0
    assert "FeNi3 → Ni3Fe (alias by formula)" in capsys.readouterr().out
    with EBSDDataset(out) as ds:
        assert ds.phase_names == ["Ni", "Ni3Al", "Ni3Fe"]
        assert [ds.phase_names[i] for i in ds.labels] == ["Ni", "Ni3Fe", "Ni3Al", "Ni", "Ni3Fe"]
        assert_labels_match_pixels(ds)
        assert ds.split.tolist() == [0, 0, 1, 2, 2]
        assert ds.provenance["source"] == str(manifest.resolve())
    manifest.write_text("file,phase\n" + "".join(f"images/{s}/{i}.png,Ni\n" for s, i in [("a", 0), ("b", 3)]))
    with EBSDDataset(convert_image_folder(manifest, tmp_path / "drawn.h5")) as ds:  # SRC may be the manifest
        assert ds.phase_names == ["Ni"] and ds.summary()["split_rule"].startswith("stratified")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("file,label\nimages/a/0.png,Ni\n", r"labels.csv: manifest columns \['file', 'label'\] lack \['phase'\]"),
        ("", r"labels.csv: manifest columns \[\] lack \['file', 'phase'\]"),
        (
            "file,phase\nimages/a/0.png,Ni\nimages/a/9.png,Ni\n",
            r"labels.csv, row 2 \(line 3\): file 'images/a/9.png' does not exist \(looked for .*9.png\); paths "
            r"are relative to the manifest's folder",
        ),
        ("file,phase,split\nimages/a/0.png,Ni,dev\n", r"row 1 \(line 2\): split 'dev' is not one of train, val"),
        ("file,phase\nimages/a/0.png,\n", r"row 1 \(line 2\): .* has an empty 'file' or 'phase'"),
        ("file,phase\nimages/a/0.png,Ni\nimages/a/0.png,Ni\n", r"row 2 \(line 3\): .* listed again \(first in row 1\)"),
        ("file,phase\n", r"labels.csv: the manifest has a header but no rows"),
    ],
)
def test_bad_manifests_are_refused(tmp_path: Path, text: str, match: str) -> None:
    manifest = manifest_folder(tmp_path / "set", text)
    out = tmp_path / "out" / "o.h5"
    with pytest.raises(DataFormatError, match=match):
        convert_image_folder(manifest.parent, out, manifest=manifest)
    assert not out.parent.exists()


def test_manifest_excludes_other_label_sources(tmp_path: Path) -> None:
    manifest = manifest_folder(tmp_path / "set", MANIFEST)
    with pytest.raises(ValueError, match=r"gives the labels; leave out --label-from and --label-regex"):
        plan_image_import(manifest.parent, manifest=manifest, label_from="name")
    with pytest.raises(FileNotFoundError, match=r"absent.csv: no such manifest file"):
        plan_image_import(manifest.parent, manifest=manifest.parent / "absent.csv")


# ---------------------------------------------------------------------------- cap and dry run


def stored(ds: EBSDDataset) -> set[bytes]:
    return {p.tobytes() for p in ds.read(slice(None))}


def test_max_per_phase_is_seeded_and_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = kaufmann(tmp_path / "k", {"Ni": 10, "FeNi3": 4})
    with EBSDDataset(convert_image_folder(root, tmp_path / "all.h5", label_from="name")) as ds:
        everything = stored(ds)

    def capped(seed: int, name: str) -> set[bytes]:
        argv = ["import", str(root), "--label-from", "name", "--max-per-phase", "5", "--seed", str(seed)]
        assert main([*argv, "--out", str(tmp_path / name)]) == 0
        with EBSDDataset(tmp_path / name) as ds:
            assert np.bincount(ds.labels).tolist() == [5, 4]  # Ni capped at 5, Ni3Fe keeps its 4
            assert_labels_match_pixels(ds)
            assert ds.provenance["max_per_phase"] == 5 and ds.provenance["found_before_cap"] == {"Ni": 10, "FeNi3": 4}
            assert "at most 5 per phase" in ds.summary()["split_rule"]
            return stored(ds)

    first, again = capped(0, "a.h5"), capped(0, "b.h5")
    assert first == again and first <= everything
    assert any(capped(seed, f"s{seed}.h5") != first for seed in (1, 2, 3))  # the seed draws the images
    assert "  Ni                10       5" in capsys.readouterr().out  # found, then kept
    with pytest.raises(ValueError, match=r"max_per_phase 0 must be a positive number of images per phase"):
        plan_image_import(root, label_from="name", max_per_phase=0)


def test_max_per_phase_holds_per_source_split(tmp_path: Path) -> None:
    for split, n in (("train", 6), ("test", 4)):
        for i in range(n):
            png(tmp_path / "s" / split / f"Ni_{i}.png", "Ni", 10 * n + i)
    plan = plan_image_import(tmp_path / "s", label_from="name", max_per_phase=3)
    assert plan.counts()["Ni"] == {"total": 6, "train": 3, "val": 0, "test": 3}
    assert plan.split_rule.endswith("at most 3 per phase and split (seed 0)")


def test_dry_run_prints_counts_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = kaufmann(tmp_path / "Kaufmann2020", {"Ni": 20, "FeNi3": 20, "originalsize_Ni3Al": 20})
    out = tmp_path / "out" / "k.h5"
    argv = ["import", str(root), "--label-from", "name", "--max-per-phase", "10", "--out", str(out), "--dry-run"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "FeNi3 → Ni3Fe (alias by formula)" in text
    assert "  phase          found   total   train     val    test" in text
    for phase in ("Ni", "Ni3Al", "Ni3Fe"):
        assert f"  {phase:<12}      20      10       7       2       1" in text
    assert "  all               60      30      21       6       3" in text
    assert f"dry run: nothing written (without --dry-run: {out})" in text
    assert not out.parent.exists() and not (tmp_path / "artifacts").exists()


# ---------------------------------------------------------------------------- names that are no phase


def test_unknown_names_become_new_phases_unless_phases_are_given(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "g"
    for i in range(2):
        png(root / f"Gamma_{i}.png", "Gamma", i)
        png(root / f"FeNi3_{i}.png", "FeNi3", 10 + i)
    assert main(["import", str(root), "--label-from", "name", "--out", str(tmp_path / "new.h5")]) == 0
    text = capsys.readouterr().out
    assert "Gamma → Gamma (new phase)" in text and "new phases     Gamma: no default phase" in text
    with EBSDDataset(tmp_path / "new.h5") as ds:
        assert ds.phase_names == ["Ni3Fe", "Gamma"]  # default phases first, then new ones
        assert_labels_match_pixels(ds)

    out = tmp_path / "out" / "o.h5"
    argv = ["import", str(root), "--label-from", "name", "--phases", "Ni", "FeNi3", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "unknown phase names ['Gamma']; expected one of ['Ni', 'Ni3Fe'] (by name in any case" in err
    assert "Gamma_0.png is labelled 'Gamma' by its file-name prefix. Rename it, add the phase to --phases" in err
    assert not out.parent.exists()
    for path in root.glob("Gamma_*.png"):
        path.unlink()
    assert main(argv) == 0  # FeNi3 in --phases and in file names is Ni3Fe
    with EBSDDataset(out) as ds:
        assert ds.phase_names == ["Ni", "Ni3Fe"] and ds.labels.tolist() == [1, 1]


def test_image_options_are_refused_for_files(tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "copy.h5"
    assert main(["import", str(tiny_dataset), "--label-from", "name", "--dry-run", "--out", str(out)]) == 2
    assert "--label-from, --dry-run apply to image folders and manifests only" in capsys.readouterr().err
    assert not out.exists()
