"""The Accuracy page's meeting report: built for the runs chosen there, then offered as a download."""

from __future__ import annotations

from ebsdlib.report import build_report


def test_accuracy_page_builds_the_report_of_the_chosen_runs(app, lab, fetches):
    at = app("accuracy", root=lab["root"])
    assert not at.exception
    assert [b.proto.label for b in at.get("download_button")] == []  # nothing built yet
    at.multiselect(key="acc_runs").set_value([lab["supcon"], lab["ce"]]).run()
    at.button(key="acc_report_build").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert [b.proto.label for b in at.get("download_button")] == ["Download meeting report (HTML)"]
    (runs, evaluation), data = at.session_state["acc_report"]
    assert runs == (lab["supcon"], lab["ce"]) and evaluation is None
    text = data.decode("utf-8")
    assert text.count('class="plotly-graph-div"') == len(build_report(runs, lab["root"]).figures) == 9
    assert f"from runs {lab['supcon']}, {lab['ce']}." in text and fetches(text) == []
    assert any("MB, self-contained" in c.value for c in at.caption)
    at.multiselect(key="acc_runs").set_value([lab["ce"]]).run()  # other runs: the old report is not offered
    assert [b.proto.label for b in at.get("download_button")] == []
