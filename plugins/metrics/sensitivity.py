"""Max-sensitivity (Yeh et al., 2019): the largest relative change of an attribution under small
input perturbations.

Each token embedding x_l gets a uniform perturbation of relative radius r,
x~_l = x_l + r * rms(x_l) * u_l with u_l ~ U[-1, 1]^H, the method is run again on x~ (same
parameters, same seed, same targets), and

    sensitivity = max_{s = 1..n_samples} ||Phi(x~_s) - Phi(x)||_F / ||Phi(x)||_F

over the elements that can influence each target. A robust attribution changes little: lower is
better. The random baseline is the same ratio for attributions drawn at random (independent
Gaussian scores), i.e. an explanation unrelated to the input; note that a constant explanation
would score 0, so read sensitivity beside a faithfulness metric.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from interpreto_core.plugin import InputError, hookimpl


def _noisy_adapter_class() -> type:
    import torch

    from interpreto_core.plugin import ModelAdapter

    class NoisyEmbeddingAdapter(ModelAdapter):
        """A ModelAdapter whose ``embed`` adds a fixed perturbation, reproducible per token sequence."""

        def __init__(self, base: ModelAdapter, *, radius: float, seed: int) -> None:
            super().__init__(base.model, base.tokenizer, max_length=base.max_length)
            self.radius, self.seed, self._clean = radius, seed, False

        def embed(self, ids: torch.Tensor) -> torch.Tensor:
            x = super().embed(ids)
            if self._clean or self.radius == 0:
                return x
            key = zlib.crc32(np.asarray(ids.cpu(), dtype=np.int64).tobytes())
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + key)
            u = torch.rand(x.shape, generator=gen, dtype=torch.float32) * 2 - 1
            rms = x.float().pow(2).mean(-1, keepdim=True).sqrt()
            return (x.float() + self.radius * rms * u.to(x.device)).to(x.dtype)

        def baseline_vector(self, baseline: str) -> torch.Tensor:
            self._clean = True  # the baseline is a reference point: not perturbed
            try:
                return super().baseline_vector(baseline)
            finally:
                self._clean = False

    return NoisyEmbeddingAdapter


class Sensitivity:
    """Max-sensitivity of an attribution method (lower is better).

    Parameters
    ----------
    n_samples:
        Perturbed inputs per text (the method runs once more for each).
    radius:
        Relative radius r of the uniform perturbation of each token embedding.
    seed:
        Seed of the perturbations and of the random baseline.
    """

    name = "sensitivity"
    higher_is_better = False

    def __init__(self, *, n_samples: int = 5, radius: float = 0.02, seed: int = 0) -> None:
        if not isinstance(n_samples, int) or n_samples < 1:
            raise InputError(f"n_samples must be a positive integer, got {n_samples!r}")
        if not isinstance(radius, int | float) or radius < 0:
            raise InputError(f"radius must be a non-negative number (relative to each embedding's RMS), got {radius!r}")
        if not isinstance(seed, int):
            raise InputError(f"seed must be an integer, got {seed!r}")
        self.n_samples, self.radius, self.seed = n_samples, float(radius), seed

    def compute(self, explanations: Sequence[Any], *, model: Any, tokenizer: Any = None) -> Any:
        """Re-run each explanation's method on ``n_samples`` perturbed inputs; one value per text."""
        from interpreto_core.plugin import Explainer, Explanation, MetricResult, adapt, method_name, metric_items

        if isinstance(explanations, Explanation):
            explanations = [explanations]
        adapter = adapt(model, tokenizer)
        items = metric_items(adapter, explanations)  # checks they match the model
        groups: dict[str, list[int]] = {}
        for i, e in enumerate(explanations):
            if e.method == "custom":
                raise InputError(
                    f"explanation {i} comes from a custom recipe, which sensitivity cannot re-run; "
                    "register the recipe under a name and explain with method=<name>"
                )
            key = json.dumps([e.method, e.granularity, e.task, _engine_params(e.parameters)], sort_keys=True,
                             default=repr)
            groups.setdefault(key, []).append(i)
        noisy_cls = _noisy_adapter_class()
        ratios = np.zeros((len(explanations), self.n_samples))
        for indices in groups.values():
            first = explanations[indices[0]]
            group = [items[i].item for i in indices]  # the very tokens and targets explained
            for s in range(self.n_samples):
                noisy = noisy_cls(adapter, radius=self.radius, seed=self.seed + s)
                explainer = Explainer(noisy, method=first.method, granularity=first.granularity, task=first.task,
                                      **_engine_params(first.parameters))
                for i, again in zip(indices, explainer.explain_items(group), strict=True):
                    ratios[i, s] = _relative_change(explanations[i].scores, again.scores, items[i].visible)
        rng = np.random.default_rng([self.seed, 7])
        random_values = []
        for item in items:
            phi = rng.standard_normal(item.scores.shape)
            random_values.append(max(
                _relative_change(phi, rng.standard_normal(item.scores.shape), item.visible)
                for _ in range(self.n_samples)
            ))
        return MetricResult(
            metric=self.name, method=method_name(explanations), values=ratios.max(axis=1),
            random_values=random_values, higher_is_better=False,
            parameters={"n_samples": self.n_samples, "radius": self.radius, "seed": self.seed},
        )


def _engine_params(parameters: dict[str, Any]) -> dict[str, Any]:
    """The explanation's recorded parameters, less provenance, as Explainer keywords."""
    return {k: v for k, v in parameters.items() if k not in ("parts", "progress")} | {"progress": False}


def _relative_change(phi: np.ndarray, again: np.ndarray, visible: np.ndarray) -> float:
    ref = np.where(visible, phi, 0.0)
    norm = np.linalg.norm(ref)
    if norm == 0:
        return float("nan")
    return float(np.linalg.norm(np.where(visible, again, 0.0) - ref) / norm)


@hookimpl
def interpreto_register_metric(register):
    register(
        Sensitivity,
        name="sensitivity",
        summary="Max relative change of the attribution under small embedding perturbations (lower is better).",
        reference="Yeh et al., On the (In)fidelity and Sensitivity of Explanations, NeurIPS 2019",
    )
