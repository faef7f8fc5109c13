"""Shared gradient parts: plain gradients, noisy gradients, and the three gradient aggregators.

Aggregators see ``grads (S, T, L, H)`` at the plan's S points for T targets, and return
``(T, L, H)``; with ``m_k`` the plan's multipliers (1 when None) and ``w_k`` its weights:

* weighted_mean:  sum_k w_k g_k m_k          (Saliency, Input x Gradient, IG, SmoothGrad, GradientSHAP)
* variance:       Var_k (g_k m_k)            (VarGrad; Adebayo et al., 2018)
* square_mean:    mean_k (g_k m_k)^2         (SquareGrad; Hooker et al., 2019)

Each also has ``stream(plan, n_targets)``: an accumulator the engine adds each pass's gradients
to (``add(point indices, target, grads (n, L', H))``, then ``result() -> (T, L, H)``), so a
run holds one pass's gradients, not all S x T of them (float64 sums).
"""

from __future__ import annotations

from interpreto_core.plugin import GradientPlan, hookimpl
from interpreto_plugins._checks import count, flag, number


class PlainGradient:
    """One point: the input itself (gradient, or gradient x input with ``multiply_by_inputs``)."""

    def __init__(self, multiply_by_inputs: bool = False) -> None:
        self.multiply_by_inputs = flag("plain", "multiply_by_inputs", multiply_by_inputs)

    def plan(self, inputs, baseline, *, generator) -> GradientPlan:
        import torch

        return GradientPlan(
            points=inputs[None],
            weights=torch.ones(1),
            multipliers=inputs[None] if self.multiply_by_inputs else None,
        )


class NoisyGradient:
    """``n_samples`` points x + eps, eps ~ N(0, sigma^2), sigma = noise_level * (max(x) - min(x)).

    (Smilkov et al., 2017: the noise level is relative to the input's range.)
    """

    def __init__(self, n_samples: int = 20, noise_level: float = 0.1, multiply_by_inputs: bool = False) -> None:
        self.n_samples = count("noise", "n_samples", n_samples)
        self.noise_level = number("noise", "noise_level", noise_level)
        self.multiply_by_inputs = flag("noise", "multiply_by_inputs", multiply_by_inputs)

    def plan(self, inputs, baseline, *, generator) -> GradientPlan:
        import torch

        sigma = self.noise_level * float(inputs.max() - inputs.min())
        noise = torch.randn((self.n_samples, *inputs.shape), generator=generator, dtype=torch.float32)
        points = inputs[None] + (sigma * noise).to(inputs.device, inputs.dtype)
        return GradientPlan(
            points=points,
            weights=torch.full((self.n_samples,), 1.0 / self.n_samples),
            multipliers=inputs[None].expand_as(points) if self.multiply_by_inputs else None,
        )


def _products(plan: GradientPlan, grads):
    if plan.multipliers is None:
        return grads
    return grads * plan.multipliers.float().cpu()[:, None]


class _Moments:
    """Streamed sums over points of (g_k m_k)^p (p = 1 weighted by w_k, or p = 1, 2 unweighted),
    added one pass at a time (``GradientAggregator.stream``): memory (T, L, H), not (S, T, L, H)."""

    def __init__(self, plan: GradientPlan, n_targets: int, *, weighted: bool, powers: tuple[int, ...]) -> None:
        import torch

        n, length, hidden = plan.points.shape
        self.plan, self.weighted, self.n_points = plan, weighted, n
        self.sums = {p: torch.zeros((n_targets, length, hidden), dtype=torch.float64) for p in powers}
        self.weights = plan.weights.double().cpu() if weighted else None

    def add(self, points, target: int, grads) -> None:
        cut = grads.shape[1]
        x = grads.double()
        if self.plan.multipliers is not None:
            x = x * self.plan.multipliers[points.to(self.plan.multipliers.device), :cut].double().cpu()
        if self.weights is not None:
            x = x * self.weights[points].reshape(-1, 1, 1)
        for p, total in self.sums.items():
            total[target, :cut] += (x if p == 1 else x**p).sum(0)


class _WeightedSum(_Moments):
    def __init__(self, plan: GradientPlan, n_targets: int) -> None:
        super().__init__(plan, n_targets, weighted=True, powers=(1,))

    def result(self):
        return self.sums[1].float()


class _Variance(_Moments):
    def __init__(self, plan: GradientPlan, n_targets: int) -> None:
        super().__init__(plan, n_targets, weighted=False, powers=(1, 2))

    def result(self):
        mean = self.sums[1] / self.n_points
        return (self.sums[2] / self.n_points - mean**2).clamp_min(0).float()


class _SquareMean(_Moments):
    def __init__(self, plan: GradientPlan, n_targets: int) -> None:
        super().__init__(plan, n_targets, weighted=False, powers=(2,))

    def result(self):
        return (self.sums[2] / self.n_points).float()


class WeightedMean:
    """sum_k w_k g_k m_k."""

    input = "gradient"

    def aggregate(self, plan: GradientPlan, grads):
        w = plan.weights.float().cpu().reshape(-1, 1, 1, 1)
        return (w * _products(plan, grads)).sum(0)

    def stream(self, plan: GradientPlan, n_targets: int) -> _WeightedSum:
        return _WeightedSum(plan, n_targets)


class Variance:
    """Population variance over points of g_k m_k (always >= 0)."""

    input = "gradient"

    def aggregate(self, plan: GradientPlan, grads):
        return _products(plan, grads).var(0, unbiased=False)

    def stream(self, plan: GradientPlan, n_targets: int) -> _Variance:
        return _Variance(plan, n_targets)


class SquareMean:
    """Mean over points of (g_k m_k)^2."""

    input = "gradient"

    def aggregate(self, plan: GradientPlan, grads):
        return (_products(plan, grads) ** 2).mean(0)

    def stream(self, plan: GradientPlan, n_targets: int) -> _SquareMean:
        return _SquareMean(plan, n_targets)


@hookimpl
def interpreto_register_gradient_method(register):
    register(PlainGradient, name="plain", summary="The input itself (optionally gradient x input).")
    register(NoisyGradient, name="noise", summary="Gaussian noise around the input, relative to its range.")


@hookimpl
def interpreto_register_aggregator(register):
    register(WeightedMean, name="weighted_mean", summary="Weighted sum of gradient x multiplier over points.")
    register(Variance, name="variance", summary="Variance over points of gradient x multiplier.")
    register(SquareMean, name="square_mean", summary="Mean over points of (gradient x multiplier)^2.")
