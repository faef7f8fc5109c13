"""Insertion / deletion / ERASER metrics against a one-input-at-a-time reference on token ids.

The reference masks elements by writing the [MASK] id into ``input_ids`` (the metric engine
writes the [MASK] embedding into ``inputs_embeds``: the same input reached another way), runs
the model on one input at a time and integrates with numpy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from interpreto_core import InputError
from interpreto_core.metrics import evaluate


def _reference_prob(model, tokenizer, expl, keep):
    """Softmax probability of the explanation's first target with elements ``keep[e] == 0`` masked."""
    enc = tokenizer(expl.text, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    for e, (start, end) in enumerate(expl.spans):
        if keep[e]:
            continue
        for t, (a, b) in enumerate(enc["offset_mapping"]):
            if b > a and start <= a < end:
                ids[t] = tokenizer.mask_token_id
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0]
    return float(torch.softmax(logits, -1)[expl.targets[0].index])


def _order(expl):
    return np.argsort(-expl.scores[0], kind="stable")


def test_insertion_and_deletion_match_reference(classifier, tokenizer, occlusion_expls):
    res = evaluate(classifier, tokenizer, occlusion_expls, metrics=["insertion", "deletion"])
    for i, expl in enumerate(occlusion_expls):
        n = len(expl.elements)
        order = _order(expl)
        x = np.arange(n + 1) / n
        ins, dele = [], []
        for k in range(n + 1):
            keep = np.zeros(n)
            keep[order[:k]] = 1
            ins.append(_reference_prob(classifier, tokenizer, expl, keep))
            dele.append(_reference_prob(classifier, tokenizer, expl, 1 - keep))
        np.testing.assert_allclose(res["insertion"].curves[i][0], ins, atol=1e-5)
        np.testing.assert_allclose(res["deletion"].curves[i][0], dele, atol=1e-5)
        assert res["insertion"].values[i] == pytest.approx(np.trapezoid(ins, x), abs=1e-5)
        assert res["deletion"].values[i] == pytest.approx(np.trapezoid(dele, x), abs=1e-5)
    assert res["insertion"].mean == pytest.approx(np.mean(res["insertion"].values))
    assert res["deletion"].higher_is_better is False and res["insertion"].higher_is_better is True


def test_eraser_metrics_match_reference(classifier, tokenizer, occlusion_expls):
    res = evaluate(classifier, tokenizer, occlusion_expls, metrics=["comprehensiveness", "sufficiency"])
    fractions = (0.01, 0.05, 0.1, 0.2, 0.5)
    for i, expl in enumerate(occlusion_expls):
        n = len(expl.elements)
        order = _order(expl)
        full = _reference_prob(classifier, tokenizer, expl, np.ones(n))
        comp, suff = [], []
        for f in fractions:
            k = min(n, max(1, math.ceil(f * n)))
            top = np.zeros(n)
            top[order[:k]] = 1
            comp.append(full - _reference_prob(classifier, tokenizer, expl, 1 - top))
            suff.append(full - _reference_prob(classifier, tokenizer, expl, top))
        assert res["comprehensiveness"].values[i] == pytest.approx(np.mean(comp), abs=1e-5)
        assert res["sufficiency"].values[i] == pytest.approx(np.mean(suff), abs=1e-5)
        np.testing.assert_allclose(res["comprehensiveness"].x[i], fractions)


def test_batch_size_does_not_change_results(classifier, tokenizer, occlusion_expls):
    a = evaluate(classifier, tokenizer, occlusion_expls, metrics=["deletion"], batch_size=1)["deletion"]
    b = evaluate(classifier, tokenizer, occlusion_expls, metrics=["deletion"], batch_size=7)["deletion"]
    np.testing.assert_allclose(a.values, b.values, atol=1e-5)
    np.testing.assert_allclose(a.random_values, b.random_values, atol=1e-5)


def test_random_baseline_is_seeded(classifier, tokenizer, occlusion_expls):
    run = lambda seed: evaluate(  # noqa: E731
        classifier, tokenizer, occlusion_expls, metrics=["insertion"], seed=seed, n_random=3
    )["insertion"]
    a, b, c = run(0), run(0), run(1)
    np.testing.assert_array_equal(a.random_values, b.random_values)
    assert not np.allclose(a.random_values, c.random_values)
    np.testing.assert_array_equal(a.values, c.values)  # the method's curve does not depend on the seed


def test_n_steps_subsamples_the_curve(classifier, tokenizer, occlusion_expls):
    res = evaluate(classifier, tokenizer, occlusion_expls, metrics=["insertion"], n_steps=2)["insertion"]
    for x, c in zip(res.x, res.curves, strict=True):
        np.testing.assert_allclose(x, [0, 0.5, 1.0], atol=0.2)
        assert c.shape == (1, 3)
    grid, mean = res.mean_curve()
    assert grid.shape == mean.shape == (101,)


def test_a_perfect_and_an_inverted_order(classifier, tokenizer, occlusion_expls):
    """Comprehensiveness rewards putting the element whose removal hurts most first."""
    import attrs

    expl = occlusion_expls[0]
    good = evaluate(classifier, tokenizer, [expl], metrics=["comprehensiveness"])["comprehensiveness"]
    bad = evaluate(classifier, tokenizer, [attrs.evolve(expl, scores=-expl.scores)],
                   metrics=["comprehensiveness"])["comprehensiveness"]
    # occlusion's top element is by definition the one whose single deletion drops the score most
    assert good.values[0] > bad.values[0]


def test_causal_lm_curves_respect_causality(causal_lm, tokenizer, lm_expls):
    res = evaluate(causal_lm, tokenizer, lm_expls, metrics=["deletion", "sufficiency"])
    expl = lm_expls[0]
    n_prompt = len(expl.elements) - sum(expl.generated)
    curves = res["deletion"].curves[0]
    assert curves.shape[0] == len(expl.targets)
    # the longest curve (last target) moves every element, one at a time
    assert len(res["deletion"].x[0]) == n_prompt + len(expl.targets) - 1 + 1
    assert np.all((curves >= 0) & (curves <= 1))
    assert np.isfinite(res["sufficiency"].values).all()


def test_mismatched_explanation_is_refused(classifier, tokenizer, occlusion_expls):
    import attrs

    expl = occlusion_expls[1]  # "unflinchingly" is several word pieces
    # an explanation saved without its token ids (format 1) is re-tokenized: elements must match
    wrong = attrs.evolve(expl, granularity="token", token_ids=(), token_groups=(), visible=None, task=None)
    with pytest.raises(InputError, match="re-tokenizing"):
        evaluate(classifier, tokenizer, [wrong], metrics=["insertion"])
    with pytest.raises(InputError, match="non-empty"):
        evaluate(classifier, tokenizer, [], metrics=["insertion"])


def test_random_baseline_is_computed_once_per_metric_object(classifier, tokenizer, occlusion_expls, monkeypatch):
    """Reusing one metric object across methods on the same texts reuses the random curves."""
    from interpreto_core import explain
    from interpreto_core.metrics import _curves
    from interpreto_plugins.metrics.deletion import Deletion

    saliency = explain(classifier, tokenizer, [e.text for e in occlusion_expls], method="saliency")
    rows = []
    real = _curves.score_masks
    monkeypatch.setattr(_curves, "score_masks",
                        lambda a, i, jobs, **k: rows.append(sum(len(j.masks) for j in jobs)) or real(a, i, jobs, **k))
    metric = Deletion(n_random=2)
    first = metric.compute(occlusion_expls, model=classifier, tokenizer=tokenizer)
    second = metric.compute(saliency, model=classifier, tokenizer=tokenizer)
    alone = Deletion(n_random=2).compute(saliency, model=classifier, tokenizer=tokenizer)
    np.testing.assert_allclose(second.random_values, alone.random_values)
    np.testing.assert_allclose(second.values, alone.values)
    np.testing.assert_allclose(first.random_values, alone.random_values)
    assert rows[1] < rows[2] / 2  # the second run scored only the method's curves (and full inputs)
