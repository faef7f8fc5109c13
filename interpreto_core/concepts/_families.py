"""Families of dictionary learners that the built-in plugins specialise.

- :class:`AffineLearner`: ``encode(x) = (x - mean) E``, ``decode(z) = z D + mean`` (PCA, SVD, ICA,
  sparse PCA, neurons): exact, differentiable, stored as three matrices.
- :class:`NonNegativeLearner`: codes solve ``min_Z 0.5 ||X - Z D||^2 + alpha ||Z||_1`` (with
  ``Z >= 0`` for the NMF family) by FISTA, in torch and batched (NMF, semi-NMF, convex NMF,
  dictionary learning).
- :class:`SAELearner`: an overcomplete sparse autoencoder trained with Adam (vanilla, TopK,
  BatchTopK, JumpReLU, matching pursuit, relaxed archetypal TopK).

torch is imported inside functions only (see ``_learner``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import InputError
from ._learner import FAMILY_SHAPES, DictionaryLearner

if TYPE_CHECKING:
    import torch

__all__ = ["AffineLearner", "NonNegativeLearner", "SAELearner", "fista_codes"]


class AffineLearner(DictionaryLearner):
    """``encode(x) = (x - mean) @ encoder``; ``decode(z) = z @ components + mean``.

    Subclasses implement ``_fit`` and set ``self.mean (H,)``, ``self.encoder (H, C)`` and
    ``self.components (C, H)`` (float32 tensors; ``self._set(mean=, encoder=, components=)``
    converts arrays); ``state`` / ``load_state`` save and restore the three.
    """

    state_shapes = FAMILY_SHAPES

    mean: torch.Tensor
    encoder: torch.Tensor
    components: torch.Tensor

    def encode(self, x: Any) -> torch.Tensor:
        x = self._input(x)
        return (x - self.mean) @ self.encoder

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        self._assert_fitted()
        return z.float() @ self.components + self.mean

    @property
    def dictionary(self) -> torch.Tensor:
        self._assert_fitted()
        return self.components

    def state(self) -> dict[str, torch.Tensor]:
        return {"mean": self.mean, "encoder": self.encoder, "components": self.components}

    def load_state(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        self.mean, self.encoder, self.components = tensors["mean"], tensors["encoder"], tensors["components"]

    def _set(self, *, mean: Any, encoder: Any, components: Any) -> None:
        import torch

        def t(a: Any) -> torch.Tensor:
            return torch.as_tensor(a, dtype=torch.float32).contiguous()

        self.mean, self.encoder, self.components = t(mean), t(encoder), t(components)


def fista_codes(
    x: torch.Tensor,
    dictionary: torch.Tensor,
    *,
    alpha: float = 0.0,
    nonnegative: bool = True,
    n_iter: int = 300,
    tol: float = 1e-6,
    chunk: int = 8192,
) -> torch.Tensor:
    """Codes ``Z`` minimising ``0.5 ||X - Z D||_F^2 + alpha ||Z||_1`` (``Z >= 0`` if ``nonnegative``).

    FISTA (Beck & Teboulle, 2009) with step ``1/L``, ``L = lambda_max(D D^T)``, warm-started at
    the (clipped) least-squares solution; rows in chunks of ``chunk``.
    """
    import torch

    d = dictionary.float()
    gram = d @ d.T
    lipschitz = float(torch.linalg.eigvalsh(gram)[-1].clamp_min(1e-12))
    pinv = torch.linalg.pinv(d)  # (H, C)
    out = []
    for start in range(0, x.shape[0], chunk):
        xb = x[start : start + chunk].float()
        b = xb @ d.T
        z = xb @ pinv
        z = z.clamp_min(0) if nonnegative else z
        y, t = z, 1.0
        for _ in range(n_iter):
            v = y - (y @ gram - b) / lipschitz
            if nonnegative:
                z_next = (v - alpha / lipschitz).clamp_min(0)
            else:
                z_next = torch.sign(v) * (v.abs() - alpha / lipschitz).clamp_min(0)
            t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
            y = z_next + ((t - 1) / t_next) * (z_next - z)
            delta = float((z_next - z).norm()) / (float(z.norm()) + 1e-12)
            z, t = z_next, t_next
            if delta < tol:
                break
        out.append(z)
    return torch.cat(out)


class NonNegativeLearner(DictionaryLearner):
    """Codes from a fixed dictionary by (non-negative) sparse least squares: see :func:`fista_codes`.

    Subclasses implement ``_fit`` and set ``self.components (C, H)``; ``offset (H,)`` is added
    back on decoding (the NMF ``shift`` option); ``alpha`` / ``nonnegative`` choose the code
    problem. ``state`` / ``load_state`` save and restore ``components`` and ``offset``.
    """

    state_shapes = FAMILY_SHAPES

    components: torch.Tensor
    offset: torch.Tensor | None = None
    alpha_codes: float = 0.0
    nonnegative_codes: bool = True
    encode_iterations: int = 300

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Map activations into the space the dictionary lives in (identity by default)."""
        return x

    def encode(self, x: Any) -> torch.Tensor:
        x = self._prepare(self._input(x))
        return fista_codes(
            x, self.components, alpha=self.alpha_codes, nonnegative=self.nonnegative_codes,
            n_iter=self.encode_iterations
        )

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        self._assert_fitted()
        out = z.float() @ self.components
        return out + self.offset if self.offset is not None else out

    @property
    def dictionary(self) -> torch.Tensor:
        self._assert_fitted()
        return self.components

    def state(self) -> dict[str, torch.Tensor]:
        state = {"components": self.components}
        if self.offset is not None:
            state["offset"] = self.offset
        return state

    def load_state(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        self.components = tensors["components"]
        self.offset = tensors.get("offset")


class SAELearner(DictionaryLearner):
    """A sparse autoencoder from overcomplete, trained with Adam on ``(x - mean) * scale``.

    Activations are centred (``center``) and scaled so that their mean squared norm equals the
    hidden size; ``dictionary`` and ``decode`` are given back in activation units:
    ``decode(z) = SAE.decode(z) / scale + mean``.

    Loss per batch: ``mean((x - x_hat)^2) + l1 * mean(|z|)``.

    Parameters
    ----------
    n_concepts, seed:
        As every learner.
    epochs, batch_size, lr:
        Adam training schedule (cosine-free: constant learning rate, gradient clipping at 1).
    l1:
        Weight of the L1 penalty on codes (0 for the TopK family, whose sparsity is structural).
    center:
        Subtract the activations' mean before encoding.

    Subclasses implement ``_build(hidden, data)`` returning the overcomplete SAE module
    (``data``: the normalised training rows, or on loading the saved ``module.dictionary.C``
    tensor if any, for SAEs initialised from data). ``state`` / ``load_state`` save the module's
    state dict, ``mean`` and ``scale``; non-tensor state goes through ``extra_config()`` and
    is given back to ``_restore_extra(extra)`` on loading.
    """

    state_shapes = FAMILY_SHAPES

    module: Any = None

    def __init__(
        self,
        *,
        n_concepts: int = 20,
        seed: int = 0,
        epochs: int = 20,
        batch_size: int = 256,
        lr: float = 1e-3,
        l1: float = 0.0,
        center: bool = True,
    ) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed)
        for name, value in (("epochs", epochs), ("batch_size", batch_size)):
            if not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        self.epochs, self.batch_size, self.lr, self.l1, self.center = epochs, batch_size, lr, l1, center

    # subclasses build the overcomplete module
    def _build(self, hidden: int, data: torch.Tensor | None) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) * self.scale

    def _check_fit_input(self, a: torch.Tensor) -> None:
        if a.shape[0] < 2:
            raise InputError(f"a sparse autoencoder trains on batches of at least 2 rows: give at least 2 "
                             f"activation rows, got {a.shape[0]}")

    def _fit(self, a: torch.Tensor, *, progress: bool | None) -> None:
        import torch

        device = getattr(self, "_fit_device", torch.device("cpu"))
        mean = a.mean(0) if self.center else torch.zeros(a.shape[1])
        scale = float((a.shape[1] / (a - mean).pow(2).sum(1).mean().clamp_min(1e-12)) ** 0.5)
        gen = torch.Generator().manual_seed(self.seed)  # the same batches on every device
        rows = a.to(device)

        def epoch_batches(epoch: int) -> Any:
            order = torch.randperm(rows.shape[0], generator=gen)
            for start in range(0, rows.shape[0], self.batch_size):
                yield rows[order[start : start + self.batch_size].to(device)]

        self.fit_batches(epoch_batches, mean=mean, scale=scale, init_rows=a, device=device, progress=progress)

    def fit_batches(
        self,
        epoch_batches: Any,
        *,
        mean: torch.Tensor,
        scale: float,
        init_rows: torch.Tensor,
        device: str | torch.device | None = None,
        progress: bool | None = None,
        desc: str | None = None,
    ) -> SAELearner:
        """Train on batches streamed by ``epoch_batches(epoch)`` (an iterable of raw ``(B, H)`` rows).

        The building block of :meth:`fit` and of ``interpreto_core.dataset.fit_from_shards``:
        rows are normalised as ``(x - mean) * scale``, the module is built from ``init_rows``
        (some SAEs initialise from data) on the CPU and moved to ``device``, then trained with Adam
        (gradient clipping at 1) for ``self.epochs`` epochs. Batches of fewer than 2 rows are skipped.
        """
        import torch
        from tqdm.auto import tqdm

        from ._learner import check_device

        device = check_device(device)
        self.hidden_size = int(mean.shape[0])
        self.mean, self.scale = mean.float().to(device), torch.tensor(float(scale), device=device)
        self.module = self._build(self.hidden_size, (init_rows.float() - mean) * scale).to(device)
        optimiser = torch.optim.Adam(self.module.parameters(), lr=self.lr)
        log: dict[str, list[float]] = {"loss": [], "mse": [], "l0": [], "dead_ratio": []}
        self.module.train()
        with tqdm(range(self.epochs), desc=desc or f"fit {self.name}", unit="epoch",
                  disable=None if progress is None else not progress) as bar:
            for epoch in bar:
                fired = torch.zeros(self.n_concepts, dtype=torch.bool, device=device)
                totals = torch.zeros(3, dtype=torch.float64, device=device)  # loss, mse, l0: one sync per epoch
                n_batches = 0
                for x in epoch_batches(epoch):
                    if x.shape[0] < 2:
                        continue
                    x = self._normalise(x.to(device, torch.float32))
                    optimiser.zero_grad()
                    _, z, x_hat = self.module(x)
                    mse = (x - x_hat).pow(2).mean()
                    loss = mse + self.l1 * z.abs().mean() if self.l1 else mse
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(self.module.parameters(), 1.0)
                    optimiser.step()
                    with torch.no_grad():
                        active = z.abs() > 0
                        fired |= active.any(0)
                        totals += torch.stack([loss.detach(), mse.detach(), active.float().sum(1).mean()]).double()
                    n_batches += 1
                if n_batches == 0:
                    raise InputError("no training batch had 2 rows or more: give at least 2 activation rows "
                                     "(and a batch_size of at least 2)")
                loss_, mse_, l0_ = (totals / max(n_batches, 1)).tolist()
                log["loss"].append(loss_)
                log["mse"].append(mse_)
                log["l0"].append(l0_)
                log["dead_ratio"].append(1.0 - float(fired.float().mean()))
                bar.set_postfix(loss=f"{loss_:.4f}", l0=f"{l0_:.1f}")
        self.module.eval()
        self.training_log = log
        return self

    def encode(self, x: Any) -> torch.Tensor:
        x = self._input(x)
        _, z = self.module.encode(self._normalise(x))
        return z

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        self._assert_fitted()
        return self.module.decode(z.float()) / self.scale + self.mean

    @property
    def dictionary(self) -> torch.Tensor:
        self._assert_fitted()
        return self.module.get_dictionary().detach() / self.scale

    def state(self) -> dict[str, torch.Tensor]:
        state = {f"module.{k}": v for k, v in self.module.state_dict().items()}
        return state | {"mean": self.mean, "scale": self.scale}

    def load_state(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        self.mean, self.scale = tensors["mean"], tensors["scale"]
        hidden = int(self.mean.shape[0])
        points = tensors.get("module.dictionary.C")
        self.module = self._build(hidden, points)
        self.module.load_state_dict({k[len("module."):]: v for k, v in tensors.items() if k.startswith("module.")})
        self._restore_extra(extra)
        self.module.train()
        self.module.eval()  # overcomplete fuses the dictionary when switching to eval

    def _restore_extra(self, extra: dict[str, Any]) -> None:
        pass
