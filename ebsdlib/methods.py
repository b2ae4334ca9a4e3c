"""The phase-mapping methods: one registry of their keys, labels, kinds and plot colours.

Every run, benchmark row, CLI choice and dashboard label names its method by a key of
:data:`METHODS` and looks its label up here; a new method (another network loss, another
indexing technique) is one more entry. Networks (``kind="network"``) are trained with the
:class:`~ebsdlib.train.config.TrainConfig` loss they name; indexing methods learn nothing.

A run records its method in ``config.json["method"]``; :func:`method_of_run` also reads the
folders written before that key existed (see there). This module imports nothing heavy and
nothing else of ebsdlib, so any module can import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

MethodKind = Literal["network", "indexing"]


@dataclass(frozen=True)
class Method:
    """One way of telling phases apart.

    Parameters
    ----------
    key
        The name stored in run configs and benchmark rows, and typed on the command line.
    label
        Human label for tables, legends and headings.
    short_label
        Label for narrow places (plot axes, run pickers).
    kind
        ``"network"`` (a trained network with training curves and embeddings) or
        ``"indexing"`` (pattern matching, nothing learnt).
    color
        Plot colour (``#rrggbb``), distinct from the phase colours.
    loss
        For a network, the ``TrainConfig.loss`` it trains with; ``None`` for indexing.
    """

    key: str
    label: str
    short_label: str
    kind: MethodKind
    color: str
    loss: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("network", "indexing"):
            raise ValueError(f"method {self.key!r}: kind {self.kind!r} is not allowed; use 'network' or 'indexing'")
        if (self.kind == "network") != (self.loss is not None):
            raise ValueError(
                f"method {self.key!r}: a network needs the TrainConfig loss it trains with and an indexing "
                f"method has none (kind {self.kind!r}, loss {self.loss!r})"
            )

    @property
    def is_network(self) -> bool:
        """Whether runs of this method are trained networks (checkpoints, curves, embeddings)."""
        return self.kind == "network"


#: Every method, in display order (tables, legends, the best run of each method).
METHODS: tuple[Method, ...] = (
    Method("ce", "cross-entropy", "CE", "network", "#6a3d9a", loss="ce"),
    Method("supcon", "supervised contrastive (SupCon)", "SupCon", "network", "#ff7f00", loss="supcon"),
    Method(
        "contrastive",
        "contrastive (batch-hard mining, the seed's)",
        "Contrastive",
        "network",
        "#e7298a",
        loss="contrastive",
    ),
    Method("dictionary", "dictionary indexing", "DI", "indexing", "#525252"),
    Method("dictionary_refined", "refined dictionary indexing", "DI + refinement", "indexing", "#1b9e77"),
    Method(
        "dictionary_fitted",
        "dictionary indexing + pattern fit (PC and orientation)",
        "DI + fit",
        "indexing",
        "#66a61e",
    ),
    Method("hough", "Hough/Radon indexing (PyEBSDIndex)", "Hough", "indexing", "#a6761d"),
)

_BY_KEY = {m.key: m for m in METHODS}

#: Where a SupCon or contrastive encoder starts: ``"ce"`` from a cross-entropy run's trained
#: encoder (from scratch both losses stay collapsed on 128-pixel dynamical patterns: SupCon at
#: log(batch − 1), the contrastive loss at its margin), ``"scratch"`` from random weights.
CONTRASTIVE_INITS = ("ce", "scratch")


def check_contrastive_init(value: str, where: str = "contrastive_init") -> str:
    """``value`` when it is one of :data:`CONTRASTIVE_INITS`.

    Raises
    ------
    ValueError
        Naming ``where``, the value and the choices.
    """
    if value not in CONTRASTIVE_INITS:
        raise ValueError(
            f"{where} {value!r} is not one of {list(CONTRASTIVE_INITS)}: 'ce' starts the SupCon and contrastive "
            "encoders from the cross-entropy run's, 'scratch' from random weights"
        )
    return value


#: ``config.json["method"]`` of dictionary-indexing runs written before this registry.
_LEGACY_DICTIONARY_METHOD = "dictionary_indexing"


def method_keys() -> tuple[str, ...]:
    """The keys of :data:`METHODS`, in display order."""
    return tuple(_BY_KEY)


def get_method(key: str) -> Method:
    """The method with this key.

    Raises
    ------
    ValueError
        For an unknown key, naming it and the known ones.
    """
    try:
        return _BY_KEY[key]
    except (KeyError, TypeError):
        raise ValueError(f"unknown method {key!r}; known methods are {list(_BY_KEY)}") from None


def network_methods() -> tuple[Method, ...]:
    """The trained networks, in display order."""
    return tuple(m for m in METHODS if m.is_network)


def indexing_methods() -> tuple[Method, ...]:
    """The indexing methods (nothing learnt), in display order."""
    return tuple(m for m in METHODS if not m.is_network)


def method_label(key: str, short: bool = False) -> str:
    """The label of a method key, or the key itself when it is not in the registry (a file
    written by another version is shown as it was written, not refused).

    Parameters
    ----------
    key
        A method key.
    short
        The short label instead of the full one.
    """
    m = _BY_KEY.get(key) if isinstance(key, str) else None
    if m is None:
        return str(key)
    return m.short_label if short else m.label


def method_of_network(loss: str) -> Method:
    """The network method that trains with ``TrainConfig.loss == loss``.

    Raises
    ------
    ValueError
        When no network of the registry trains with that loss.
    """
    for m in network_methods():
        if m.loss == loss:
            return m
    raise ValueError(f"unknown loss {loss!r}; the networks train with {[m.loss for m in network_methods()]}")


def method_of_run(config: Mapping) -> Method:
    """The method of a run from its ``config.json``.

    Parameters
    ----------
    config
        The run's ``config.json`` as a dictionary.

    Returns
    -------
    Method
        ``config["method"]`` when it is a key of the registry. Folders written before runs
        recorded their method are mapped: ``method: "dictionary_indexing"`` or
        ``loss: "dictionary"`` → ``"dictionary"`` (``"dictionary_refined"`` when
        ``config["dictionary"]["refine"]`` is true); no ``method`` → the network that trains
        with ``config["loss"]``.

    Raises
    ------
    ValueError
        For an unknown method or loss, a network method that contradicts the loss, or a
        config with neither; the message names the value and the known ones.
    """
    method, loss = config.get("method"), config.get("loss")
    if method == _LEGACY_DICTIONARY_METHOD or (method is None and loss == "dictionary"):
        options = config.get("dictionary")
        refined = isinstance(options, Mapping) and options.get("refine") is True
        return _BY_KEY["dictionary_refined" if refined else "dictionary"]
    if method is not None:
        if not isinstance(method, str) or method not in _BY_KEY:
            raise ValueError(f"config.json: unknown method {method!r}; known methods are {list(_BY_KEY)}")
        found = _BY_KEY[method]
        if found.is_network and loss is not None and loss != found.loss:
            raise ValueError(
                f"config.json: method {method!r} trains with loss {found.loss!r}, but the config says loss "
                f"{loss!r}; make them agree (a network run's method is its loss)"
            )
        return found
    if loss is None:
        raise ValueError(f"config.json has neither 'method' nor 'loss'; write one of the methods {list(_BY_KEY)}")
    try:
        return method_of_network(loss)
    except ValueError as e:
        raise ValueError(f"config.json: {e}") from None


def run_method_label(config: Mapping, short: bool = False) -> str:
    """The label of a run's method for headings and legends, never an error: the label of
    :func:`method_of_run`, else what the config names as written (``"method"`` or ``"loss"``),
    else ``""``.

    Parameters
    ----------
    config
        The run's ``config.json`` as a dictionary.
    short
        The short label instead of the full one.
    """
    try:
        return method_label(method_of_run(config).key, short=short)
    except ValueError:
        return str(config.get("method") or config.get("loss") or "")


def is_network_run(config: Mapping) -> bool:
    """Whether a run's ``config.json`` describes a trained network (embeddings, curves); never an error."""
    try:
        return method_of_run(config).is_network
    except ValueError:
        return False


def is_indexing_run(config: Mapping) -> bool:
    """Whether a run's ``config.json`` describes an indexing method (it maps scans itself, with no
    checkpoint); never an error: a config naming no known method is not one."""
    try:
        return not method_of_run(config).is_network
    except ValueError:
        return False
