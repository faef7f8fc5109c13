"""Concept metrics: the base class, shared code-computation, and ``concept_metrics`` (run several).

A concept metric's ``compute`` takes the activations ``X (N, H)`` and either a fitted learner
(codes ``Z = encode(X)`` and reconstructions ``X_hat = decode(Z)`` are then computed in batches)
or the ``codes`` / ``reconstruction`` matrices themselves (for hand-made checks). It returns a
float. torch is imported lazily (plugins subclass this at load time).

A learner that models a transform of the activations (NMF with ``signed="relu"`` reconstructs
``max(X, 0)``) is scored against that transform, ``learner.modelled(X)``: scoring it against ``X``
reads as a broken model (the demo's NMF showed R^2 = -0.09). :func:`concept_metrics` says what the
scores were computed against (``ConceptScores.against``, e.g. ``"ReLU(activations)"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from .._errors import InputError

__all__ = ["ConceptMetric", "ConceptScores", "concept_metrics", "codes_and_reconstruction", "scored_against"]


def scored_against(learner: Any, activations: Any = None) -> str:
    """What reconstruction metrics compare ``learner``'s reconstruction with, in words:
    ``"activations"``, ``"ReLU(activations)"``, ``"standardised activations"`` ..."""
    hygiene = getattr(activations, "hygiene", None)
    base = "standardised activations" if getattr(hygiene, "standardized", False) else "activations"
    describe = getattr(learner, "modelled_description", None)
    return describe(base) if callable(describe) else base


def _modelled(learner: Any, x: Any) -> Any:
    """``learner.modelled(x)`` (float32 CPU), or ``x`` for a learner without the method."""
    import torch

    fn = getattr(learner, "modelled", None)
    if fn is None:
        return x
    with torch.no_grad():
        return fn(x).detach().float().cpu()


def codes_and_reconstruction(learner: Any, x: Any, *, batch_size: int = 4096) -> tuple[Any, Any]:
    """``(Z, X_hat)`` for ``x`` under ``learner``, in batches, without gradients."""
    import torch

    from ._learner import as_matrix

    x = as_matrix(x)
    codes, recon = [], []
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            z = learner.encode(x[start : start + batch_size])
            codes.append(z.detach().float().cpu())
            recon.append(learner.decode(z).detach().float().cpu())
    return torch.cat(codes), torch.cat(recon)


class ConceptMetric:
    """Base class of concept metrics: :meth:`compute` resolves ``X``, ``Z`` and ``X_hat`` from what
    it is given, then calls ``_score``.

    A subclass sets three class attributes and implements one method:

    name:
        Its registered name (used in error messages).
    higher_is_better:
        True or False: the direction in which the metric improves (reports and the
        conformance check read it).
    needs:
        What ``_score`` reads, a subset of ``{"x", "codes", "reconstruction", "dictionaries"}``
        (default ``{"x", "reconstruction"}``). ``compute`` computes ``codes`` / ``reconstruction``
        from ``learner`` when they are needed and not given, and raises ``InputError`` if it
        cannot; ``"dictionaries"`` documents that ``learner`` (and ``other``) are read.
    ``_score(self, *, x, codes, reconstruction, learner, other) -> float``:
        Always called with these five keywords (accept ``**_`` for the unused ones): ``x`` the
        activations ``(N, H)`` -- as the learner models them, ``learner.modelled(X)``, unless
        ``needs`` holds ``"dictionaries"`` (those metrics refit on the raw activations) --,
        ``codes`` ``(N, C)`` and ``reconstruction`` ``(N, H)``, float64
        CPU tensors or None when not available; ``learner`` / ``other`` as given to ``compute``.
        Returns a number (a float or a 0-d tensor); ``compute`` returns it as a ``float``.
        Raise ``InputError`` when the metric is undefined for the data.

    Constructor parameters (keyword-only) are the metric's options (``threshold=`` ...).
    """

    name: ClassVar[str] = ""
    higher_is_better: ClassVar[bool | None] = None
    needs: ClassVar[frozenset[str]] = frozenset({"x", "reconstruction"})

    def compute(
        self,
        activations: Any = None,
        *,
        learner: Any = None,
        codes: Any = None,
        reconstruction: Any = None,
        other: Any = None,
    ) -> float:
        """Score a concept model on ``activations`` ``(N, H)`` (an ``Activations``, tensor or array).

        Give a fitted ``learner`` (codes and reconstructions are computed in batches), or the
        ``codes (N, C)`` / ``reconstruction (N, H)`` matrices; ``other``: a second fit of the
        same learner (stability). Returns a float; the formula is in the subclass's docstring.
        """
        import torch

        from ._learner import as_matrix

        x = as_matrix(activations) if activations is not None else None
        raw = x
        if x is not None and learner is not None and "x" in self.needs and "dictionaries" not in self.needs:
            x = _modelled(learner, x)
        if ("codes" in self.needs and codes is None) or ("reconstruction" in self.needs and reconstruction is None):
            if learner is None or x is None:
                raise InputError(
                    f"{self.name} needs activations and a fitted learner, or the "
                    f"{' and '.join(sorted(self.needs - {'x', 'dictionaries'}))} matrices"
                )
            z, x_hat = codes_and_reconstruction(learner, raw)
            codes = z if codes is None else codes
            reconstruction = x_hat if reconstruction is None else reconstruction
        if "x" in self.needs and x is None:
            raise InputError(f"{self.name} needs the activations")
        codes = torch.as_tensor(codes, dtype=torch.float64) if codes is not None else None
        reconstruction = torch.as_tensor(reconstruction, dtype=torch.float64) if reconstruction is not None else None
        if x is not None and reconstruction is not None and reconstruction.shape != x.shape:
            raise InputError(f"reconstruction has shape {tuple(reconstruction.shape)}, activations {tuple(x.shape)}")
        return float(self._score(x=x.double() if x is not None else None, codes=codes,
                                 reconstruction=reconstruction, learner=learner, other=other))

    def _score(self, **kw: Any) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ConceptScores(dict[str, float]):
    """``{metric name: score}`` (a dict), plus what the reconstruction metrics compared with.

    ``against``: e.g. ``"activations"`` or ``"ReLU(activations)"``; ``labels``: ``{name: label}``,
    the label naming the transform for metrics scored against one (``"concept_r2 (vs
    ReLU(activations))"``).
    """

    against: str
    labels: dict[str, str]

    def label(self, name: str) -> str:
        """The display label of metric ``name``."""
        return self.labels.get(name, name)


def concept_metrics(
    learner: Any,
    activations: Any,
    *,
    metrics: Sequence[str] = ("concept_mse", "concept_r2", "concept_sparsity", "concept_dead_ratio"),
    other: Any = None,
) -> ConceptScores:
    """Several registered concept metrics at once (codes and reconstructions computed once);
    reconstruction metrics are scored against what the learner models (:func:`scored_against`)."""
    from .._registry import get_registry

    z, x_hat = codes_and_reconstruction(learner, activations)
    out = ConceptScores()
    out.against = scored_against(learner, activations)
    out.labels = {}
    for name in metrics:
        metric = get_registry().get("concept_metric", name).obj()
        out[name] = metric.compute(activations, learner=learner, codes=z, reconstruction=x_hat, other=other)
        if "x" in metric.needs and "dictionaries" not in metric.needs and out.against != "activations":
            out.labels[name] = f"{name} (vs {out.against})"
    return out
