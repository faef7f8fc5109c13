"""Integrated Gradients (Sundararajan et al., 2017).

IG_i = (x_i - b_i) * integral_0^1 dF(b + a (x - b)) / dx_i da, the integral taken by quadrature
(Riemann left/right/middle, trapezoid, or Gauss-Legendre, as captum; or Clenshaw-Curtis, or the
warped trapezoid: nodes (k/n)^2). Completeness: sum_i IG_i = F(x) - F(b) up to the quadrature
error (``completeness_delta=True`` reports it).

``n_steps="auto"`` refines the rule per input (orders 8, 16, 32 ... up to ``max_steps``; 9, 17,
33 ... for the rules with both end points) until the relative completeness error
max_t |sum_i IG_ti - (F_t(x) - F_t(b))| / max_t |F_t(x) - F_t(b)| is at most ``tolerance``;
points shared by two orders (nested rules: trapezoid, warped trapezoid, Riemann left,
Clenshaw-Curtis) are evaluated once. The loop is run by the engine (``interpreto_core._adaptive``).
"""

from __future__ import annotations

import numpy as np

from interpreto_core.plugin import AttributionRecipe, GradientPlan, InputError, hookimpl
from interpreto_plugins._checks import count, number

QUADRATURES = ("gauss_legendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid",
               "clenshaw_curtis", "warped_trapezoid")
#: rules whose nodes include both end points: their nested orders are 2^k + 1
WITH_ENDS = ("riemann_trapezoid", "clenshaw_curtis")
AUTO_START = 8


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
    if method == "warped_trapezoid":
        return _warped_trapezoid(n_steps)
    if method == "clenshaw_curtis":
        if n_steps < 2:
            raise InputError("the Clenshaw-Curtis rule needs n_steps >= 2")
        return _clenshaw_curtis(n_steps - 1)
    offset = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[method]
    return (np.arange(n_steps) + offset) / n_steps, np.full(n_steps, 1.0 / n_steps)


def _warped_trapezoid(n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The trapezoid rule in t after the change of variables a = t^2 (da = 2t dt), on n_steps
    intervals: nodes (k / n)^2, k = 1..n, weights 2 t_k w_k (the node at the baseline, t = 0, has
    weight 0 and is not evaluated). The nodes cluster near the baseline, where a transformer's
    gradients change fastest (a LayerNorm is scale invariant: its input's scale matters most near 0);
    nested (the nodes of n are among those of 2n). Measured: the fewest rows for n_steps="auto"."""
    if n_steps < 1:
        raise InputError("the warped trapezoid rule needs n_steps >= 1")
    t = np.arange(1, n_steps + 1) / n_steps
    w = np.full(n_steps, 1.0 / n_steps)
    w[-1] *= 0.5
    return t**2, 2.0 * t * w


def _clenshaw_curtis(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The n + 1 Clenshaw-Curtis nodes (1 - cos(k pi / n)) / 2 on [0, 1] and their weights
    (exact for polynomials of degree n; the nodes of order n are among those of order 2n)."""
    k = np.arange(n + 1)
    theta = np.pi * k / n
    w = np.ones(n + 1)
    for j in range(1, n // 2 + 1):
        b = 1.0 if 2 * j == n else 2.0
        w -= b * np.cos(2 * j * theta) / (4 * j * j - 1)
    c = np.full(n + 1, 2.0)
    c[[0, -1]] = 1.0
    return (1 - np.cos(theta)) / 2, 0.5 * c * w / n


def auto_orders(quadrature: str, max_steps: int) -> list[int]:
    """The orders tried by ``n_steps="auto"``: 8, 16, 32 ... up to ``max_steps`` (which ends the
    list); for the rules with both end points 9, 17, 33 ... (2^k intervals), ``max_steps``
    counting intervals: 128 gives 9, 17, 33, 65, 129."""
    extra = 1 if quadrature in WITH_ENDS else 0
    orders, n = [], AUTO_START
    while n < max_steps:
        orders.append(n + extra)
        n *= 2
    orders.append(max_steps + extra)
    return orders


class StraightLinePath:
    """Points b + a_k (x - b) at the quadrature nodes a_k; multipliers x - b.

    ``quadrature``: the rule; ``auto`` (default): Gauss-Legendre (as captum) for a fixed
    ``n_steps``, the warped trapezoid (nested, nodes (k/n)^2) for ``n_steps="auto"``. ``n_steps``:
    the rule's order, or ``"auto"``: refined per input until the relative completeness error is at most ``tolerance``
    (default 1e-2) or ``max_steps`` (default 128; intervals for the rules with both end points,
    129 nodes) is reached.
    """

    def __init__(self, n_steps: int | str = 50, quadrature: str = "auto", tolerance: float = 1e-2,
                 max_steps: int = 128) -> None:
        if quadrature == "auto":  # measured: the warped trapezoid needs the fewest rows (docs/benchmarks.md)
            quadrature = "warped_trapezoid" if n_steps == "auto" else "gauss_legendre"
        if quadrature not in QUADRATURES:
            raise InputError(f"unknown quadrature {quadrature!r}; choose 'auto' or one of {', '.join(QUADRATURES)}")
        self.quadrature = quadrature
        self.adaptive = isinstance(n_steps, str)
        if self.adaptive:
            if n_steps != "auto":
                raise InputError(f"straight_line: n_steps must be a positive integer or 'auto', got {n_steps!r}")
            self.n_steps = "auto"
            self.tolerance = number("straight_line", "tolerance", tolerance, strict=True)
            self.max_steps = count("straight_line", "max_steps", max_steps)
            if self.max_steps < AUTO_START:
                raise InputError(f"straight_line: max_steps must be at least {AUTO_START} for n_steps='auto', "
                                 f"got {max_steps!r}")
            self.orders = auto_orders(quadrature, self.max_steps)
        else:
            if tolerance != 1e-2 or max_steps != 128:
                raise InputError("straight_line: tolerance= and max_steps= apply to n_steps='auto' only; pass "
                                 "n_steps='auto' or drop them")
            self.n_steps = count("straight_line", "n_steps", n_steps)
            self.tolerance, self.max_steps = None, max_steps

    def rule(self, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Nodes and weights of this path's rule at order ``n_steps`` (``n_steps="auto"``'s rounds)."""
        return quadrature_rule(n_steps, self.quadrature)

    def plan(self, inputs, baseline, *, generator) -> GradientPlan:
        import torch

        if self.adaptive:
            raise InputError("straight_line with n_steps='auto' is refined by the engine's adaptive loop; "
                             "plan() needs an integer n_steps")
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
        summary="Integrated Gradients: (x - baseline) x path-averaged gradient (n_steps forward+backward rows; "
                "n_steps='auto' refines per input to a completeness tolerance).",
        reference="Sundararajan et al., Axiomatic Attribution for Deep Networks, ICML 2017",
    )
