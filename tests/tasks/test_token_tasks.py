"""The three token-level tasks (token classification, extractive QA, masked LM) under one set of checks:
occlusion equals a hand computation, IG completeness, every method, metrics, JSON, no mutation."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import interpreto_core
from interpreto_core import Explanation

METHODS = [
    "occlusion", "lime", "kernel_shap", "sobol", "saliency", "input_x_gradient", "integrated_gradients",
    "smoothgrad", "vargrad", "squaregrad", "gradient_shap",
]
SMALL = {"n_samples": 8, "n_steps": 4}

QUESTION, CONTEXT = "Where does John Smith live?", "John Smith lives in Paris, the capital of France."
CASES = {
    "token_classification": ("token_classifier", "John Smith lives in Paris, France."),
    "question_answering": ("qa_model", (QUESTION, CONTEXT)),
    "masked_lm": ("masked_lm", "John Smith lives in [MASK], the capital of [MASK]."),
}


@pytest.fixture(params=list(CASES))
def case(request, tokenizer):
    task = request.param
    fixture, text = CASES[task]
    return task, request.getfixturevalue(fixture), text


def _small(method: str) -> dict:
    reg = interpreto_core.get_registry()
    recipe = reg.get("attribution", method).obj
    accepted = set()
    for kind, name in (("perturbator", recipe.perturbator), ("gradient_method", recipe.gradient_method)):
        if name:
            accepted |= set(reg.get(kind, name).params)
    params = {k: v for k, v in SMALL.items() if k in accepted}
    if method == "kernel_shap":
        params["n_samples"] = 32  # at least n_elements + 2 (the QA pair has 18 words)
    return params


# -- hand computations: the model run directly on token ids / embeddings, its output read by hand --------
def _forward(task, model, tokenizer, text, *, ids=None, embeds=None):
    kwargs = {"input_ids": ids} if embeds is None else {"inputs_embeds": embeds}
    if task == "question_answering":
        types = torch.tensor(tokenizer(*text)["token_type_ids"])
        n = len(ids if embeds is None else embeds)
        kwargs["token_type_ids"] = types[None].expand(n, -1)
    with torch.no_grad():
        return model(**kwargs)


def _hand_score(task, out, target):
    """The default score of each row (``(N,)``) for ``target``, read by hand."""
    if task == "token_classification":  # logit at the element's first token
        return out.logits[:, target.position, target.index]
    if task == "question_answering":  # start logit + end logit
        return out.start_logits[:, target.index] + out.end_logits[:, target.info["end"]]
    return torch.log_softmax(out.logits[:, target.position], -1)[:, target.index]  # masked LM: log p(token)


def test_the_three_tasks_claim_their_models(token_classifier, qa_model, masked_lm, tokenizer):
    for model, name in ((token_classifier, "token_classification"), (qa_model, "question_answering"),
                        (masked_lm, "masked_lm")):
        task = interpreto_core.Explainer(model, tokenizer, method="occlusion").task
        assert task.name == name and type(task).priority < 100 and task.input_help and type(task).__doc__
        assert interpreto_core.get_registry().get("task", name).obj is type(task)


def test_occlusion_equals_the_hand_computation(case, tokenizer):
    task, model, text = case
    expl = interpreto_core.explain(model, tokenizer, text, method="occlusion", granularity="word", task=task)[0]
    ids = torch.tensor(expl.token_ids)
    rows = ids[None].repeat(len(expl.elements) + 1, 1)
    for e, group in enumerate(expl.token_groups):
        rows[e + 1, list(group)] = tokenizer.mask_token_id
    out = _forward(task, model, tokenizer, text, ids=rows)
    n_e = len(expl.elements)
    if task == "token_classification":
        assert len(expl.targets) == n_e  # every element's predicted label: an E x E matrix
    for t, target in enumerate(expl.targets):
        s = _hand_score(task, out, target)
        np.testing.assert_allclose(expl.scores[t], (s[0] - s[1:]).numpy(), rtol=0, atol=1e-5)
    assert expl.scores.shape == (len(expl.targets), n_e)


def test_integrated_gradients_completeness(case, tokenizer):
    task, model, text = case
    expl = interpreto_core.explain(model, tokenizer, text, method="integrated_gradients", n_steps=64,
                                   completeness_delta=True, task=task)[0]
    ids = torch.tensor(expl.token_ids)[None]
    x = model.get_input_embeddings()(ids).detach()
    b = x.clone()
    covered = sorted({t for g in expl.token_groups for t in g})
    b[0, covered] = 0.0  # zero baseline on element tokens, special (and mask) tokens kept
    out = _forward(task, model, tokenizer, text, embeds=torch.cat([x, b]))
    delta = np.array(expl.extras["completeness_delta"])
    assert len(delta) == len(expl.targets)
    for t, target in enumerate(expl.targets):
        fx, fb = _hand_score(task, out, target).tolist()
        assert abs(expl.scores[t].sum() - delta[t] - (fx - fb)) < 1e-4  # delta is measured against f(x) - f(b)
        assert abs(delta[t]) <= 1e-2 * abs(fx - fb), (target.label, delta[t], fx - fb)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_runs(case, tokenizer, method):
    task, model, text = case
    expl = interpreto_core.explain(model, tokenizer, [text, text], method=method, task=task, **_small(method))
    for e in expl:
        assert e.task == task and e.scores.shape == (len(e.targets), len(e.elements))
        assert np.isfinite(e.scores).all() and np.abs(e.scores).max() > 0
    np.testing.assert_allclose(expl[0].scores, expl[1].scores, rtol=1e-5, atol=1e-6)  # same input, same result


def test_metrics_and_json_round_trip(case, tokenizer, tmp_path):
    task, model, text = case
    expls = interpreto_core.explain(model, tokenizer, [text], method="occlusion", task=task)
    expls += interpreto_core.explain(model, tokenizer, [text], method="saliency", task=task)
    for e in expls:
        assert Explanation.from_json(e.to_json()) == e
        back = Explanation.from_json(e.save(tmp_path / "e.json"))
        assert back == e and back.targets == e.targets
    for e in expls:
        results = interpreto_core.evaluate(model, tokenizer, [e], metrics=["deletion", "insertion"])
        assert set(results) == {"deletion", "insertion"}
        assert all(np.isfinite(float(r.mean)) for r in results.values())


def test_the_model_and_tokenizer_are_not_mutated(case, tokenizer):
    task, model, text = case
    state = copy.deepcopy(model.state_dict())
    pad, config = tokenizer.pad_token, model.config.to_dict()
    backend = tokenizer.backend_tokenizer
    truncation, padding = backend.truncation, backend.padding
    model.train()
    try:
        with pytest.warns(UserWarning, match="training mode"):
            interpreto_core.explain(model, tokenizer, text, method="integrated_gradients", n_steps=4, task=task)
        assert model.training
    finally:
        model.eval()
    interpreto_core.explain(model, tokenizer, text, method="lime", n_samples=8, task=task)
    interpreto_core.evaluate(model, tokenizer, interpreto_core.explain(model, tokenizer, text, method="occlusion"),
                             metrics=["deletion"])
    assert tokenizer.pad_token == pad and model.config.to_dict() == config
    assert backend.truncation == truncation and backend.padding == padding  # QA truncates only_second
    after = model.state_dict()
    assert state.keys() == after.keys() and all(torch.equal(state[k], after[k]) for k in state)
    assert all(p.grad is None for p in model.parameters())


def test_forward_calls_are_batched(case, tokenizer):
    task, model, text = case
    explainer = interpreto_core.Explainer(model, tokenizer, method="occlusion", task=task, batch_size=64)
    expl = explainer.explain([text] * 3)
    assert explainer.forward_calls == 1  # 3 x (E + 1) rows in one pass
    explainer = interpreto_core.Explainer(model, tokenizer, method="integrated_gradients", n_steps=4, task=task,
                                          batch_size=8)
    expl = explainer.explain(text)[0]
    # every target reads the whole text: one row per point carries all of them (one backward pass each)
    assert explainer.forward_rows == 4 and explainer.forward_calls == 1 and len(expl.targets) >= 1
