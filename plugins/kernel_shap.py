"""KernelSHAP (Lundberg & Lee, 2017): Shapley values from a kernel-weighted regression on coalitions.

Coalitions z are weighted by the Shapley kernel  pi(z) = (M - 1) / (C(M, |z|) |z| (M - |z|)), and the fit
is constrained by efficiency:  sum_i phi_i = f(x) - f(empty). With ``n_samples >= 2**M`` every coalition
is enumerated and the result is the exact Shapley value; otherwise whole coalition sizes are enumerated
while the budget allows and the remaining sizes are sampled from the kernel distribution (probability
proportional to (M - 1) / (|z| (M - |z|)), paired with their complements), as the shap library does.

Two estimators on those rows (``estimator=``):

- ``"kernel"``: the classic regression on the linear features, phi = argmin sum_z pi(z) (f(z) - f(empty)
  - phi.z)^2 (shap's KernelExplainer).
- ``"cubic"`` (default): fit a surrogate game g(z) = f(empty) + a.z + sum_{|T|=3} c_T g_T(z) by the same
  weighted least squares with a ridge lambda |c|^2 (g_T: the centred triple product prod_{i in T}
  (z_i - 1/2), shifted to vanish at the empty and the full coalition), and return g's Shapley values in
  closed form: phi_i = a_i + sum_T c_T (1[i in T] / 12 - 1 / (4M)). Complementary pairs cancel every
  even interaction out of the regression (pairwise games are exact from a sample with either), so the
  classic estimator's error is the odd interactions of order >= 3 — which the triples absorb. lambda
  is chosen per text among a few values by generalised cross-validation; the fit is solved in its dual
  (a pairs x pairs system, the triple Gram matrix in closed form through elementary symmetric
  polynomials), so its cost does not grow as C(M, 3). A k-additive surrogate as in Pelegrina et al.
  (2023, kADD-SHAP), ridge-regularised; cf. the regression-adjusted estimators of Witter et al. (2025).

``n_samples="auto"`` adds complementary pairs round after round until the relative bootstrap
standard error max_t ||se_t|| / ||phi_t|| is at most ``tolerance`` (default 0.05) or ``max_samples``
rows (default 2048) are used.

Measured (bench/bench_sampling_budgets.py --only kernel_shap --seeds 3, docs/benchmarks.md): 30 SST-2 dev texts
of 6-11 words, MiniLM SST-2 logit, mean relative L2 error vs exact Shapley over texts x 3 seeds, at
32 / 64 / 128 / 200 / 256 samples: ``"cubic"`` 0.095 / 0.047 / 0.013 / 0.0069 / 0.0053, ``"kernel"``
0.112 / 0.066 / 0.042 / 0.026 / 0.017, shap's KernelExplainer 0.152 / 0.070 / 0.035 / 0.027 / 0.017 at the
same evaluations (captum 0.119 at 200); the default 200 is 0.26x shap's error. ``"auto"`` (tolerance 0.05)
0.039 with 77 evaluations on average (``"kernel"``: 0.042 with 131); its bootstrap se (0.026) reads
~1.5x low, as it leaves out the ridge's bias. On a tiny random BERT (a far less additive game) ``"cubic"``
is 0.61-0.88x the classic error at every budget (0.080 vs 0.132 at 200; shap 0.119).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Generator

import numpy as np

from interpreto_core.plugin import AttributionRecipe, InputError, PerturbationPlan, hookimpl
from interpreto_plugins._sampling import (
    N_BOOTSTRAP,
    auto_budget,
    batched_weighted_lstsq,
    bootstrap_counts,
    bootstrap_se,
    subset_masks,
)


def shapley_kernel(n_elements: int, size: np.ndarray) -> np.ndarray:
    m = n_elements
    return (m - 1) / (np.array([math.comb(m, int(s)) for s in size]) * size * (m - size))


#: n_samples="auto": the first round's rows (at least 4 per element), the default tolerance and cap
AUTO_START = 64
AUTO_TOLERANCE, AUTO_MAX = 0.05, 2048

#: ``estimator="cubic"``: ridge strengths tried (times the total kernel weight), the one of least
#: generalised cross-validation error kept
CUBIC_RIDGES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 1.0)
ESTIMATORS = ("cubic", "kernel")


def _estimator(part: str, estimator: str) -> str:
    if estimator not in ESTIMATORS:
        raise InputError(f"{part}: estimator must be one of {', '.join(map(repr, ESTIMATORS))}, got {estimator!r}")
    return estimator


def _uses_cubic(estimator: str, m: int, n_rows: int, exact: bool) -> bool:
    """The cubic fit applies: asked for, M >= 3, not every coalition (then both fits are exact), and
    at least M - 1 complementary pairs besides the full and empty input (fewer leave the linear part
    underdetermined)."""
    return estimator == "cubic" and m >= 3 and not exact and n_rows - 2 >= 2 * (m - 1)


def _e3(p1: np.ndarray, p2: float, p3: np.ndarray) -> np.ndarray:
    """The elementary symmetric polynomial of degree 3 from the power sums p1, p2, p3 (Newton)."""
    return (p1**3 - 3.0 * p1 * p2 + 2.0 * p3) / 6.0


def _cubic_features(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For 0/1 rows ``z``: ``(x, beta, e3x)`` with x = z - 1/2, beta(z) = 1/8 - |z| / (4M) and
    e3x = e_3(x) = sum over triples T of u_T(z), u_T = prod_{i in T} x_i; the triple feature is
    g_T(z) = u_T(z) + beta(z), odd under z -> 1 - z, 0 at the empty and the full coalition."""
    m = z.shape[1]
    x = z - 0.5
    p1 = x.sum(axis=1)
    return x, 0.125 - z.sum(axis=1) / (4.0 * m), _e3(p1, m / 4.0, p1 / 4.0)


def _cubic_gram(
    xa: np.ndarray, ba: np.ndarray, ea: np.ndarray, xb: np.ndarray, bb: np.ndarray, eb: np.ndarray
) -> np.ndarray:
    """sum_T g_T(a) g_T(b) over all triples, in closed form: e_3(x_a * x_b) + beta_b e_3(x_a)
    + beta_a e_3(x_b) + C(M, 3) beta_a beta_b (entries of x_a * x_b are +-1/4)."""
    m = xa.shape[1]
    p1 = xa @ xb.T
    return (
        _e3(p1, m / 16.0, p1 / 16.0)
        + ea[:, None] * bb[None, :]
        + ba[:, None] * eb[None, :]
        + math.comb(m, 3) * ba[:, None] * bb[None, :]
    )


def _cubic_shapley_map(x: np.ndarray, beta: np.ndarray, e3x: np.ndarray) -> np.ndarray:
    """``(P, M)``: row p is sum_T g_T(z_p) phi(g_T), phi_i(g_T) = 1[i in T] / 3 for the raw
    triple z_T ... here for g_T: 1[i in T] / 12 - 1 / (4M) (its Shapley values sum to 0)."""
    m = x.shape[1]
    rest = x.sum(axis=1, keepdims=True) - x  # sum of the other x_j
    with_i = x * (rest**2 - (m - 1) / 4.0) / 2.0 + math.comb(m - 1, 2) * beta[:, None]  # sum over T containing i
    total = e3x + math.comb(m, 3) * beta
    return with_i / 12.0 - total[:, None] / (4.0 * m)


def _pairs(masks: np.ndarray, w: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Complementary pairs of the weighted rows: ``(z, pair weight, y(z) - y(1 - z))``. Rows of the
    same coalition are merged (weights added); a coalition and its complement form a pair of weight
    the smaller of theirs (the rest of the larger weight is dropped: a row whose complement was not
    evaluated carries no weight)."""
    m = masks.shape[1]
    keys = masks.astype(np.int64) @ (np.int64(1) << np.arange(m, dtype=np.int64))
    uniq, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    wk = np.bincount(inv.reshape(-1), weights=w, minlength=len(uniq))
    comp = (np.int64(1) << m) - 1 - uniq
    pos = np.searchsorted(uniq, comp).clip(max=len(uniq) - 1)
    has = (uniq[pos] == comp) & (uniq < comp)  # each pair once, from its smaller key
    i, j = np.flatnonzero(has), pos[has]
    return masks[first[i]], np.minimum(wk[i], wk[j]), y[first[i]] - y[first[j]]


def _cubic_fit(
    z: np.ndarray, omega: np.ndarray, diff: np.ndarray, delta: np.ndarray, ridges: tuple[float, ...]
) -> tuple[np.ndarray, float]:
    """``(scores (T, M), ridge kept)``: the Shapley values of g(z) = f(empty) + a.z + sum_T c_T g_T(z)
    fitted to the pairs by kernel-weighted least squares with sum a = delta and a ridge lambda |c|^2.

    Every feature is odd under z -> 1 - z, so a pair (z, 1 - z) of weight w enters as one row of
    weight 2 w and target (y(z) - y(1 - z)) / 2 - (z_M - 1/2) delta. The M - 1 free linear
    coefficients are a generalised least-squares fit under Q = (K + lambda I)^-1 (K: the Gram
    matrix of the C(M, 3) triple features, in closed form), the triple coefficients
    c = G^T Q (b - A a) (the dual of the ridge: no C(M, 3)-column matrix is formed); lambda is
    chosen among ``ridges`` (times the total weight) by generalised cross-validation.
    """
    m = z.shape[1]
    s = np.sqrt(2.0 * omega)
    target = diff / 2.0 - (z[:, -1:] - 0.5) * delta[None, :]
    a_mat = s[:, None] * (z[:, :-1] - z[:, -1:])  # (P, M-1)
    b = s[:, None] * target  # (P, T)
    feats = _cubic_features(z)
    k = s[:, None] * _cubic_gram(*feats, *feats) * s[None, :]
    scale = float((2.0 * omega).sum())
    best: tuple[float, float, np.ndarray, np.ndarray] | None = None
    if len(ridges) > 1:
        d, v = np.linalg.eigh(k)
        d = d.clip(min=0.0)
        va, vb = v.T @ a_mat, v.T @ b
    for ridge in ridges:
        lam = ridge * scale
        if len(ridges) > 1:
            qd = 1.0 / (d + lam)
            qa, qb = v @ (qd[:, None] * va), v @ (qd[:, None] * vb)
            tr_q = float(qd.sum())
        else:
            sol = np.linalg.solve(k + lam * np.eye(len(k)), np.hstack([a_mat, b]))
            qa, qb = sol[:, : m - 1], sol[:, m - 1 :]
            tr_q = 0.0
        gram = a_mat.T @ qa
        coef = np.linalg.lstsq(gram, a_mat.T @ qb, rcond=None)[0]  # (M-1, T)
        alpha = qb - qa @ coef
        if len(ridges) > 1:
            dof = lam * (tr_q - float(np.trace(np.linalg.pinv(gram, hermitian=True) @ (qa.T @ qa))))
            gcv = float(((lam * alpha) ** 2).sum()) / dof**2 if dof > 1e-9 * len(k) else math.inf
        else:
            gcv = 0.0
        if best is None or gcv < best[0]:
            best = (gcv, ridge, coef, alpha)
    assert best is not None
    _, ridge, coef, alpha = best
    head = np.vstack([coef, delta[None, :] - coef.sum(axis=0, keepdims=True)])  # (M, T)
    cubic = _cubic_shapley_map(*feats).T @ (s[:, None] * alpha)  # (M, T)
    return (head + cubic).T, ridge


def _enumerated(m: int, budget: int) -> tuple[list[np.ndarray], list[float], list[int], int]:
    """Whole coalition sizes enumerated while ``budget`` allows (sizes s and m - s together, the
    smallest s first): ``(rows, kernel weights, sizes left, budget left)``."""
    rows, weights = [], []
    remaining = list(range(1, m))
    for s in range(1, m // 2 + 1):
        sizes = sorted({s, m - s})
        n = sum(math.comb(m, k) for k in sizes)
        if n > budget:
            break
        for k in sizes:
            for subset in itertools.combinations(range(m), k):
                z = np.zeros(m)
                z[list(subset)] = 1.0
                rows.append(z)
                weights.append(shapley_kernel(m, np.array([k]))[0])
            remaining.remove(k)
        budget -= n
    return rows, weights, remaining, budget


def _paired(sizes: np.ndarray, mass: np.ndarray, n_pairs: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """``2 n_pairs`` rows: coalitions drawn from the kernel over ``sizes``, each followed by its complement."""
    drawn = rng.choice(sizes, size=n_pairs, p=mass / mass.sum())
    z = subset_masks(drawn, m, rng=rng)
    return np.stack([z, 1.0 - z], axis=1).reshape(-1, m)


def _completed(fixed: np.ndarray, weights: list[float], sampled: np.ndarray, m: int) -> PerturbationPlan:
    """The exact plan that keeps the rows drawn so far: every coalition once at its kernel weight
    (a coalition drawn twice weighs 0 the second time), the ones not drawn yet appended."""
    sizes = sampled.sum(axis=1).astype(int)
    keys = sampled.astype(np.int64) @ (1 << np.arange(m, dtype=np.int64))
    _, first = np.unique(keys, return_index=True)
    w_sampled = np.zeros(len(sampled))
    w_sampled[first] = shapley_kernel(m, sizes[first])
    seen = set(keys.tolist()) | set((fixed[2:].astype(np.int64) @ (1 << np.arange(m, dtype=np.int64))).tolist())
    missing = np.array([k for k in range(1, 2**m - 1) if k not in seen], dtype=np.int64)
    extra = ((missing[:, None] >> np.arange(m)) & 1).astype(np.float64) if len(missing) else np.zeros((0, m))
    w = np.concatenate([weights, w_sampled, shapley_kernel(m, extra.sum(axis=1).astype(int))])
    masks = np.vstack([fixed, sampled, extra])
    return PerturbationPlan(
        masks=masks, info={"weights": w, "exact": True, "n_samples": len(masks), "n_fixed": len(masks)}
    )


class ShapleyCoalitions:
    """Full input, empty input, then coalitions: whole sizes enumerated while the budget allows
    (smallest and largest sizes first, where the kernel puts most weight), the rest sampled from
    the kernel distribution over the remaining sizes (in complementary pairs), as shap does.

    ``n_samples="auto"``: the sizes that fit in a first round of max(64, 4 M) rows are enumerated,
    then complementary pairs are added round after round until the relative standard error of
    the estimate (bootstrap over the pairs) is at most ``tolerance`` or ``max_samples`` rows are used;
    a round that would ask for 2**M rows or more enumerates the coalitions not drawn yet (exact).
    """

    def __init__(
        self,
        n_samples: int | str = 200,
        tolerance: float = AUTO_TOLERANCE,
        max_samples: int = AUTO_MAX,
        estimator: str = "cubic",
    ) -> None:
        self.adaptive, self.n_samples, self.tolerance, self.max_samples = auto_budget(
            "kernel_shap", n_samples, tolerance, max_samples, defaults=(AUTO_TOLERANCE, AUTO_MAX), minimum=2
        )
        self.estimator = _estimator("kernel_shap", estimator)

    def _too_few(self, m: int, budget: int) -> None:
        if budget < m + 2 and 2**m > budget:
            key = "max_samples" if self.adaptive else "n_samples"
            raise InputError(
                f"kernel_shap needs {key} >= n_elements + 2 = {m + 2} for {m} elements (got {budget}); "
                f"raise {key} or use a coarser granularity"
            )

    def plan(self, n_elements: int, *, rng: np.random.Generator) -> PerturbationPlan:
        if self.adaptive:
            raise InputError(
                "kernel_shap with n_samples='auto' is run round by round by the engine; plan() needs an "
                "integer n_samples"
            )
        m = n_elements
        ends = np.vstack([np.ones(m), np.zeros(m)])
        if m == 1:
            return PerturbationPlan(
                masks=ends, info={"weights": np.zeros(0), "exact": True, "extras": {"estimator": "kernel"}}
            )
        self._too_few(m, self.n_samples)
        rows, weights, remaining, budget = _enumerated(m, self.n_samples - 2)
        exact = not remaining
        n_fixed = 2 + len(rows)
        if remaining and budget > 0:
            sizes = np.array(remaining)
            mass = (m - 1) / (sizes * (m - sizes))  # kernel weight of all coalitions of each size
            sampled = _paired(sizes, mass, (budget + 1) // 2, m, rng)[:budget]  # each coalition and its complement
            rows += list(sampled)
            weights += [mass.sum() / len(sampled)] * len(sampled)
        masks = np.vstack([ends, *rows]) if rows else ends
        used = "cubic" if _uses_cubic(self.estimator, m, len(masks), exact) else "kernel"
        return PerturbationPlan(
            masks=masks,
            info={"weights": np.array(weights), "exact": exact, "n_fixed": n_fixed, "extras": {"estimator": used}},
        )

    def rounds(self, n_elements: int, *, rng: np.random.Generator) -> Generator[PerturbationPlan, int, None]:
        """``n_samples="auto"``: cumulative plans of at least the rows asked (``send``), pairs added at the end;
        each records the estimator its fit uses (``info["extras"]["estimator"]``)."""
        inner = self._rounds(n_elements, rng=rng)
        try:
            plan = next(inner)
            while True:
                exact = bool(plan.info.get("exact", False))
                cubic = n_elements > 1 and _uses_cubic(self.estimator, n_elements, len(plan.masks), exact)
                plan.info["extras"] = {"estimator": "cubic" if cubic else "kernel"}
                plan = inner.send((yield plan))
        except StopIteration:
            return
        finally:
            inner.close()

    def _rounds(self, n_elements: int, *, rng: np.random.Generator) -> Generator[PerturbationPlan, int, None]:
        m = n_elements
        cap = int(self.max_samples or 0)
        ends = np.vstack([np.ones(m), np.zeros(m)])
        if m == 1:
            yield PerturbationPlan(masks=ends, info={"weights": np.zeros(0), "exact": True, "n_samples": 2})
            return
        self._too_few(m, cap)
        start = min(max(AUTO_START, 4 * m), cap)
        rows, weights, remaining, _ = _enumerated(m, start - 2)
        fixed = np.vstack([ends, *rows]) if rows else ends
        if not remaining:
            yield PerturbationPlan(
                masks=fixed,
                info={"weights": np.array(weights), "exact": True, "n_samples": len(fixed), "n_fixed": len(fixed)},
            )
            return
        sizes = np.array(remaining)
        mass = (m - 1) / (sizes * (m - sizes))
        sampled = np.zeros((0, m))
        target = start
        while True:
            if target >= 2**m:  # enumerating every coalition is now as cheap: exact
                yield _completed(fixed, weights, sampled, m)
                return
            need = target - len(fixed) - len(sampled)
            if need > 0 or not len(sampled):
                sampled = np.vstack([sampled, _paired(sizes, mass, max((need + 1) // 2, 1), m, rng)])
            w = np.array(weights + [mass.sum() / len(sampled)] * len(sampled))
            target = yield PerturbationPlan(
                masks=np.vstack([fixed, sampled]),
                info={"weights": w, "exact": False, "n_samples": len(fixed) + len(sampled), "n_fixed": len(fixed)},
            )


class ShapleyRegression:
    """Weighted least squares under the efficiency constraint (rows 0 and 1: full and empty input).

    ``estimator="cubic"`` (the default): the Shapley values of a surrogate game fitted to the
    coalitions, linear plus every third-order interaction (ridge-penalised, the ridge chosen by
    generalised cross-validation), whose Shapley values are exact in closed form. With complementary
    pairs, second-order (and every even) interaction cancels out of the regression, so the error of
    plain KernelSHAP comes from the odd interactions of order >= 3: fitting the triples removes
    most of it. Linear plus pairwise games are recovered exactly, as by ``"kernel"``; all 2**M
    coalitions give the exact Shapley values (the linear part of the fit is unpenalised, so the
    residual is orthogonal to it). ``estimator="kernel"``: the classic constrained regression on
    the linear features only (Lundberg & Lee 2017; shap's KernelExplainer).

    ``estimate``: the scores and their bootstrap standard error, resampling the complementary
    pairs drawn (rows after ``info["n_fixed"]``) and keeping the enumerated coalitions.
    """

    input = "perturbation"

    def __init__(self, estimator: str = "cubic") -> None:
        self.estimator = _estimator("shapley_regression", estimator)

    def aggregate(self, plan: PerturbationPlan, outputs: np.ndarray) -> np.ndarray:
        if self._cubic(plan):
            return self._solve_cubic(plan, outputs, None)[0]
        return self._solve(plan, outputs, None)[0]

    def estimate(self, plan: PerturbationPlan, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = plan.masks.shape[0]
        n_fixed = int(plan.info.get("n_fixed", n))
        n_pairs = (n - n_fixed) // 2
        if plan.masks.shape[1] == 1 or n_pairs < 2:
            scores = self.aggregate(plan, outputs)
            return scores, np.zeros_like(scores)
        counts = np.ones((N_BOOTSTRAP, n - 2))
        pair_counts = bootstrap_counts(n_pairs, seed=n)
        counts[:, n_fixed - 2 : n_fixed - 2 + 2 * n_pairs] = np.repeat(pair_counts, 2, axis=1)
        solve = self._solve_cubic if self._cubic(plan) else self._solve
        scores, boot = solve(plan, outputs, counts)
        return scores, bootstrap_se(boot)

    def _cubic(self, plan: PerturbationPlan) -> bool:
        return _uses_cubic(self.estimator, plan.masks.shape[1], len(plan.masks), bool(plan.info.get("exact")))

    def _solve_cubic(
        self, plan: PerturbationPlan, outputs: np.ndarray, counts: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        masks = np.asarray(plan.masks[2:], dtype=np.float64)
        outputs = np.asarray(outputs, dtype=np.float64)
        delta = outputs[0] - outputs[1]
        w = np.asarray(plan.info["weights"], dtype=np.float64)
        z, omega, diff = _pairs(masks, w, outputs[2:])
        if len(z) < masks.shape[1] - 1:
            return self._solve(plan, outputs, counts)
        scores, ridge = _cubic_fit(z, omega, diff, delta, CUBIC_RIDGES)
        if counts is None:
            return scores, None
        boot = []
        for c in counts:  # the same ridge for every resample: the spread of the estimate at that ridge
            zb, ob, db = _pairs(masks, w * c, outputs[2:])
            keep = ob > 0
            boot.append(_cubic_fit(zb[keep], ob[keep], db[keep], delta, (ridge,))[0])
        return scores, np.stack(boot)

    def _solve(
        self, plan: PerturbationPlan, outputs: np.ndarray, counts: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        masks = plan.masks[2:].astype(np.float64)
        outputs = np.asarray(outputs, dtype=np.float64)
        f_full, f_empty = outputs[0], outputs[1]
        delta = f_full - f_empty  # (T,)
        m = plan.masks.shape[1]
        if m == 1:
            return delta[:, None], None
        w = np.asarray(plan.info["weights"], dtype=np.float64)
        y = outputs[2:] - f_empty[None, :] - masks[:, -1:] * delta[None, :]  # (N, T)
        x = masks[:, :-1] - masks[:, -1:]  # (N, M-1)
        sw = np.sqrt(w)[:, None]
        phi_head = np.linalg.lstsq(x * sw, y * sw, rcond=None)[0]  # (M-1, T)
        phi_last = delta[None, :] - phi_head.sum(axis=0, keepdims=True)
        scores = np.vstack([phi_head, phi_last]).T
        if counts is None:
            return scores, None
        heads = batched_weighted_lstsq(x, y, w[None, :] * counts)  # (B, M-1, T)
        lasts = delta[None, None, :] - heads.sum(axis=1, keepdims=True)
        return scores, np.concatenate([heads, lasts], axis=1).transpose(0, 2, 1)  # (B, T, M)


@hookimpl
def interpreto_register_perturbator(register):
    register(ShapleyCoalitions, name="kernel_shap", summary="Coalitions from the Shapley kernel (exact below 2**M).")


@hookimpl
def interpreto_register_aggregator(register):
    register(ShapleyRegression, name="shapley_regression", summary="Kernel-weighted least squares with efficiency.")


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(perturbator="kernel_shap", aggregator="shapley_regression", defaults={"estimator": "cubic"}),
        name="kernel_shap",
        summary="KernelSHAP: Shapley values by kernel-weighted regression on coalitions; scores sum to f(x) - "
        "f(empty). estimator='cubic' (default): the exact Shapley values of a ridge-fitted linear + third-order "
        "surrogate (ridge by generalised cross-validation); estimator='kernel': the classic linear regression "
        "(shap's KernelExplainer); both exact at n_samples >= 2**M. Measured (30 SST-2 dev texts of 6-11 "
        "words, MiniLM SST-2, vs exact Shapley, 3 seeds): the default n_samples=200 has a mean relative L2 error "
        "of 0.0069 (estimator='kernel' 0.026, shap's KernelExplainer 0.027, captum 0.119 at the same "
        "evaluations); 0.095 / 0.047 / 0.013 at 32 / 64 / 128 (shap 0.152 / 0.070 / 0.035); n_samples='auto' "
        "(tolerance 0.05, bootstrap se) 0.039 with 77 evaluations on average.",
        reference="Lundberg & Lee, A Unified Approach to Interpreting Model Predictions, NeurIPS 2017",
    )
