"""What the dashboard shows, computed without Streamlit.

Every table, selection and figure the pages draw is built here, so pages only lay
things out and each piece can be tested on its own:

- :mod:`ebsdlib.views.runs` — the runs table, the best run per loss, the data sets.
- :mod:`ebsdlib.views.phases` — the phase table and colours of a run.
- :mod:`ebsdlib.views.classes` — headline numbers and per-class precision/recall/F1.
- :mod:`ebsdlib.views.confusion` — confusion matrices: normalisations, differences, cells.
- :mod:`ebsdlib.views.predictions` — a run's predictions with phase names and correctness.
- :mod:`ebsdlib.views.curves` — training curves of several runs in one long table.
- :mod:`ebsdlib.views.embedding` — the UMAP table coloured by true/predicted/correct.
- :mod:`ebsdlib.views.gallery` — selection → the patterns and probabilities to show.
- :mod:`ebsdlib.views.mapview` — phase-map pixels, fractions at a threshold, click grid.
- :mod:`ebsdlib.views.figures` — the Plotly figures (plotly imported inside).

Nothing here imports Streamlit; the dashboard's cached loaders call these functions.
"""
