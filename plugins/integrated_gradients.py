"""Integrated Gradients (Sundararajan et al., 2017).

IG_i = (x_i - b_i) * integral_0^1 dF(b + a (x - b)) / dx_i da, the integral taken by quadrature
(Riemann left/right/middle, trapezoid, or Gauss-Legendre, as captum). Completeness:
sum_i IG_i = F(x) - F(b) up to the quadrature error (``completeness_delta=True`` reports it).
"""

from __future__ import annotations

import numpy as np

from interpreto_core.plugin import AttributionRecipe, GradientPlan, InputError, hookimpl
from interpreto_plugins._checks import count

QUADRATURES = ("gauss_legendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid")


def quadrature_rule(n_steps: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Points in [0, 1] and weights of an ``n_steps`` rule."""
    if method == "gauss_legendre":
        x, w = np.polynomial.legendre.leggauss(n_steps)
        return 0.5 * (x + 1), 0.5 * w
    if method == "riemann_trapezoid":
        if n_steps < 2:
            raise InputError("the trapezoid rule needs n_steps >= 2")
        w = np.full(n_steps, 1.0 / (n_steps - 1))
        w[[0, -1]] *= 0.5
        return np.linspace(0, 1, n_steps), w
    offset = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[method]
    return (np.arange(n_steps) + offset) / n_steps, np.full(n_steps, 1.0 / n_steps)


class StraightLinePath:
    """Points b + a_k (x - b) at the quadrature nodes a_k; multipliers x - b."""

    def __init__(self, n_steps: int = 50, quadrature: str = "gauss_legendre") -> None:
        if quadrature not in QUADRATURES:
            raise InputError(f"unknown quadrature {quadrature!r}; choose one of {', '.join(QUADRATURES)}")
        self.n_steps, self.quadrature = count("straight_line", "n_steps", n_steps), quadrature

    def plan(self, inputs, baseline, *, generator) -> GradientPlan:
        import torch

        alphas, weights = quadrature_rule(self.n_steps, self.quadrature)
        a = torch.tensor(alphas, dtype=inputs.dtype, device=inputs.device).reshape(-1, 1, 1)
        diff = inputs - baseline
        return GradientPlan(
            points=baseline[None] + a * diff[None],
            weights=torch.tensor(weights, dtype=torch.float32),
            multipliers=diff[None].expand(self.n_steps, *diff.shape),
        )


@hookimpl
def interpreto_register_gradient_method(register):
    register(StraightLinePath, name="straight_line", summary="Straight path from the baseline to the input.")


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(gradient_method="straight_line", aggregator="weighted_mean"),
        name="integrated_gradients",
        summary="Integrated Gradients: (x - baseline) x path-averaged gradient (n_steps forward+backward rows).",
        reference="Sundararajan et al., Axiomatic Attribution for Deep Networks, ICML 2017",
    )
