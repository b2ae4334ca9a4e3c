"""A meeting report: chosen runs in one self-contained HTML file that opens offline.

:func:`build_report` gathers the sections (runs, configurations, accuracy with intervals,
confusion matrices and their differences, UMAPs, a phase map per run, the physical limit) with
the dashboard's own tables and figures (:mod:`ebsdlib.report.build`, its tables in
:mod:`ebsdlib.report.tables`); :func:`report_html` writes them as HTML with plotly.js inlined
and :func:`write_report` does both into a file, atomically (:mod:`ebsdlib.report.document`).
``python -m ebsdlib report`` and the Accuracy page's download button call these. Plotly is
imported inside the functions that draw.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
