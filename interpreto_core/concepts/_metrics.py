"""Concept metrics: the base class, shared code-computation, and ``concept_metrics`` (run several).

A concept metric's ``compute`` takes the activations ``X (N, H)`` and either a fitted learner
(codes ``Z = encode(X)`` and reconstructions ``X_hat = decode(Z)`` are then computed in batches)
or the ``codes`` / ``reconstruction`` matrices themselves (for hand-made checks). It returns a
float. torch is imported lazily (plugins subclass this at load time).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from .._errors import InputError

__all__ = ["ConceptMetric", "concept_metrics", "codes_and_reconstruction"]


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
    """Base class: resolves ``X``, ``Z`` and ``X_hat`` from what was given, then ``_score``.

    Subclasses set ``name``, ``higher_is_better`` and ``needs`` (a subset of
    ``{"x", "codes", "reconstruction", "dictionaries"}``) and implement ``_score``.
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
        """Score a concept model on ``activations``; see the class docstring for the formula."""
        import torch

        from ._learner import as_matrix

        x = as_matrix(activations) if activations is not None else None
        if ("codes" in self.needs and codes is None) or ("reconstruction" in self.needs and reconstruction is None):
            if learner is None or x is None:
                raise InputError(
                    f"{self.name} needs activations and a fitted learner, or the "
                    f"{' and '.join(sorted(self.needs - {'x', 'dictionaries'}))} matrices"
                )
            z, x_hat = codes_and_reconstruction(learner, x)
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


def concept_metrics(
    learner: Any,
    activations: Any,
    *,
    metrics: Sequence[str] = ("concept_mse", "concept_r2", "concept_sparsity", "concept_dead_ratio"),
    other: Any = None,
) -> dict[str, float]:
    """Several registered concept metrics at once (codes and reconstructions computed once)."""
    from .._registry import get_registry

    z, x_hat = codes_and_reconstruction(learner, activations)
    out = {}
    for name in metrics:
        metric = get_registry().get("concept_metric", name).obj()
        out[name] = metric.compute(activations, learner=learner, codes=z, reconstruction=x_hat, other=other)
    return out
