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

    Subclasses set ``name`` (their registry name) and implement ``_fit(A)``, ``encode``,
    ``decode``, ``dictionary``, ``_state()`` (the tensors to save) and ``_load_state(tensors)``.
    Their ``__init__`` takes keyword parameters only, stored as attributes of the same name:
    the JSON config is rebuilt from them.

    Parameters common to all learners
    ---------------------------------
    n_concepts:
        Number of concepts ``C``.
    seed:
        Random seed of the fit (different seeds give the fits compared by ``concept_stability``).
    """

    name: ClassVar[str] = ""

    def __init__(self, *, n_concepts: int = 20, seed: int = 0) -> None:
        if not isinstance(n_concepts, int) or isinstance(n_concepts, bool) or n_concepts < 1:
            raise InputError(f"n_concepts must be a positive integer, got {n_concepts!r}")
        self.n_concepts = n_concepts
        self.seed = seed
        self.fitted = False
        self.fit_seconds: float | None = None
        self.training_log: dict[str, list[float]] = {}
        self.hidden_size: int | None = None

    # -- public API -------------------------------------------------------------------------------
    def fit(self, activations: Any, *, progress: bool | None = None,
            device: str | torch.device | None = None) -> DictionaryLearner:
        """Learn the dictionary from ``activations`` (an ``Activations``, tensor or array ``(N, H)``).

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
        tensors = {k: v.detach().cpu().contiguous() for k, v in self._state().items()}
        save_file(tensors, str(folder / "weights.safetensors"))
        config = {
            "format": FORMAT_VERSION,
            "learner": self.name,
            "params": self.params(),
            "hidden_size": self.hidden_size,
            "fit_seconds": self.fit_seconds,
            "training_log": self.training_log,
            "extra": self._extra_config(),
        }
        (folder / "config.json").write_text(json.dumps(config, indent=1))
        return folder

    # -- for subclasses ---------------------------------------------------------------------------
    def _fit(self, a: torch.Tensor, *, progress: bool | None) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _state(self) -> dict[str, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _load_state(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    def _extra_config(self) -> dict[str, Any]:
        return {}

    def _check_fit_input(self, a: torch.Tensor) -> None:
        pass

    def _assert_fitted(self) -> None:
        if not self.fitted:
            raise InputError(f"the {self.name or type(self).__name__} learner is not fitted: call fit(activations) first")

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
        return f"{type(self).__name__}({params}{', fitted' if self.fitted else ''})"


def make_learner(name: str, **params: Any) -> DictionaryLearner:
    """A registered dictionary learner by name (``interpreto methods --kind dictionary_learner``)."""
    from .._parts import build_part
    from .._registry import get_registry

    rec = get_registry().get("dictionary_learner", name)
    return build_part(rec.obj, params, kind="dictionary_learner", name=rec.name)


def load_learner(path: str | os.PathLike) -> DictionaryLearner:
    """Load a learner saved by :meth:`DictionaryLearner.save` (looked up by name in the registry)."""
    from safetensors.torch import load_file

    folder = Path(path)
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise InputError(f"{folder} holds no saved learner (config.json is missing)")
    config = json.loads(cfg_path.read_text())
    if config.get("format") != FORMAT_VERSION:
        raise InputError(f"{cfg_path}: unsupported format {config.get('format')!r} (expected {FORMAT_VERSION})")
    learner = make_learner(config["learner"], **config["params"])
    learner.hidden_size = config["hidden_size"]
    learner.fit_seconds = config.get("fit_seconds")
    learner.training_log = config.get("training_log") or {}
    learner._load_state(load_file(str(folder / "weights.safetensors")), config.get("extra") or {})
    learner.fitted = True
    return learner
