"""The dictionary-learner interface, and save / load as safetensors + a JSON config (never pickle).

A learner maps activations ``A (N, H)`` to concept codes ``Z = encode(A) (N, C)`` and back,
``decode(Z) = Z D (+ offset)``, where ``dictionary = D (C, H)`` holds one direction per concept.

This module imports torch only inside functions: plugin modules subclass these classes at load
time, and listing methods must stay fast.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .._errors import InputError

if TYPE_CHECKING:
    import torch

__all__ = ["DictionaryLearner", "make_learner", "load_learner", "as_matrix"]

FORMAT_VERSION = 1


def as_matrix(x: Any) -> torch.Tensor:
    """A float32 ``(N, H)`` CPU tensor from an ``Activations``, a tensor or an array."""
    import numpy as np
    import torch

    values = x if isinstance(x, torch.Tensor | np.ndarray) else getattr(x, "values", x)
    if isinstance(values, np.ndarray):
        values = torch.from_numpy(values)
    if not isinstance(values, torch.Tensor):
        raise InputError(f"activations must be an Activations, a tensor or an array, got {type(x).__name__}")
    if values.ndim != 2:
        raise InputError(f"activations must be a 2-D (rows, hidden) matrix, got shape {tuple(values.shape)}")
    if values.shape[0] == 0:
        raise InputError("activations have no rows")
    values = values.detach().float().cpu()
    if not torch.isfinite(values).all():
        raise InputError("activations contain NaN or infinite values")
    return values


def check_device(device: Any) -> torch.device:
    """``torch.device(device)`` (CPU when None), with a clear error for a bad or unavailable one."""
    import torch

    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"device={device!r} is not a torch device (use 'cpu', 'cuda' or 'cuda:0'): {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device={device!r} was asked but CUDA is not available here: use device='cpu'")
    return dev


class DictionaryLearner:
    """Base class of every dictionary learner (concept discovery method).

    A learner maps activations ``A (N, H)`` to codes ``Z = encode(A) (N, C)`` and back,
    ``decode(Z) (N, H)``; ``dictionary (C, H)`` holds one direction per concept.

    What a subclass provides
    ------------------------
    ``name``
        Class attribute: the name it is registered under. :meth:`save` writes it into
        ``config.json`` and :func:`load_learner` looks it up in the registry to rebuild the
        learner, so it must equal the registered name.
    ``__init__(self, *, n_concepts=20, seed=0, ...)``
        Keyword-only parameters, each stored as an attribute of the same name (:meth:`params`
        reads them back for the JSON config and :meth:`clone`); call ``super().__init__``.
    ``_fit(self, a, *, progress) -> None``
        Learn from ``a``, a float32 CPU ``(N, H)`` tensor already checked by :meth:`fit`
        (finite, 2-D, non-empty); ``progress`` is True / False / None (show a bar if useful).
        Set the tensors that :meth:`state` returns. :meth:`fit` has seeded torch, recorded
        ``hidden_size`` and times the call; ``self._fit_device`` is the asked device.
    ``encode(self, x) -> (N, C)``, ``decode(self, z) -> (N, H)``, ``dictionary -> (C, H)``
        Call ``self._input(x)`` first in ``encode`` (checks the learner is fitted and ``x`` is
        ``(N, hidden_size)``, moves it to the learner's device) and ``self._assert_fitted()`` in
        ``decode`` / ``dictionary``.
    ``state(self) -> dict[str, Tensor]``
        The fitted tensors, saved to ``weights.safetensors``.
    ``load_state(self, tensors, extra) -> None``
        Restore them: ``tensors`` as :meth:`state` returned them (on the CPU), ``extra`` the
        dict :meth:`extra_config` returned.
    ``extra_config(self) -> dict``
        Optional: JSON-able values that are not tensors (default ``{}``).
    ``modelled(self, x) -> (N, H)`` and ``modelled_as``
        Optional: the transform of the activations the learner reconstructs, when it is not the
        activations themselves (default: identity, ``"{x}"``); concept metrics score against it.

    The families :class:`~interpreto_core.plugin.AffineLearner`,
    :class:`~interpreto_core.plugin.NonNegativeLearner` and :class:`~interpreto_core.plugin.SAELearner`
    implement everything but ``_fit`` (or the SAE's ``_build``). Learners written before these
    names were public define ``_state``, ``_load_state`` and ``_extra_config`` instead: they keep
    working (the base class finds and calls them).

    Attributes
    ----------
    n_concepts:
        Number of concepts ``C`` (a learner may set it in ``_fit``: ``neurons`` makes it ``H``).
    seed:
        Random seed of the fit (different seeds give the fits compared by ``concept_stability``).
    fitted:
        False until :meth:`fit` (or :func:`load_learner`) succeeds; ``encode`` / ``decode`` /
        ``dictionary`` / :meth:`save` raise ``InputError`` before.
    hidden_size:
        ``H``, the width of the activations it was fitted on (None before the fit).
    fit_seconds:
        Wall time of the fit (None before).
    training_log:
        JSON-able ``{name: [one value per epoch]}`` (SAEs: loss, mse, l0, dead_ratio); ``{}`` otherwise.
    hygiene:
        The activation hygiene of the ``Activations`` it was fitted on (a ``HygieneRule``: outlier
        rule, excluded positions, standardisation statistics), re-applied by ``concept_importance``
        and ``ConceptModel``; None when fitted on a bare tensor or loaded from an older file.
    fit_rows:
        Number of rows it was fitted on (None before, or loaded from an older file).
    metrics, view:
        Optional, shown by the notebook card (:meth:`html_card`; not saved): ``{name: value}`` (e.g.
        ``concept_metrics(learner, acts)``) and a ``ConceptView`` (``concept_view(learner, acts)``).

    Saved format (:meth:`save`, read by :func:`load_learner`)
    --------------------------------------------------------
    A folder with ``weights.safetensors`` (:meth:`state`; never pickle) and ``config.json``::

        {"format": 1, "learner": <name>, "params": <params()>, "hidden_size": H,
         "fit_seconds": ..., "training_log": {...}, "extra": <extra_config()>,
         "hygiene": <HygieneRule.to_config()> or null, "fit_rows": N}

    ``hygiene`` (and the tensors ``_hygiene.mean`` / ``_hygiene.std`` when the rows were
    standardised): the activation hygiene of the ``Activations`` it was fitted on (``learner.hygiene``,
    a ``HygieneRule``), which ``concept_importance`` and ``ConceptModel`` re-apply. Files saved before
    it was recorded load with ``hygiene = None`` (raw hidden states).
    """

    name: ClassVar[str] = ""
    #: shapes the saved tensors must have, checked by ``load_learner`` (axes "H": hidden size,
    #: "C": concepts = rows of ``components``), e.g. ``{"components": ("C", "H")}``
    state_shapes: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, *, n_concepts: int = 20, seed: int = 0) -> None:
        if not isinstance(n_concepts, int) or isinstance(n_concepts, bool) or n_concepts < 1:
            raise InputError(f"n_concepts must be a positive integer, got {n_concepts!r}")
        self.n_concepts = n_concepts
        self.seed = seed
        self.fitted = False
        self.fit_seconds: float | None = None
        self.training_log: dict[str, list[float]] = {}
        self.hidden_size: int | None = None
        self.hygiene: Any = None
        self.fit_rows: int | None = None
        self.metrics: dict[str, float] | None = None  # shown by the notebook card (not saved)
        self.view: Any = None  # a ConceptView the notebook card folds in (not saved)

    # -- public API -------------------------------------------------------------------------------
    def fit(self, activations: Any, *, progress: bool | None = None,
            device: str | torch.device | None = None) -> DictionaryLearner:
        """Learn the dictionary from ``activations`` (an ``Activations``, tensor or array ``(N, H)``);
        returns the learner itself (fitted).

        ``progress``: show a progress bar (True / False; None: when useful and stderr is a TTY).
        ``device`` (e.g. ``"cuda"``): sparse autoencoders train there (the activations are copied
        to it once); the other learners fit on the CPU (scikit-learn, numpy) and are then moved
        there. Either way the fitted learner lives on ``device`` (``learner.to(...)`` moves it).
        The default is the CPU.
        """
        import torch

        self._fit_device = check_device(device)
        a = as_matrix(activations)
        self._check_fit_input(a)
        self.hidden_size = int(a.shape[1])
        torch.manual_seed(self.seed)
        start = time.perf_counter()
        self._fit(a, progress=progress)
        if self._fit_device.type != "cpu":
            self.to(self._fit_device)  # a no-op for SAEs, trained there (their last epoch's totals sync the device)
        self.fit_seconds = time.perf_counter() - start
        self.hygiene = _hygiene_of(activations)
        self.fit_rows = int(a.shape[0])
        self.fitted = True
        return self

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def dictionary(self) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def reconstruct(self, x: Any) -> torch.Tensor:
        """``decode(encode(x))``."""
        return self.decode(self.encode(as_matrix(x)))

    #: what :meth:`modelled` returns, in words, with ``{x}`` for the activations (``"ReLU({x})"``)
    modelled_as: ClassVar[str] = "{x}"

    def modelled(self, x: Any) -> torch.Tensor:
        """The transform of the activations ``x`` that ``decode(encode(x))`` reconstructs (identity by
        default). A learner that models a transform (NMF with ``signed="relu"`` models ``max(x, 0)``)
        overrides it and :attr:`modelled_as`: reconstruction metrics score ``decode(encode(x))``
        against ``modelled(x)`` and say so (:meth:`modelled_description`)."""
        return as_matrix(x)

    def modelled_description(self, activations: str = "activations") -> str:
        """What the reconstruction is compared with, in words, e.g. ``"ReLU(activations)"``."""
        return self.modelled_as.format(x=activations)

    def params(self) -> dict[str, Any]:
        """The constructor parameters (the JSON config)."""
        sig = inspect.signature(type(self).__init__)
        return {p.name: getattr(self, p.name) for p in sig.parameters.values() if p.kind == p.KEYWORD_ONLY}

    def to(self, device: Any) -> DictionaryLearner:
        """Move the fitted tensors (and torch modules) to ``device``; returns the learner."""
        import torch

        for key, value in list(vars(self).items()):
            if isinstance(value, torch.Tensor | torch.nn.Module):
                setattr(self, key, value.to(device))
        return self

    @property
    def device(self) -> Any:
        import torch

        for value in vars(self).values():
            if isinstance(value, torch.Tensor):
                return value.device
        return torch.device("cpu")

    def clone(self, **changes: Any) -> DictionaryLearner:
        """An unfitted learner with the same parameters, some changed (e.g. ``seed=1``)."""
        return type(self)(**{**self.params(), **changes})

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``weights.safetensors`` into the folder ``path``."""
        from safetensors.torch import save_file

        self._assert_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self._contract("state")().items()}
        hygiene = getattr(self, "hygiene", None)
        if hygiene is not None:
            clash = sorted(k for k in tensors if k.startswith(HYGIENE_PREFIX))
            if clash:
                raise InputError(f"{type(self).__name__}.state() names tensors {clash}: the prefix "
                                 f"{HYGIENE_PREFIX!r} is reserved for the activation hygiene")
            tensors |= {HYGIENE_PREFIX + k: v for k, v in hygiene.tensors().items()}
        save_file(tensors, str(folder / "weights.safetensors"))
        config = {
            "format": FORMAT_VERSION,
            "learner": self.name,
            "params": self.params(),
            "hidden_size": self.hidden_size,
            "fit_seconds": self.fit_seconds,
            "training_log": self.training_log,
            "extra": self._contract("extra_config")(),
            "hygiene": None if hygiene is None else hygiene.to_config(),
            "fit_rows": getattr(self, "fit_rows", None),
        }
        (folder / "config.json").write_text(json.dumps(config, indent=1))
        return folder

    # -- for subclasses ---------------------------------------------------------------------------
    def _fit(self, a: torch.Tensor, *, progress: bool | None) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def state(self) -> dict[str, torch.Tensor]:
        """The fitted tensors that :meth:`save` writes (``{name: tensor}``)."""
        legacy = _below_base(self, "_state")
        if legacy is None:
            raise NotImplementedError(f"{type(self).__name__} must implement state() -> dict[str, Tensor]")
        return legacy()

    def load_state(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        """Restore what :meth:`state` and :meth:`extra_config` returned (called by :func:`load_learner`)."""
        legacy = _below_base(self, "_load_state")
        if legacy is None:
            raise NotImplementedError(f"{type(self).__name__} must implement load_state(tensors, extra)")
        legacy(tensors, extra)

    def extra_config(self) -> dict[str, Any]:
        """JSON-able values besides the tensors, saved as ``config.json``'s ``extra`` (default: none)."""
        legacy = _below_base(self, "_extra_config")
        return legacy() if legacy is not None else {}

    # The names before the contract was public: callers of the old names still get an answer.
    def _state(self) -> dict[str, torch.Tensor]:
        public = _below_base(self, "state")
        if public is None:
            raise NotImplementedError(f"{type(self).__name__} must implement state() -> dict[str, Tensor]")
        return public()

    def _load_state(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        public = _below_base(self, "load_state")
        if public is None:
            raise NotImplementedError(f"{type(self).__name__} must implement load_state(tensors, extra)")
        public(tensors, extra)

    def _extra_config(self) -> dict[str, Any]:
        public = _below_base(self, "extra_config")
        return public() if public is not None else {}

    def _contract(self, public: str) -> Any:
        """The most derived definition of ``public`` or of its former private name, bound to self
        (a subclass of a family that overrides ``_state`` still wins over the family's ``state``)."""
        legacy = _LEGACY_NAMES[public]
        for klass in type(self).__mro__:
            if klass is DictionaryLearner:
                break
            if public in vars(klass):
                return getattr(self, public)
            if legacy in vars(klass):
                return getattr(self, legacy)
        return getattr(self, public)

    def _check_fit_input(self, a: torch.Tensor) -> None:
        pass

    def _assert_fitted(self) -> None:
        if not self.fitted:
            raise InputError(
                f"the {self.name or type(self).__name__} learner is not fitted: call fit(activations) first"
            )

    def _input(self, x: Any) -> torch.Tensor:
        """Check an encode input: fitted learner, ``(N, H)`` with the fitted ``H``."""
        import torch

        self._assert_fitted()
        if not isinstance(x, torch.Tensor):
            x = as_matrix(x)
        if x.ndim != 2 or x.shape[1] != self.hidden_size:
            raise InputError(
                f"expected activations of shape (N, {self.hidden_size}), got {tuple(x.shape)}"
            )
        x = x.float() if x.dtype != torch.float32 else x
        device = self.device
        return x if x.device == device else x.to(device)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        if not self.fitted:
            return f"{type(self).__name__}({params}; not fitted)"
        where = ""
        hygiene = getattr(self, "hygiene", None)
        if hygiene is not None:
            at = f" at {hygiene.split_point}" if hygiene.split_point else ""
            where = f"; fitted{at} ({hygiene.granularity or 'unknown'} rows; {hygiene.summary()})"
        return (f"{type(self).__name__}({params}; {self._n_concepts_fitted()} concepts x {self.hidden_size}"
                f"{where or '; fitted'})")

    def _n_concepts_fitted(self) -> int:
        try:
            return int(self.dictionary.shape[0])
        except Exception:  # noqa: BLE001 - a broken third-party learner still gets a repr
            return int(self.n_concepts)

    def _repr_html_(self) -> str:
        """The notebook view: :meth:`html_card` with the learner's ``metrics`` / ``view`` attributes."""
        return self.html_card()

    def html_card(self, *, metrics: Any = None, view: Any = None, interpretations: Any = None) -> str:
        """A compact, escaped HTML card (no script): name, concepts, fitted on N rows x H (split point,
        granularity, activation hygiene), parameters, ``metrics`` (default ``self.metrics``; an SAE's
        last epoch), concept labels from ``interpretations`` and, folded, a ``ConceptView``
        (``view``, default ``self.view``). An unfitted learner gets a short card saying so."""
        from ._card import learner_card

        return learner_card(self, metrics=metrics, view=view, interpretations=interpretations)


def _below_base(obj: Any, attr: str) -> Any:
    """``obj.attr`` bound, if a class between ``type(obj)`` and DictionaryLearner defines it; else None."""
    for klass in type(obj).__mro__:
        if klass is DictionaryLearner:
            return None
        if attr in vars(klass):
            return vars(klass)[attr].__get__(obj, type(obj))
    return None


#: safetensors keys of the hygiene statistics in ``weights.safetensors`` (``_hygiene.mean`` / ``_hygiene.std``)
HYGIENE_PREFIX = "_hygiene."


def _hygiene_of(activations: Any) -> Any:
    """The :class:`~interpreto_core.concepts._hygiene.HygieneRule` of what a learner is fitted on
    (None for a bare tensor / array, or activations that record none)."""
    if getattr(activations, "hygiene", None) is None:
        return None
    from ._hygiene import HygieneRule

    return HygieneRule.of(activations)


#: the save / load contract's public names and the private ones they had before
_LEGACY_NAMES = {"state": "_state", "load_state": "_load_state", "extra_config": "_extra_config"}


def make_learner(name: str, *, registry: Any = None, **params: Any) -> DictionaryLearner:
    """A registered dictionary learner by name (``interpreto methods --kind dictionary_learner``);
    ``registry``: where to look it up (default: the process-wide registry)."""
    from .._parts import build_part
    from .._registry import get_registry

    rec = (registry or get_registry()).get("dictionary_learner", name)
    return build_part(rec.obj, params, kind="dictionary_learner", name=rec.name)


def _one_line(exc: BaseException, limit: int = 240) -> str:
    """An exception's message on one line, cut at ``limit`` characters."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _artifact(folder: Path, name: str) -> Path:
    """``folder/name``, refused if it leads outside ``folder`` (a symlink) or is not a file."""
    path = folder / name
    if not path.resolve().is_relative_to(folder.resolve()):
        raise InputError(f"{path} leads outside the learner's folder {folder}: refused")
    if not path.is_file():
        raise InputError(f"{folder} holds no saved learner ({name} is missing)")
    return path


def _read_config(cfg_path: Path) -> dict[str, Any]:
    """``config.json`` read and its keys checked (types, required keys); InputError naming the file."""
    try:
        config = json.loads(cfg_path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(f"{cfg_path} is unreadable ({type(exc).__name__}: {_one_line(exc)})") from None
    if not isinstance(config, dict):
        raise InputError(f"{cfg_path} holds a {type(config).__name__}, not an object")
    if config.get("format") != FORMAT_VERSION:
        raise InputError(f"{cfg_path}: unsupported format {config.get('format')!r} (expected {FORMAT_VERSION})")
    required = {"learner": str, "params": dict, "hidden_size": int}
    for key, kind in required.items():
        if key not in config:
            raise InputError(f"{cfg_path} lacks {key!r}")
        if not isinstance(config[key], kind) or isinstance(config[key], bool):
            raise InputError(f"{cfg_path}: {key!r} is {type(config[key]).__name__}, expected {kind.__name__}")
    if config["hidden_size"] < 1:
        raise InputError(f"{cfg_path}: hidden_size must be a positive integer, got {config['hidden_size']!r}")
    optional = {"fit_seconds": (int, float), "training_log": (dict,), "extra": (dict,), "hygiene": (dict,),
                "fit_rows": (int,)}
    for key, kinds in optional.items():
        value = config.get(key)
        if value is not None and (not isinstance(value, kinds) or isinstance(value, bool)):
            raise InputError(f"{cfg_path}: {key!r} is {type(value).__name__}, expected {kinds[0].__name__} or null")
    return config


#: the shapes the built-in families' tensors must have (H: hidden size, C: concepts)
FAMILY_SHAPES: dict[str, tuple[str, ...]] = {"mean": ("H",), "offset": ("H",), "components": ("C", "H"),
                                             "encoder": ("H", "C")}


def _check_loaded(learner: DictionaryLearner, tensors: dict[str, torch.Tensor], hidden: int,
                  where: str) -> None:
    """A loaded learner's tensors agree with ``hidden`` and each other: a probe row encodes to
    ``(1, C)`` and decodes to ``(1, H)``, finite."""
    import torch

    shapes = type(learner).state_shapes
    if shapes:
        dims: dict[str, int] = {"H": hidden}
        comp = tensors.get("components")
        if comp is not None and comp.ndim == 2:
            dims["C"] = int(comp.shape[0])
        for key, axes in shapes.items():
            t = tensors.get(key)
            if t is None:
                continue
            want = tuple(dims.get(a, -1) for a in axes)
            if tuple(t.shape) != want and not (-1 in want and t.ndim == len(want)):
                raise InputError(f"{where}: tensor {key!r} has shape {tuple(t.shape)}, expected "
                                 f"{tuple(str(dims.get(a, a)) for a in axes)} for hidden_size {hidden}")
    try:
        d = learner.dictionary
        # non-negative: every learner encodes it (NMF refuses negative activations)
        probe = torch.rand(1, hidden, generator=torch.Generator().manual_seed(0))
        z = learner.encode(probe)
        back = learner.decode(z)
    except InputError as exc:
        raise InputError(f"{where}: the weights do not fit the learner: {_one_line(exc)}") from None
    except (RuntimeError, ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise InputError(f"{where}: the weights do not fit the learner or hidden_size {hidden} "
                         f"({type(exc).__name__}: {_one_line(exc)})") from None
    c = int(d.shape[0]) if d.ndim == 2 else -1
    if d.ndim != 2 or d.shape[1] != hidden:
        raise InputError(f"{where}: the dictionary has shape {tuple(d.shape)}, expected (C, {hidden}) for "
                         f"hidden_size {hidden}")
    if tuple(z.shape) != (1, c) or tuple(back.shape) != (1, hidden):
        raise InputError(f"{where}: the weights give codes of shape {tuple(z.shape)} and reconstructions of "
                         f"shape {tuple(back.shape)}, expected (1, {c}) and (1, {hidden})")
    if not (torch.isfinite(z).all() and torch.isfinite(back).all()):
        raise InputError(f"{where}: the weights give non-finite codes or reconstructions")


def load_learner(path: str | os.PathLike, *, registry: Any = None) -> DictionaryLearner:
    """Load a learner saved by :meth:`DictionaryLearner.save`: the class is the one registered
    under ``config.json``'s ``learner`` name in ``registry`` (default: the process-wide one).

    Both files are checked, and an ``InputError`` names the file and what is wrong: ``config.json``
    (readable JSON, required keys and their types, a registered learner name, params the learner
    accepts), ``weights.safetensors`` (readable, only finite values, shapes that fit the learner
    and ``hidden_size``: a probe row must encode and decode). Neither may be a symlink out of the
    folder.
    """
    from safetensors.torch import load_file

    from .._errors import InterpretoError

    folder = Path(path)
    cfg_path = _artifact(folder, "config.json")
    config = _read_config(cfg_path)
    w_path = _artifact(folder, "weights.safetensors")
    try:
        learner = make_learner(config["learner"], registry=registry, **config["params"])
    except InterpretoError as exc:
        raise InputError(f"{cfg_path}: cannot rebuild the {config['learner']!r} learner: {_one_line(exc)}") from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"{cfg_path}: the {config['learner']!r} learner refuses its params: {_one_line(exc)}"
                         ) from None
    hidden = config["hidden_size"]
    learner.hidden_size = hidden
    learner.fit_seconds = config.get("fit_seconds")
    learner.training_log = config.get("training_log") or {}
    learner.fit_rows = config.get("fit_rows")
    try:
        tensors = load_file(str(w_path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise InputError(f"{w_path} is not a readable safetensors file: {_one_line(exc)}") from None
    for key, t in tensors.items():
        if t.is_floating_point() and not bool(t.isfinite().all()):
            raise InputError(f"{w_path}: tensor {key!r} holds NaN or infinite values")
    where = f"{w_path} (with {cfg_path.name})"
    stats = {k[len(HYGIENE_PREFIX):]: tensors.pop(k) for k in [k for k in tensors if k.startswith(HYGIENE_PREFIX)]}
    if config.get("hygiene") is not None:  # saved before hygiene was recorded: none (raw hidden states)
        from ._hygiene import HygieneRule

        learner.hygiene = HygieneRule.from_config(config["hygiene"], stats, hidden=hidden, where=where)
    elif stats:
        raise InputError(f"{where}: the weights hold hygiene statistics {sorted(stats)} but config.json "
                         "has no 'hygiene'")
    try:
        learner._contract("load_state")(dict(tensors), config.get("extra") or {})
    except InputError as exc:
        raise InputError(f"{where}: {_one_line(exc)}") from None
    except (RuntimeError, ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise InputError(f"{where}: the {config['learner']!r} learner cannot restore these weights "
                         f"({type(exc).__name__}: {_one_line(exc)})") from None
    learner.fitted = True
    try:
        _check_loaded(learner, tensors, hidden, where)
    except BaseException:
        learner.fitted = False
        raise
    return learner
