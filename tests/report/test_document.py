"""The report as one HTML file: self-contained, escaped, written whole or not at all, and the CLI."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from ebsdlib.cli import main
from ebsdlib.report import build_report, report_html, write_report

HOSTILE = '<img src=x onerror="window.__xss=1"> run'


def test_the_file_fetches_nothing_and_holds_every_figure(lab, fetches):
    report = build_report([lab["ce"], lab["supcon"]], lab["root"])
    text = report_html(report)
    assert fetches(text) == []
    assert text.count('<script type="text/javascript">/**') == 1  # plotly.js, once, inlined
    assert text.count('class="plotly-graph-div"') == len(report.figures) == 9
    assert len(re.findall(r'"source":\s*"data:image(/|\\u002f)png;base64,', text)) == 2  # the phase maps travel inside
    for key in ("runs", "config", "accuracy", "confusion", "umap", "phasemap", "limit"):
        assert f'<section id="{key}">' in text and f'href="#{key}"' in text


def test_the_offline_check_finds_what_would_be_fetched(fetches):
    page = (
        '<html><head><link rel="stylesheet" href="https://cdn.example/x.css">'
        '<script src="https://cdn.plot.ly/plotly.min.js"></script>'
        "<style>@font-face { src: url(https://fonts.example/f.woff) }</style></head>"
        '<body><img src="http://x/y.png"><div style="background: url(\'//x/z.png\')"></div>'
        '<a href="#limit">ok</a><img src="data:image/png;base64,AAAA">'
        '<script>var s = "<img src=https://not.fetched>"; a.href="https://plotly.com/";</script></body></html>'
    )
    assert len(fetches(page)) == 5


def test_names_from_runs_are_text_not_markup(lab, fetches):
    root = lab["root"]
    config = root / "runs" / lab["ce"] / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "name": HOSTILE}))
    text = report_html(build_report([lab["ce"], lab["supcon"]], root))
    assert "<img src=x" not in text and "&lt;img src=x" in text
    assert fetches(text) == []


def test_cli_writes_the_report_into_a_new_folder(lab, capsys):
    out = lab["root"].parent / "meeting" / "today" / "report.html"
    code = main(["report", lab["ce"], lab["supcon"], "--out", str(out), "--root", str(lab["root"])])
    assert code == 0 and out.is_file()
    assert f"report of 2 run(s) written to {out}" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count('class="plotly-graph-div"') == 9
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]


def test_cli_names_an_unknown_run_and_how_to_list_them(lab, capsys, tmp_path):
    out = tmp_path / "r.html"
    assert main(["report", lab["ce"], "nope-run", "--out", str(out), "--root", str(lab["root"])]) == 2
    err = capsys.readouterr().err
    assert "run 'nope-run' not found" in err and "`python -m ebsdlib runs` lists the runs" in err
    assert not out.exists()


def test_a_failure_leaves_no_half_written_file(lab, tmp_path, monkeypatch):
    out = tmp_path / "meeting" / "report.html"
    out.parent.mkdir()
    out.write_text("the report of last week")
    import ebsdlib.report.document as document

    def broken(path, write):  # the disk fills up halfway through the write
        def half(p):
            p.write_text("<!DOCTYPE html><html><head>")
            raise OSError(28, "No space left on device")

        return real(path, half)

    real = document.atomic_write
    monkeypatch.setattr(document, "atomic_write", broken)
    with pytest.raises(OSError, match="No space left"):
        write_report([lab["ce"]], out, lab["root"])
    assert out.read_text() == "the report of last week"
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # no temporary file left behind
    with pytest.raises(ValueError, match=r"the report's file .* is a folder; name a file such as"):
        write_report([lab["ce"]], out.parent, lab["root"])


def test_a_report_of_a_run_evaluated_on_another_data_set(lab):
    root = lab["root"]
    folder = root / "runs" / lab["ce"] / "evaluations" / "other"
    folder.mkdir(parents=True)
    metrics = json.loads((root / "runs" / lab["ce"] / "metrics.json").read_text())
    (folder / "metrics.json").write_text(json.dumps({**metrics, "data": "artifacts/datasets/other.h5"}))
    shutil.copy(root / "runs" / lab["ce"] / "predictions.csv", folder / "predictions.csv")
    report = build_report([lab["ce"], lab["supcon"]], root, evaluation="other")
    assert "evaluated on other" in report.section("runs").blocks[0].text
    assert report.section("runs").blocks[1].frame["data set"].iloc[0] == "other.h5"
    note = report.section("runs").notes[0]
    assert f"run {lab['supcon']!r} was not evaluated on 'other'" in note
    assert len(report.section("confusion").figures) == 1 and len(report.section("umap").figures) == 2
