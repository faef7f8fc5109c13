"""Every registered dictionary learner fits awkward row counts (1, odd, just below / above a batch size)
and float16 activations: it gives finite codes and reconstructions of the right shapes, or (too few
rows for the method) a clear ``InputError`` -- never an exception from deep inside a solver."""

from __future__ import annotations

import pytest
import torch

from interpreto_core import InputError
from interpreto_core.concepts import make_learner
from interpreto_core.testing import builtin_registry

HIDDEN, CONCEPTS, BATCH = 8, 6, 64
ROW_COUNTS = (1, 7, 63, 255, 257, 1300)
REGISTRY = builtin_registry()
NAMES = tuple(REGISTRY.names("dictionary_learner"))


def _params(name):
    rec = REGISTRY.get("dictionary_learner", name)
    params = {"n_concepts": CONCEPTS}
    for key, value in (("epochs", 2), ("batch_size", BATCH), ("top_k", 2), ("n_points", 16), ("max_iter", 30),
                       ("signed", "shift"), ("n_init", 1)):
        if key in rec.params:
            params[key] = value
    return params


def _rows(n, dtype):
    g = torch.Generator().manual_seed(n)
    z = torch.rand(n, 3, generator=g)
    return (z @ torch.randn(3, HIDDEN, generator=g) + 0.1 * torch.randn(n, HIDDEN, generator=g)).to(dtype)


CASES = [(name, n, torch.float32) for name in NAMES for n in ROW_COUNTS]
CASES += [(name, n, torch.float16) for name in NAMES for n in (7, 257)]


def test_the_registry_has_the_built_in_learners():
    assert len(NAMES) >= 16 and {"batchtopk_sae", "topk_sae", "nmf", "pca", "kmeans"} <= set(NAMES)


@pytest.mark.parametrize(("name", "n", "dtype"), CASES, ids=[f"{c[0]}-{c[1]}-{str(c[2])[6:]}" for c in CASES])
def test_learner_fits_awkward_row_counts(name, n, dtype):
    x = _rows(n, dtype)
    learner = make_learner(name, registry=REGISTRY, **_params(name))
    # supervised learners (CAVs) get two alternating classes
    kwargs = {"labels": [i % 2 for i in range(n)]} if getattr(learner, "supervised", False) else {}
    if n < CONCEPTS:
        try:
            learner.fit(x, progress=False, **kwargs)
        except InputError as exc:  # a method may need more rows; it must say so in one line
            assert "\n" not in str(exc) and "Traceback" not in str(exc)
            return
    else:
        learner.fit(x, progress=False, **kwargs)  # enough rows for every method: no learner may refuse
    with torch.no_grad():
        z = learner.encode(x.float())
        x_hat = learner.decode(z)
    c = int(learner.dictionary.shape[0])
    assert c == (HIDDEN if name == "neurons" else 2 if kwargs else CONCEPTS)
    assert z.shape == (n, c) and x_hat.shape == (n, HIDDEN)
    assert torch.isfinite(z).all() and torch.isfinite(x_hat).all()
    if name in ("topk_sae", "ra_topk_sae"):
        assert int((z != 0).sum(1).max()) <= 2
    if name == "batchtopk_sae":  # k codes per row of each training batch, the short last one included
        assert all(l0 <= 2 + 1e-9 for l0 in learner.training_log["l0"])


@pytest.mark.parametrize("n", [1, 63, 257, 1300])
def test_batchtopk_defaults_on_any_row_count(n):
    """The issue's crash: with batch_size 256 and top_k 5, a last batch of under 64 rows asked topk for
    more codes than it had. N = 1300 leaves a last batch of 20 rows; 257 one of 1 row (skipped)."""
    x = _rows(n, torch.float32)
    learner = make_learner("batchtopk_sae", registry=REGISTRY, n_concepts=20, epochs=2)
    if n == 1:
        with pytest.raises(InputError, match="at least 2 activation rows"):
            learner.fit(x, progress=False)
        return
    learner.fit(x, progress=False)
    z = learner.encode(x)
    assert z.shape == (n, 20) and torch.isfinite(z).all() and learner.module.running_threshold is not None
    assert all(l0 <= 5 + 1e-9 for l0 in learner.training_log["l0"])


def test_batchtopk_short_batch_keeps_k_codes_per_row():
    """Hand check of the training mask: a batch of 3 rows keeps the 3 * k largest codes of the batch."""
    learner = make_learner("batchtopk_sae", registry=REGISTRY, n_concepts=10, top_k=2, epochs=1, batch_size=256)
    learner.fit(_rows(40, torch.float32), progress=False)
    module = learner.module.train()
    x = learner._normalise(_rows(3, torch.float32))
    with torch.no_grad():
        _, codes = module.encoder(x)
        _, z = module.encode(x)
    kept = torch.topk(codes.reshape(-1), 6).values
    assert int((z > 0).sum()) == int((kept > 0).sum())
    assert torch.equal(torch.sort(z[z > 0]).values, torch.sort(kept[kept > 0]).values)
