"""The sidebar every page shares: run picker, training launcher and live progress of active runs.

Built by the entry file (``Home.py``) on every rerun, so its widgets keep their state across pages.
Everything it does goes through :mod:`ebsdlib.jobs` and :mod:`ebsdlib.runs`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import cache
import pandas as pd
import streamlit as st

from ebsdlib import jobs
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.methods import method_label, run_method_label
from ebsdlib.paths import datasets_root, inside
from ebsdlib.runs import ACTIVE_STATES, open_run
from ebsdlib.simulate.randomise import PC_SIGMA_MAX, RANGE_HELP, SUGGESTED
from ebsdlib.train.config import BOUNDS, CHOICES, FIELD_HELP, IMAGE_SIZE_BOUNDS, IMAGE_SIZE_HELP, TrainConfig
from ebsdlib.views.runs import default_pair, list_datasets, run_label

MODELS = ["lcnet_050", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "test_efficientnet"]
EVAL_MODES = {False: "test split (train on train + validation)", True: "validation split (train on train)"}
#: Where the training form's widgets start: the config's own defaults.
DEFAULTS = TrainConfig()
NONE = "— none —"


def run_picker(table: pd.DataFrame) -> None:
    """ "Run" and "Compare with" pickers; pages read ``st.session_state["run_a"]`` / ``["run_b"]``."""
    if not len(table):
        st.session_state["run_a"] = st.session_state["run_b"] = None
        return
    labels = {
        r["run_id"]: run_label(r) + ("" if r["state"] == "completed" else f" [{r['state']}]")
        for _, r in table.iterrows()
    }
    ids = list(labels)
    a, b = default_pair(table)
    if st.session_state.get("run_a") not in ids:
        st.session_state["run_a"] = a or ids[0]
    if st.session_state.get("run_b") not in [NONE, *ids]:
        st.session_state["run_b"] = b or NONE
    st.selectbox("Run", ids, key="run_a", format_func=labels.get, help="The run the pages show (newest first).")
    st.selectbox(
        "Compare with",
        [NONE, *ids],
        key="run_b",
        format_func=lambda r: labels.get(r, r),
        help="A second run shown beside the first: confusion matrices, embeddings, accuracy.",
    )


def selected_runs() -> tuple[str | None, str | None]:
    """(run A, run B) chosen in the sidebar; B is ``None`` when not chosen or equal to A."""
    a = st.session_state.get("run_a")
    b = st.session_state.get("run_b")
    b = None if b in (None, NONE, a) else b
    return a, b


def training_form() -> None:
    """The form that validates a training config and launches it as a separate process."""
    base = cache.root()
    datasets = list_datasets(base)
    with st.expander("Train a new run", expanded=False, icon=":material/model_training:"):
        if not datasets:
            st.info(
                f"No data sets in `{datasets_root(base)}` yet. Make one with "
                "`python -m ebsdlib simulate` (the synthetic Ni / Ni₃Al / Ni₃Fe default) or "
                "`python -m ebsdlib import` (your own patterns)."
            )
            return
        names = {str(p): str(p.relative_to(datasets_root(base))) for p in datasets}
        table = cache.current_datasets()
        kinds = dict(zip(table["dataset"], table["kind"], strict=True))
        order = sorted(names, key=lambda p: (kinds.get(names[p]) != "labelled set", names[p]))  # training sets first
        with st.form("train_form", border=False):
            data = st.selectbox(
                "Data set",
                order,
                format_func=names.get,
                key="tf_data",
                help="Files under artifacts/datasets; labelled sets with a split first.",
            )
            loss = _choice(st.radio, "Loss", "loss", format_func=method_label, key="tf_loss", horizontal=True)
            model = st.text_input(
                "Model (timm name)",
                DEFAULTS.model,
                key="tf_model",
                max_chars=100,
                help=f"{_help('model')[:-1]}, e.g. "
                + ", ".join(MODELS)
                + " (the first is the demo's, quick on a CPU; the last is tiny, for trying things out).",
            )
            c1, c2 = st.columns(2)
            epochs = _number(c1, "Epochs", "epochs", key="tf_epochs")
            batch = _number(c2, "Batch size", "batch_size", key="tf_batch")
            lr = _number(st, "Learning rate", "lr", format="%.5f", key="tf_lr")
            stream = st.checkbox(
                "Stream fresh simulated patterns", DEFAULTS.stream, key="tf_stream", help=_help("stream")
            )
            validation = st.radio(
                "Evaluate on",
                [False, True],
                index=int(DEFAULTS.validation),
                format_func=EVAL_MODES.get,
                key="tf_validation",
                help=_help("validation"),
            )
            with st.expander("Advanced options"):
                name = st.text_input("Name (optional)", max_chars=80, key="tf_name", help=_help("name"))
                c1, c2 = st.columns(2)
                weight_decay = _number(c1, "Weight decay", "weight_decay", format="%.5f", key="tf_wd")
                schedule = _choice(c2.selectbox, "Schedule", "schedule", key="tf_schedule")
                temperature = _number(c1, "SupCon temperature", "temperature", key="tf_temp")
                image_size = _number(c2, "Image size (px)", "size", step=8, key="tf_size")
                own_size = c2.checkbox(
                    "Data set's own size",
                    True,
                    key="tf_size_own",
                    help="Use the image size the data set recommends (a simulated set: its pattern size, "
                    "128 px for the demo's); untick to use the size above.",
                )
                seed = _number(c1, "Seed", "seed", key="tf_seed")
                device = _choice(c2.selectbox, "Device", "device", key="tf_device")
                calibrator = _choice(c1.selectbox, "Calibration", "calibrator", key="tf_calibrator")
                augment = st.checkbox(
                    "Random flips (augmentation)", DEFAULTS.augment, key="tf_augment", help=_help("augment")
                )
                umap = st.checkbox("Compute UMAP of the embeddings", DEFAULTS.umap, key="tf_umap", help=_help("umap"))
                randomise = _domain_ranges()
            submitted = st.form_submit_button("Validate and start", type="primary", width="stretch")
        if submitted:
            _launch(
                base,
                dict(
                    data=data,
                    loss=loss,
                    model=model,
                    epochs=int(epochs),
                    batch_size=int(batch),
                    lr=float(lr),
                    validation=bool(validation),
                    name=name.strip(),
                    weight_decay=float(weight_decay),
                    schedule=schedule,
                    temperature=float(temperature),
                    seed=int(seed),
                    device=device,
                    calibrator=calibrator,
                    augment=bool(augment),
                    umap=bool(umap),
                    stream=bool(stream),
                    randomise=randomise,
                ),
                None if own_size else int(image_size),
            )
        if msg := st.session_state.get("tf_message"):
            (st.success if msg[0] == "ok" else st.error)(msg[1])


def _domain_ranges() -> dict:
    """Domain-randomisation inputs (streaming only), starting at the library's suggestion; ``{}``
    unless the box is ticked."""
    vary = st.checkbox("Domain randomisation (streaming only)", False, key="tf_randomise", help=_help("randomise"))
    c1, c2 = st.columns(2)
    dose = SUGGESTED.dose
    low = c1.number_input(
        "Dose from (e⁻/px)", value=dose[0], min_value=1.0, key="tf_rand_dose_lo", help=RANGE_HELP["dose"]
    )
    high = c2.number_input("Dose to (e⁻/px)", value=dose[1], min_value=1.0, key="tf_rand_dose_hi")
    pc_sigma = c1.number_input(
        "PC σ",
        0.0,
        PC_SIGMA_MAX,
        SUGGESTED.pc_sigma,
        step=0.005,
        format="%.3f",
        key="tf_rand_pc",
        help=RANGE_HELP["pc_sigma"],
    )
    tilt = c2.number_input(
        "Camera tilt ± (°)",
        value=SUGGESTED.camera_tilt[1],
        min_value=0.0,
        key="tf_rand_tilt",
        help=RANGE_HELP["camera_tilt"],
    )
    dynamical = st.slider(
        "Share of dynamical patterns",
        0.0,
        1.0,
        SUGGESTED.dynamical_fraction,
        0.05,
        key="tf_rand_dyn",
        help=RANGE_HELP["dynamical_fraction"],
    )
    if not vary:
        return {}
    return {
        "dose": [float(low), float(high)],
        "pc_sigma": float(pc_sigma),
        "camera_tilt": [-float(tilt), float(tilt)],
        "dynamical_fraction": float(dynamical),
    }


def _help(name: str) -> str:
    """The library's one-line help of a config field (``size``: the image size) as a sentence."""
    text = IMAGE_SIZE_HELP if name == "size" else FIELD_HELP[name]
    return text[:1].upper() + text[1:] + "."


def _number(where, label: str, name: str, **kwargs):
    """A number input for a config field (``size``: the image size) whose range, start value and
    help are the library's (:data:`~ebsdlib.train.config.BOUNDS`), never typed here."""
    bounds, default = (
        (IMAGE_SIZE_BOUNDS, PreprocessConfig().size) if name == "size" else (BOUNDS[name], getattr(DEFAULTS, name))
    )
    kind = int if bounds.integer else float
    return where.number_input(label, kind(bounds.minimum), kind(bounds.high), kind(default), help=_help(name), **kwargs)


def _choice(widget, label: str, name: str, **kwargs):
    """A radio or select box over a config field's choices (:data:`~ebsdlib.train.config.CHOICES`),
    starting at its default."""
    options = CHOICES[name]
    return widget(label, options, index=options.index(getattr(DEFAULTS, name)), help=_help(name), **kwargs)


def _launch(base: Path, values: dict, image_size: int | None) -> None:
    """Validate the form's values and start the run; ``image_size`` ``None``: the data set's recommendation."""
    try:
        path = inside(datasets_root(base), values["data"])  # refuse anything outside the data sets
        values["data"] = str(path)
        jobs.check_model(str(values["model"] or "").strip())
        from ebsdlib.data import load

        ds = load(path)
        try:
            recommended = dict(getattr(ds, "preprocessing", {}) or {})
        finally:
            getattr(ds, "close", lambda: None)()
        chosen = recommended if image_size is None else {**recommended, "size": image_size}
        preprocess = PreprocessConfig.from_dict(chosen)
        config = TrainConfig(**values, preprocess=preprocess)
        run_id = jobs.launch(config, base)
    except Exception as e:  # noqa: BLE001 - shown inline under the form; nothing was started
        st.session_state["tf_message"] = ("error", f"Not started: {e}")
        return
    st.session_state["tf_message"] = (
        "ok",
        f"Started run `{run_id}` (it is queued if {jobs.max_running()} runs are already training).",
    )
    st.session_state.setdefault("watched", set()).add(run_id)


@st.fragment(run_every=2.0)
def active_runs_panel() -> None:
    """Live progress of queued and running runs (every 2 s), with a cancel button each.

    Also starts queued runs when a slot is free, and reruns the whole app when a watched run
    ends so that its results appear on the page.
    """
    base = cache.root()
    try:
        jobs.poll(base)
    except Exception as e:  # noqa: BLE001 - a poll problem must not break the page
        st.caption(f"Could not check the runs: {e}")
    _demo_data_progress()
    active = jobs.active_runs(base)
    watched: set = st.session_state.setdefault("watched", set())
    ended = [r for r in watched if r not in {a.run_id for a in active}]
    st.markdown("**Active runs**")
    if not active:
        st.caption("No run is training. Start one with *Train a new run* above.")
    for run in active:
        watched.add(run.run_id)
        _progress_row(run)
    # Ended runs are announced in the panel until three newer ones replace them: a toast alone
    # is lost when the app reruns right after it (as it must, to show the new results).
    notices: list = st.session_state.setdefault("run_notices", [])
    if ended:
        for r in ended:
            watched.discard(r)
            try:
                state = open_run(r, base).read_status().state
            except (FileNotFoundError, ValueError):
                state = "gone"
            notices.append((r, state))
        del notices[:-3]
        st.rerun(scope="app")
    for r, state in reversed(notices):
        (st.success if state == "completed" else st.warning)(f"Run {r} {state}.")


def _demo_data_progress() -> None:
    """While the demo's data sets are simulated (first start of a fresh clone), say so; rerun the
    app when they are ready so that pattern galleries and phase-map pixels appear."""
    status = cache.demo_data_status()
    state = (status or {}).get("state")
    was_running = st.session_state.get("demo_data_running", False)
    st.session_state["demo_data_running"] = state == "running"
    if state == "running":
        st.markdown("**Demo data**")
        st.progress(float(status.get("progress") or 0.0), text=str(status.get("message") or "preparing"))
        st.caption("The demo runs show now; their pattern galleries appear when the data is ready.")
    elif state == "failed":
        st.caption(
            f"Demo data could not be rebuilt: {status.get('message')}. "
            "Run `python -m ebsdlib demo --data-only` in a terminal."
        )
    elif was_running and state == "completed":
        st.rerun(scope="app")


def _progress_row(run) -> None:
    try:
        status = run.read_status()
    except (FileNotFoundError, ValueError):
        return
    if status.state not in ACTIVE_STATES:
        return
    cfg = {}
    with contextlib.suppress(FileNotFoundError, ValueError):
        cfg = run.config()
    title = f"{run_method_label(cfg) or '?'} · {cfg.get('model', '?')}"
    if status.state == "queued":
        text = "queued: " + (status.message or "waiting for a free slot")
    else:
        parts = [f"epoch {min(status.epoch + 1, status.epochs or 1)}/{status.epochs or '?'}"]
        if status.train_loss is not None:
            parts.append(f"loss {status.train_loss:.3f}")
        if status.eta_seconds is not None and status.eta_seconds > 0:
            parts.append(f"ETA {_duration(status.eta_seconds)}")
        elif status.message:
            parts.append(status.message)
        text = " · ".join(parts)
    st.caption(f"{title}  \n`{run.run_id}`")
    c1, c2 = st.columns([4, 1.3], vertical_alignment="center")
    c1.progress(float(status.progress), text=text)
    if run.cancel_requested:
        c2.caption("stopping…")
    elif c2.button("Cancel", key=f"cancel_{run.run_id}", help="Stop this run after the current step"):
        jobs.cancel(run.run_id, cache.root())
        st.rerun(scope="fragment")


def _duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else (f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s")
