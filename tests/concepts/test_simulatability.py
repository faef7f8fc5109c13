"""Held-out tests of concept explanations: simulatability (ConSim-style) and concept deletion."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from interpreto_core import InputError
from interpreto_core.concepts import SplitModel, concept_deletion, concept_simulatability, make_learner

WORDS = "cat dog sun moon red blue tree car house road sky sea fish bird rain snow king queen".split()


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) for _ in range(n)]


class _Directions:
    """A hand-built linear dictionary: ``encode(x) = x D^T``, ``decode(z) = z D`` (rows of D orthonormal)."""

    fitted = True

    def __init__(self, rows: np.ndarray) -> None:
        self._d = torch.as_tensor(rows, dtype=torch.float32)

    @property
    def dictionary(self) -> torch.Tensor:
        return self._d

    @property
    def device(self) -> torch.device:
        return self._d.device

    def to(self, device):
        self._d = self._d.to(device)
        return self

    def encode(self, x):
        return x.float() @ self._d.T

    def decode(self, z):
        return z @ self._d


def _pooled_hidden(model, tokenizer, layer, texts):
    """Mean hidden state of each text's tokens at a block output (a test-owned hook)."""
    out = []
    store = {}
    handle = layer.register_forward_hook(lambda m, i, o: store.__setitem__("h", o if torch.is_tensor(o) else o[0]))
    try:
        with torch.no_grad():
            for t in texts:
                model(**tokenizer(t, return_tensors="pt"))
                out.append(store["h"][0].mean(0).numpy())
    finally:
        handle.remove()
    return np.stack(out)


@pytest.fixture(scope="module")
def setting(classifier, tokenizer):
    texts = _texts(160)
    split = SplitModel(classifier, tokenizer, split_points=0)
    pooled = _pooled_hidden(classifier, tokenizer, classifier.bert.encoder.layer[0], texts)
    # the "model output" depends on exactly one known direction u of the pooled hidden state
    centred = pooled - pooled.mean(0)
    u = np.linalg.svd(centred, full_matrices=False)[2][6]  # a minor direction: random ones rarely find it
    outputs = (pooled @ u > np.median(pooled @ u)).astype(int).tolist()
    basis = np.linalg.qr(np.column_stack([u, np.random.default_rng(0).standard_normal((32, 31))]))[0].T
    return split, texts, outputs, basis


def test_a_dictionary_holding_the_direction_simulates_and_one_without_it_does_not(setting):
    split, texts, outputs, basis = setting
    with_u = _Directions(basis[[0, 5, 9, 13]])  # u and 3 orthogonal directions
    without_u = _Directions(basis[[5, 9, 13, 20]])  # 4 directions orthogonal to u
    good = concept_simulatability(split, with_u, texts, outputs=outputs, n_random=8)
    bad = concept_simulatability(split, without_u, texts, outputs=outputs, n_random=8)
    assert good.accuracy >= 0.95 and good.gain >= 0.4
    assert abs(good.no_explanation - 0.5) <= 0.1
    assert bad.accuracy <= good.accuracy - 0.25
    # the dictionary without u is no better than random directions
    assert bad.accuracy <= bad.random_directions + 3 * bad.random_directions_std + 0.05
    assert good.over_random >= 0.2
    assert good.all_units >= 0.9  # u is in the span of the hidden units: a linear reader of all of them finds it
    # the top-1 code of the good dictionary is the u code for most texts only if u dominates; with top_k=1 on a
    # dictionary holding u alone, the simulator still reads it
    only_u = concept_simulatability(split, _Directions(basis[[0]]), texts, outputs=outputs, top_k=1, n_random=4)
    assert only_u.accuracy >= 0.95
    assert only_u.simulator == "logistic" and only_u.n_concepts == 1
    centroid = concept_simulatability(split, with_u, texts, outputs=outputs, simulator="centroid", n_random=2)
    assert centroid.accuracy >= 0.8


def test_heldout_texts_are_never_explanation_texts(setting):
    split, texts, outputs, basis = setting
    dup = texts[:40] + texts[:20]  # repeated texts must fall on one side only
    res = concept_simulatability(split, _Directions(basis[:3]), dup, n_random=2)
    train = {dup[i] for i in res.train_index}
    held = {dup[i] for i in res.heldout_index}
    assert not train & held and len(res.train_index) + len(res.heldout_index) == len(dup)
    assert res.n_heldout == len(res.heldout_index) == len(res.outputs) == len(res.simulated)
    # the simulator sees only the explanation split's outputs: changing held-out outputs changes nothing it predicts
    res = concept_simulatability(split, _Directions(basis[:3]), texts, outputs=outputs, n_random=2)
    changed = list(outputs)
    for i in res.heldout_index:
        changed[i] = 1 - changed[i]
    again = concept_simulatability(split, _Directions(basis[:3]), texts, outputs=changed, n_random=2)
    assert again.simulated == res.simulated and again.outputs != res.outputs
    assert again.accuracy == pytest.approx(1 - res.accuracy)
    with pytest.raises(InputError, match="also explanation texts"):
        concept_simulatability(split, _Directions(basis[:3]), texts[:30], eval_texts=texts[25:40])


def test_eval_texts_and_determinism(setting):
    split, texts, outputs, basis = setting
    learner = _Directions(basis[:4])
    a = concept_simulatability(split, learner, texts[:80], eval_texts=texts[80:], seed=3, n_random=3)
    b = concept_simulatability(split, learner, texts[:80], eval_texts=texts[80:], seed=3, n_random=3)
    assert a.train_index == tuple(range(80)) and a.heldout_index == tuple(range(80, 160))
    assert a.to_json() | {"seconds": 0} == b.to_json() | {"seconds": 0}
    c = concept_simulatability(split, learner, texts, seed=0, n_random=3)
    d = concept_simulatability(split, learner, texts, seed=1, n_random=3)
    assert c.heldout_index != d.heldout_index
    # default outputs are the model's own predictions
    enc = split.tokenizer(texts[80:], return_tensors="pt", padding=True)
    with torch.no_grad():
        predicted = split.model(**enc).logits.argmax(-1).tolist()
    assert list(a.outputs) == predicted


def test_concept_words_reader_and_html(setting):
    split, texts, _, basis = setting
    # outputs: does the text contain "cat"? A concept whose top words are ["cat"] explains it
    outputs = [int("cat" in t.split()) for t in texts]
    res = concept_simulatability(
        split, _Directions(basis[:2]), texts, outputs=outputs, n_random=2, interpretations=[["cat"], ["<b>dog</b>"]]
    )
    assert res.concept_words == 1.0
    html = res._repr_html_()
    assert "<table" in html and "concepts&#x27; top words" in html
    assert [row["reads"] for row in res.table()][-1] == "the concepts' top words in the text"
    assert "| concepts |" in str(res)


@pytest.mark.parametrize("exclude", [None, (0,)])
def test_deletion_matches_a_hook_reference(classifier, tokenizer, exclude):
    texts = _texts(24, seed=1)
    split = SplitModel(classifier, tokenizer, split_points=0)
    # with exclude_positions=(0,), the learner's hygiene leaves [CLS] alone: deletion must too
    neurons = make_learner("neurons").fit(split.collect(texts, progress=False, exclude_positions=exclude))
    importance = np.zeros(32)
    importance[[3, 7]] = [2.0, 1.0]
    res = concept_deletion(split, neurons, texts, k=2, importance=importance, n_random=3, batch_size=5)
    assert res.concepts == (3, 7)
    layer = classifier.bert.encoder.layer[0]
    first = 0 if exclude is None else 1
    drops, flips = [], []

    def zero(module, inputs, output):
        h = (output if torch.is_tensor(output) else output[0]).clone()
        h[:, first:, [3, 7]] = 0
        return h if torch.is_tensor(output) else (h, *output[1:])

    with torch.no_grad():
        for i in res.heldout_index:
            enc = tokenizer(texts[i], return_tensors="pt")
            logits = classifier(**enc).logits[0]
            handle = layer.register_forward_hook(zero)
            try:
                ablated = classifier(**enc).logits[0]
            finally:
                handle.remove()
            y = int(logits.argmax())
            drops.append(float(logits[y] - ablated[y]))
            flips.append(float(int(ablated.argmax()) != y))
    assert res.score_drop == pytest.approx(np.mean(drops), abs=1e-4)
    assert res.flip_rate == pytest.approx(np.mean(flips))
    assert res.n_heldout == 12 and not set(res.train_index) & set(res.heldout_index)
    again = concept_deletion(split, neurons, texts, k=2, importance=importance, n_random=3, batch_size=7)
    assert again.random_drop == pytest.approx(res.random_drop, abs=1e-5)  # batching changes nothing
    assert "<table" in res._repr_html_() and "top 2 concepts" in str(res)
    if exclude is not None:  # and the hygiene changes the answer: every position, [CLS] included
        raw = concept_deletion(split, neurons, texts, k=2, importance=importance, n_random=3, hygiene=False)
        assert abs(raw.score_drop - res.score_drop) > 1e-3


def test_deletion_ranks_by_importance_on_the_explanation_texts(classifier, tokenizer):
    texts = _texts(30, seed=2)
    split = SplitModel(classifier, tokenizer, split_points=1)
    pca = make_learner("pca", n_concepts=6).fit(split.collect(texts, progress=False))
    res = concept_deletion(split, pca, texts, k=2, n_random=4)
    from interpreto_core.concepts import concept_importance

    imp = concept_importance(split, pca, [texts[i] for i in res.train_index], progress=False)
    assert res.concepts == tuple(int(c) for c in np.argsort(-imp.mean_abs, kind="stable")[:2])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s, d, t: concept_simulatability(s, d, []), "texts is empty"),
        (lambda s, d, t: concept_simulatability(s, d, "one text"), "one string"),
        (lambda s, d, t: concept_simulatability(s, d, t, outputs=[0, 1]), "one output per text"),
        (lambda s, d, t: concept_simulatability(s, d, t, simulator="gpt"), "unknown simulator"),
        (lambda s, d, t: concept_simulatability(s, d, t, top_k=0), "top_k"),
        (lambda s, d, t: concept_simulatability(s, d, t, heldout=1.5), "heldout"),
        (lambda s, d, t: concept_simulatability(s, d, t[:2]), "cannot be split"),
        (lambda s, d, t: concept_simulatability(s, d, t, interpretations=[["a"]]), "every concept"),
        (lambda s, d, t: concept_simulatability(s, make_learner("pca", n_concepts=2), t), "not fitted"),
        (lambda s, d, t: concept_deletion(s, d, t, k=3), "k must be"),
        (lambda s, d, t: concept_deletion(s, d, t, k=1, importance=[1.0]), "one number per concept"),
        (lambda s, d, t: concept_simulatability(s, d, t + [""]), "non-empty strings"),
    ],
)
def test_bad_input_gets_a_one_line_error(setting, call, message):
    split, texts, _, basis = setting
    with pytest.raises(InputError, match=message) as info:
        call(split, _Directions(basis[:3]), texts[:20])
    assert "\n" not in str(info.value)


def test_lm_simulator_prompt_and_cached_scores(classifier, tokenizer):
    import copy

    from transformers import GPT2Config, GPT2LMHeadModel

    from interpreto_core.concepts import concept_simulatability_lm

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=1024)
    causal_lm = GPT2LMHeadModel(config).eval()  # a tiny simulator with room for a few-shot prompt

    model = copy.deepcopy(classifier)  # the shared fixture is left as it is
    model.config.id2label = {0: "red", 1: "green", 2: "blue"}
    model.config.label2id = {v: k for k, v in model.config.id2label.items()}
    texts = _texts(40, seed=3)
    split = SplitModel(model, tokenizer, split_points=0)
    pca = make_learner("pca", n_concepts=4).fit(split.collect(texts[:20], progress=False))
    words = [["cat", "dog"], ["sun"], ["sea", "fish"], ["king"]]
    kwargs = dict(interpretations=words, simulator_model=causal_lm, simulator_tokenizer=tokenizer, n_shots=4)
    res = concept_simulatability_lm(split, pca, texts[:20], eval_texts=texts[20:], max_heldout=6, **kwargs)
    assert res.n_heldout == 6 and res.heldout_index == tuple(range(20, 26)) and all(i < 20 for i in res.shot_index)
    assert all(texts[i] not in res.prompt for i in res.heldout_index)
    assert all(texts[i] in res.prompt for i in res.shot_index) and "Concepts detected" not in res.prompt
    # the cached few-shot prefix gives the scores of a full-prompt forward
    enc = tokenizer(texts[20:26], return_tensors="pt", padding=True)
    with torch.no_grad():
        y = model(**enc).logits.argmax(-1).tolist()
    first = [tokenizer(" " + w, add_special_tokens=False).input_ids[0] for w in ("red", "green", "blue")]
    logprobs, hits = [], []
    with torch.no_grad():
        for t, yi in zip(texts[20:26], y, strict=True):
            ids = tokenizer(res.prompt + f"Text: {t}\nOutput:", return_tensors="pt", add_special_tokens=False).input_ids
            lp = causal_lm(input_ids=ids).logits[0, -1][first].log_softmax(-1)
            logprobs.append(float(lp[yi]))
            hits.append(int(lp.argmax()) == yi)
    assert res.conditions["none"]["logprob"] == pytest.approx(np.mean(logprobs), abs=1e-4)
    assert res.conditions["none"]["accuracy"] == pytest.approx(np.mean(hits))
    assert set(res.conditions) == {"none", "concepts", "random"} and res.conditions["none"]["auc"] is None
    again = concept_simulatability_lm(split, pca, texts[:20], eval_texts=texts[20:], max_heldout=6, **kwargs)
    assert again.conditions == res.conditions  # deterministic
    assert "<table" in res._repr_html_() and "random concepts" in str(res)
    split_bad = SplitModel(classifier, tokenizer, split_points=0)  # LABEL_0, LABEL_1 ... share a first token
    with pytest.raises(InputError, match="share a first token"):
        concept_simulatability_lm(split_bad, pca, texts[:20], eval_texts=texts[20:], max_heldout=2, **kwargs)
    with pytest.raises(InputError, match="every concept"):
        concept_simulatability_lm(split, pca, texts[:20], **(kwargs | {"interpretations": words[:2]}))


def test_codes_follow_the_learners_hygiene_as_concept_model(classifier, tokenizer):
    from interpreto_core.concepts import ConceptModel

    texts = _texts(30, seed=4)
    split = SplitModel(classifier, tokenizer, split_points=0)
    acts = split.collect(texts, progress=False, standardize=True, exclude_positions=(0,))
    pca = make_learner("pca", n_concepts=5).fit(acts)
    res = concept_simulatability(split, pca, texts, n_random=2)
    raw = concept_simulatability(split, pca, texts, n_random=2, hygiene=False)
    enc = tokenizer(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        reference = ConceptModel(split, pca)(**enc).logits.double().numpy()
    np.testing.assert_allclose(res.codes, reference, atol=1e-4)
    assert np.abs(raw.codes - reference).max() > 1e-2  # raw hidden states at every token: other codes
