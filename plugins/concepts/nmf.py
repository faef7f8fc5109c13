"""NMF concepts (Lee & Seung, 1999): min ||A - Z D||_F^2 with Z >= 0, D >= 0 (overcomplete's HALS solver).

NMF needs non-negative activations. Signed activations (most transformer layers) raise an error
unless ``signed`` says what to do:

- ``"relu"``: fit and encode ``max(A, 0)``; ``decode`` reconstructs that rectified part only;
- ``"shift"``: subtract the per-unit minimum ``m`` seen at fit (``A - m >= 0``); encode clamps
  ``x - m`` at 0; ``decode(z) = z D + m``.

Codes of new rows solve the non-negative least-squares problem with ``D`` fixed (FISTA).
"""

from __future__ import annotations

from interpreto_core.plugin import InputError, NonNegativeLearner, hookimpl

SIGNED = ("error", "relu", "shift")


def torch_max(x, floor):
    """Elementwise ``max(x, floor)`` with ``floor (H,)`` broadcast over rows."""
    import torch

    return torch.maximum(x, floor.to(x.device, x.dtype))


class NMF(NonNegativeLearner):
    """Non-negative matrix factorisation; ``solver`` is one of overcomplete's (hals, mu, pgd, anls)."""

    name = "nmf"

    def __init__(self, *, n_concepts: int = 20, seed: int = 0, signed: str = "error", solver: str = "hals",
                 max_iter: int = 500) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed)
        if signed not in SIGNED:
            raise InputError(f"signed must be one of {', '.join(SIGNED)}, got {signed!r}")
        self.signed, self.solver, self.max_iter = signed, solver, max_iter

    def _check_fit_input(self, a):
        if self.signed == "error" and float(a.min()) < 0:
            raise InputError(
                f"NMF needs non-negative activations, these have negative values (min {float(a.min()):.3g}). "
                "Use semi_nmf or convex_nmf for signed activations, or pass signed='relu' (keep the positive "
                "part) or signed='shift' (subtract each unit's minimum)"
            )

    def _prepare(self, x):
        if self.signed == "relu":
            return x.clamp_min(0)
        if self.signed == "shift":
            return (x - self.offset).clamp_min(0)
        if float(x.min()) < 0:
            raise InputError(
                "NMF (signed='error') cannot encode negative activations; refit with signed='relu' or 'shift'"
            )
        return x

    @property
    def modelled_as(self):
        return {"relu": "ReLU({x})", "shift": "max({x}, fit minimum)"}.get(self.signed, "{x}")

    def modelled(self, x):
        """What ``decode(encode(x))`` reconstructs: ``max(x, 0)`` (relu), ``max(x, m)`` (shift: m the
        per-unit minimum at fit, clamped at 0), ``x`` (error)."""
        from interpreto_core.plugin import as_matrix

        x = as_matrix(x)
        if self.signed == "relu":
            return x.clamp_min(0)
        if self.signed == "shift":
            self._assert_fitted()
            return torch_max(x, self.offset)
        return x

    def _fit(self, a, *, progress=None):
        import torch
        from overcomplete.optimization import NMF as OcNMF

        self.offset = a.min(0).values.clamp_max(0) if self.signed == "shift" else None
        x = self._prepare(a)
        model = OcNMF(nb_concepts=self.n_concepts, solver=self.solver)
        _, d = model.fit(x, max_iter=self.max_iter)
        self.components = torch.as_tensor(d, dtype=torch.float32).detach()


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(NMF, name="nmf", summary="Non-negative matrix factorisation (Z >= 0, D >= 0); signed= relu/shift option.",
             reference="Lee & Seung, Learning the parts of objects by non-negative matrix factorization, Nature 1999")
