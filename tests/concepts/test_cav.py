"""CAV learner (linear probes) and TCAV (Kim et al. 2018): planted directions, hand-computed scores, p-values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interpreto_core import InputError
from interpreto_core.concepts import SplitModel, load_learner, make_learner, tcav
from interpreto_core.concepts._cav import _p_value
from interpreto_core.testing import check_dictionary_learner
from interpreto_core.zoo import load_ag_news

TEXTS = ["the cat sat on the mat", "a dog ran in the park", "stocks fell sharply", "the team won the final",
         "new chips use less power", "rain is expected tomorrow", "the bank raised rates", "a goal in extra time"]
LABELS = ["animal", "animal", "money", "sport", "tech", "animal", "money", "sport"]


def _planted(n=400, h=16, seed=0):
    g = np.random.default_rng(seed)
    u = g.normal(size=h)
    u /= np.linalg.norm(u)
    x = g.normal(size=(n, h)) + 3.0
    return x, u, (x - 3.0) @ u > 0


def test_cav_recovers_a_planted_direction(tmp_path):
    x, u, y = _planted()
    cav = make_learner("cav").fit(torch.tensor(x, dtype=torch.float32), labels=y.astype(int))
    assert cav.concept_names == ["0", "1"] and cav.n_concepts == 2
    assert float(cav.cavs[1].double() @ torch.tensor(u)) > 0.9  # concept "1" points along u
    assert float(cav.cavs[0].double() @ torch.tensor(u)) < -0.9
    assert cav.accuracy[1] > 0.9 and cav.train_accuracy[1] > 0.9
    codes = cav.encode(torch.tensor(x, dtype=torch.float32))  # projections on the unit CAVs
    np.testing.assert_allclose(codes[:, 1].numpy(), (x - x.mean(0)) @ cav.cavs[1].double().numpy(), atol=1e-3)
    loaded = load_learner(cav.save(tmp_path / "cav"))
    assert loaded.concept_names == ["0", "1"] and loaded.accuracy == cav.accuracy
    torch.testing.assert_close(loaded.cavs, cav.cavs)


def test_cav_multi_hot_labels_and_errors():
    x, u, y = _planted()
    w = np.random.default_rng(1).normal(size=16)
    y2 = np.stack([y, (x - 3.0) @ w > 0], 1).astype(int)
    cav = make_learner("cav", concepts=["along_u", "along_w"]).fit(torch.tensor(x).float(), labels=y2)
    assert cav.concept_names == ["along_u", "along_w"]
    assert float(cav.cavs[0].double() @ torch.tensor(u)) > 0.9
    assert float(cav.cavs[1].double() @ torch.tensor(w / np.linalg.norm(w))) > 0.9
    with pytest.raises(InputError, match="cav is supervised"):
        make_learner("cav").fit(torch.tensor(x).float())
    with pytest.raises(InputError, match="one label per activation row"):
        make_learner("cav").fit(torch.tensor(x).float(), labels=[0, 1])
    with pytest.raises(InputError, match="only"):
        make_learner("cav").fit(torch.tensor(x).float(), labels=[1] * len(x))


def test_cav_conforms():
    from plugins.concepts.cav import CAV

    check_dictionary_learner(CAV)


def _hand_sensitivity(model, tokenizer, layer_module, text, k, v):
    """sum over the text's real tokens of d logit_k / d h_p . v, by a forward hook on a test-owned forward."""
    enc = tokenizer(text, return_tensors="pt")
    store = {}

    def hook(module, inputs, output):
        h = (output[0] if isinstance(output, tuple) else output).detach().requires_grad_(True)
        store["h"] = h
        return h if not isinstance(output, tuple) else (h, *output[1:])

    handle = layer_module.register_forward_hook(hook)
    try:
        logit = model(**enc).logits[0, k]
    finally:
        handle.remove()
    (grad,) = torch.autograd.grad(logit, store["h"])
    return float(grad[0, 1:-1].sum(0) @ v)  # [CLS] and [SEP] are not part of a "sample" row


def test_tcav_score_is_the_fraction_of_positive_directional_derivatives(classifier, tokenizer):
    split = SplitModel(classifier, tokenizer, split_points=0)
    res = tcav(split, TEXTS, LABELS, n_random=3, batch_size=3, progress=False)
    cavs = res.learner.cavs.double()
    assert {s.concept for s in res.scores} == {"animal", "money", "sport", "tech"}
    assert len(res.scores) == 4 * 3  # every concept x every class
    for c, name in enumerate(res.learner.concept_names):
        for k in range(3):
            sens = [_hand_sensitivity(classifier, tokenizer, classifier.bert.encoder.layer[0], t, k,
                                      cavs[c].float()) for t in TEXTS]
            got = res.score(name, k)
            assert got.score == pytest.approx(np.mean(np.array(sens) > 0))
            assert got.n_inputs == len(TEXTS) and len(got.random_runs) == 3 and 0 <= got.p_value <= 1
    only = tcav(split, TEXTS, LABELS, n_random=2, targets=[2], eval_labels=[2, 2, 0, 0, 1, 1, 2, 0], progress=False)
    assert {s.target for s in only.scores} == {2} and all(s.n_inputs == 3 for s in only.scores)
    assert "<table" in only._repr_html_() and "| concept | class |" in str(only)


def test_tcav_p_value_is_large_for_a_random_concept(classifier, tokenizer):
    texts = [t for t, _ in load_ag_news()[::10]]  # 40 real texts
    random_labels = np.random.default_rng(0).integers(0, 2, len(texts)).tolist()
    split = SplitModel(classifier, tokenizer, split_points=1)
    res = tcav(split, texts, random_labels, n_random=10, targets=[0, 1], progress=False)
    p = [s.p_value for s in res.scores]
    assert min(p) > 0.05, p  # a concept made of random labels is no different from random directions


def test_p_value_is_welchs_t_test():
    from scipy import stats

    a, b = np.array([0.9, 0.8, 1.0, 0.85]), np.array([0.5, 0.4, 0.6, 0.55, 0.45])
    assert _p_value(a, b) == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert _p_value(np.ones(3), np.ones(3)) == 1.0 and _p_value(np.ones(3), np.zeros(3)) == 0.0


def test_tcav_errors(classifier, tokenizer):
    split = SplitModel(classifier, tokenizer, split_points=0)
    with pytest.raises(InputError, match="one label per text"):
        tcav(split, TEXTS, LABELS[:2], progress=False)
    with pytest.raises(InputError, match="n_random"):
        tcav(split, TEXTS, LABELS, n_random=1, progress=False)
    with pytest.raises(InputError, match="SplitModel"):
        tcav(classifier, TEXTS, LABELS, progress=False)


def test_tcav_warns_when_the_score_does_not_depend_on_the_moved_positions(classifier, tokenizer):
    # BERT classifies from [CLS] only: after the last block, moving the other tokens changes nothing
    split = SplitModel(classifier, tokenizer, split_points=1)
    with pytest.warns(UserWarning, match="granularity='first_token'"):
        res = tcav(split, TEXTS, LABELS, n_random=2, targets=[0], progress=False)
    assert all(s.score == 0.0 for s in res.scores)
    first = tcav(split, TEXTS, LABELS, n_random=2, targets=[0], granularity="first_token", progress=False)
    assert any(s.score > 0 for s in first.scores)
