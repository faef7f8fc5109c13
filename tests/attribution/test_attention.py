"""Attention attribution (``attention``, ``attention_rollout``): the attributor family of recipes.

Reference: the maps are computed here by hand, on an independent eager model built from the same
config and weights (``output_attentions=True`` on ``input_ids``), and the expected scores with
numpy; the user's model must come out unchanged (config, outputs, no hook left).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from transformers import BertForSequenceClassification

from interpreto_core import AttributionRecipe, Explainer, InputError, explain
from interpreto_core.plugin import InvalidPartError
from interpreto_core.testing import check_attribution

TEXTS = ["the movie was good, really good.", "bad", "an average film with a long and winding plot"]


def _eager_twin(model):
    """An independent eager model: same class, same config (eager), same weights."""
    config = copy.deepcopy(model.config)
    config._attn_implementation = "eager"
    twin = type(model)(config).eval()
    twin.load_state_dict(model.state_dict())
    return twin


def _maps(model, ids, token_types=None):
    kwargs = {"token_type_ids": torch.tensor([token_types])} if token_types else {}
    with torch.no_grad():
        out = _eager_twin(model)(input_ids=torch.tensor([ids]), output_attentions=True, **kwargs)
    return np.stack([a[0].numpy() for a in out.attentions]).astype(np.float64)  # (layers, heads, L, L)


def _rollout(maps):
    r = np.eye(maps.shape[-1])
    for a in maps.mean(1):
        a = 0.5 * a + 0.5 * np.eye(len(a))
        r = (a / a.sum(-1, keepdims=True)) @ r
    return r


def _pool(token_scores, explanation):
    return token_scores @ explanation.to_item().membership().T.astype(np.float64)


def test_attention_matches_hand_computed_maps_on_a_classifier(classifier, tokenizer):
    """Last layer, heads averaged, the [CLS] row (a bidirectional encoder), summed over each word's tokens."""
    out = explain(classifier, tokenizer, TEXTS, method="attention")
    for e in out:
        maps = _maps(classifier, e.to_item().ids)
        np.testing.assert_allclose(e.scores, _pool(maps[-1].mean(0)[0][None], e), atol=1e-5)


@pytest.mark.parametrize("head", [0, 1, "max"])
@pytest.mark.parametrize("layer", [0, -1])
def test_attention_layer_and_head(classifier, tokenizer, layer, head):
    e = explain(classifier, tokenizer, TEXTS[0], method="attention", layer=layer, head=head, granularity="token")[0]
    maps = _maps(classifier, e.to_item().ids)[layer]
    fused = maps.max(0) if head == "max" else maps[head]
    np.testing.assert_allclose(e.scores, _pool(fused[0][None], e), atol=1e-5)


@pytest.mark.parametrize("query", ["first", "last", "mean"])
def test_attention_query_positions(classifier, tokenizer, query):
    e = explain(classifier, tokenizer, TEXTS[0], method="attention", query=query)[0]
    fused = _maps(classifier, e.to_item().ids)[-1].mean(0)
    row = {"first": fused[0], "last": fused[-1], "mean": fused.mean(0)}[query]
    np.testing.assert_allclose(e.scores, _pool(row[None], e), atol=1e-5)


@pytest.mark.parametrize("lm", ["causal_lm", "llama_lm"])
@pytest.mark.parametrize("method", ["attention", "attention_rollout"])
def test_causal_lms_read_the_row_of_each_target_position(request, tokenizer, lm, method):
    """An LM target at position p (its token predicted from the output at p) reads query row p; the
    continuation's earlier tokens are elements too, and nothing after p gets weight."""
    model = request.getfixturevalue(lm)
    e = explain(model, tokenizer, "the cat sat on", targets=" the mat today", method=method, granularity="token")[0]
    item = e.to_item()
    maps = _maps(model, item.ids)
    matrix = maps[-1].mean(0) if method == "attention" else _rollout(maps)
    positions = [t.position for t in item.targets]
    np.testing.assert_allclose(e.scores, _pool(matrix[positions], e), atol=1e-5)
    assert np.all(e.scores[~item.visible] == 0)


def test_rollout_is_the_product_of_residual_renormalised_layers(classifier, tokenizer):
    out = explain(classifier, tokenizer, TEXTS, method="attention_rollout", granularity="all_tokens")
    for e in out:
        r = _rollout(_maps(classifier, e.to_item().ids))
        np.testing.assert_allclose(e.scores, r[0][None], atol=1e-5)
        assert e.scores.sum() == pytest.approx(1.0, abs=1e-5)  # all tokens, a row of products of stochastic matrices


def test_rollout_through_one_layer_is_that_layers_residual_attention(classifier, tokenizer):
    e = explain(classifier, tokenizer, TEXTS[0], method="attention_rollout", layer=0, granularity="all_tokens")[0]
    a = _maps(classifier, e.to_item().ids)[0].mean(0)
    a = 0.5 * a + 0.5 * np.eye(len(a))
    np.testing.assert_allclose(e.scores, (a / a.sum(-1, keepdims=True))[0][None], atol=1e-5)


def test_the_users_model_is_never_switched(classifier, tokenizer):
    ids = torch.tensor([tokenizer("a check of the model").input_ids])
    before_config = classifier.config.to_dict()
    assert classifier.config._attn_implementation == "sdpa"
    with torch.no_grad():
        before = classifier(input_ids=ids).logits.clone()
    explain(classifier, tokenizer, TEXTS, method="attention")
    assert classifier.config._attn_implementation == "sdpa"
    assert classifier.config.to_dict() == before_config
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in classifier.modules())
    with torch.no_grad():
        assert torch.equal(classifier(input_ids=ids).logits, before)


def test_the_users_model_is_unchanged_after_a_failing_call(classifier, tokenizer):
    with pytest.raises(InputError, match="head 5 is out of range"):
        explain(classifier, tokenizer, TEXTS[0], method="attention", head=5)
    assert classifier.config._attn_implementation == "sdpa"
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in classifier.modules())


def test_batching_and_padding_do_not_change_the_scores(causal_lm, classifier, tokenizer):
    for model, kwargs in ((classifier, {}), (causal_lm, {"targets": [" a b", " c", " d e f"]})):
        packed = Explainer(model, tokenizer, method="attention_rollout")
        together = packed.explain(TEXTS, **kwargs)
        assert packed.forward_calls == 1 and packed.forward_rows == len(TEXTS)  # one row per input, one pass
        alone = Explainer(model, tokenizer, method="attention_rollout", batch_size=1).explain(TEXTS, **kwargs)
        for a, b in zip(together, alone, strict=True):
            np.testing.assert_allclose(a.scores, b.scores, atol=1e-6)


class NoSwitchBertForSequenceClassification(BertForSequenceClassification):
    """A model class that cannot change its attention at run time (as old-style models)."""

    @classmethod
    def _can_set_attn_implementation(cls) -> bool:
        return False


def test_a_model_that_cannot_switch_is_refused_with_what_to_do(classifier, tokenizer):
    model = NoSwitchBertForSequenceClassification(classifier.config).eval()
    with pytest.raises(InputError, match=r"NoSwitchBertForSequenceClassification .*attn_implementation=\"eager\""):
        explain(model, tokenizer, TEXTS[0], method="attention")
    assert model.config._attn_implementation == "sdpa"


def test_a_model_loaded_eager_needs_no_switch(classifier, tokenizer):
    eager = _eager_twin(classifier)
    e = explain(eager, tokenizer, TEXTS[0], method="attention")[0]
    np.testing.assert_allclose(e.scores, explain(classifier, tokenizer, TEXTS[0], method="attention")[0].scores,
                               atol=1e-6)


def _seq2seq(kind, tokenizer):
    from transformers import BartConfig, BartForConditionalGeneration, T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    common = {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id,
              "eos_token_id": tokenizer.sep_token_id, "decoder_start_token_id": tokenizer.cls_token_id}
    if kind == "t5":
        return T5ForConditionalGeneration(T5Config(d_model=32, d_ff=64, d_kv=16, num_layers=2, num_heads=2,
                                                   initializer_factor=0.5, **common)).eval()
    return BartForConditionalGeneration(BartConfig(
        d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64, init_std=0.2, **common)).eval()


@pytest.mark.parametrize("kind", ["bart", "t5"])
def test_encoder_decoder_targets_read_cross_and_decoder_attention(tokenizer, kind):
    """A target at decoder position j: the decoder layer's cross-attention row j over the source, and
    its self-attention row j over the decoder tokens (as inseq shows them)."""
    model = _seq2seq(kind, tokenizer)
    e = explain(model, tokenizer, "a short source text", targets="the target text", method="attention",
                granularity="token")[0]
    item = e.to_item()
    s = item.layout["source_length"]
    with torch.no_grad():
        out = _eager_twin(model)(input_ids=torch.tensor([item.ids[:s]]), decoder_input_ids=torch.tensor([item.ids[s:]]),
                                 output_attentions=True)
    cross, dec = out.cross_attentions[-1][0].mean(0).numpy(), out.decoder_attentions[-1][0].mean(0).numpy()
    rows = np.stack([np.concatenate([cross[t.position], dec[t.position]]) for t in item.targets])
    np.testing.assert_allclose(e.scores, _pool(rows, e), atol=1e-5)
    assert np.all(e.scores[~item.visible] == 0)


def test_rollout_refuses_encoder_decoder_models_clearly(tokenizer):
    with pytest.raises(InputError, match="encoder-decoder model: use attention"):
        explain(_seq2seq("bart", tokenizer), tokenizer, "a source text", targets="a target", method="attention_rollout")


@pytest.mark.parametrize("params, message", [
    ({"head": "median"}, "head must be a head index, 'mean' or 'max'"),
    ({"query": "middle"}, "query must be one of auto, first, last, mean"),
    ({"layer": 7}, r"layer must be an integer in -2..1"),
    ({"layer": "last"}, "layer must be an integer"),
])
def test_bad_parameters_are_one_clear_error(classifier, tokenizer, params, message):
    with pytest.raises(InputError, match=message):
        explain(classifier, tokenizer, TEXTS[0], method="attention", **params)


def test_rollout_takes_no_head_index(classifier, tokenizer):
    with pytest.raises(InputError, match="head must be 'mean' or 'max'"):
        explain(classifier, tokenizer, TEXTS[0], method="attention_rollout", head=0)


def test_recipes_of_the_direct_family():
    assert AttributionRecipe(attributor="rollout").family == "direct"
    assert AttributionRecipe(attributor="rollout").part_names() == [("attributor", "rollout")]
    with pytest.raises(InvalidPartError, match="takes no aggregator"):
        AttributionRecipe(attributor="rollout", aggregator="weighted_mean")
    with pytest.raises(InvalidPartError, match="exactly one of"):
        AttributionRecipe(attributor="rollout", gradient_method="plain")
    with pytest.raises(InvalidPartError, match="needs an aggregator"):
        AttributionRecipe(gradient_method="plain")


@pytest.mark.parametrize("method", ["attention", "attention_rollout"])
def test_conformance_kit_runs_the_recipes(method):
    from interpreto_core import get_registry

    check_attribution(get_registry().get("attribution", method).obj)


def test_a_custom_recipe_and_metrics_on_attention(classifier, tokenizer):
    from interpreto_core.metrics import evaluate

    out = explain(classifier, tokenizer, TEXTS[:2], method=AttributionRecipe(attributor="attention_weights",
                                                                              defaults={"layer": 0}))
    assert out[0].parameters["layer"] == 0 and "aggregator" not in out[0].parameters["parts"]
    results = evaluate(classifier, tokenizer, out, metrics=["deletion"])
    assert np.isfinite(np.asarray(results["deletion"].values)).all()


def test_the_attention_and_layers_guide_runs():
    """docs/attention_and_layers.md's examples run as written (in order, one namespace), on tiny models."""
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "attention_and_layers.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 3
    namespace: dict = {}
    for k, block in enumerate(blocks):
        exec(compile(block, f"{doc.name} block {k}", "exec"), namespace)
    assert namespace["e"].extras["layer_attributions"].shape[0] == 1


def _bert_head(cls, tokenizer, **kwargs):
    from transformers import BertConfig

    torch.manual_seed(0)
    return cls(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=64, max_position_embeddings=64, initializer_range=0.4, **kwargs)).eval()


@pytest.mark.parametrize("head, text", [
    ("BertForTokenClassification", "Anna lives in Paris"),
    ("BertForMaskedLM", "Paris is the [MASK] of France."),
    ("BertForQuestionAnswering", ("Where does Anna live?", "Anna lives in Paris, near the river.")),
    ("BertForSequenceClassification", ("a premise text", "a hypothesis")),
])
@pytest.mark.parametrize("method", ["attention", "attention_rollout", "layer_integrated_gradients"])
def test_every_token_level_task_gets_sensible_scores(tokenizer, head, text, method):
    """Token classification and masked LMs read the target token's row; QA and pairs the [CLS] row."""
    import transformers

    model = _bert_head(getattr(transformers, head), tokenizer, num_labels=3 if "Token" in head else 2)
    params = {"n_steps": 8} if method.startswith("layer") else {}
    e = explain(model, tokenizer, text, method=method, granularity="token", **params)[0]
    item = e.to_item()
    assert e.scores.shape == (len(item.targets), len(item.elements)) and np.isfinite(e.scores).all()
    if method == "layer_integrated_gradients":
        return
    maps = _maps(model, item.ids, item.layout.get("token_type_ids"))  # a pair's second text: token type 1
    matrix = maps[-1].mean(0) if method == "attention" else _rollout(maps)
    rows = [0 if t.position is None else t.position for t in item.targets]
    assert ("Token" in head or "Masked" in head) == all(t.position is not None for t in item.targets)
    np.testing.assert_allclose(e.scores, _pool(matrix[rows], e), atol=1e-5)


@pytest.mark.parametrize("name", ["attention_weights", "rollout"])
def test_builtin_attributors_conform(name):
    from interpreto_core import get_registry
    from interpreto_core.testing import check_attributor

    check_attributor(get_registry().get("attributor", name).obj, layer=0)


def test_the_attributor_check_catches_a_wrong_shape():
    from interpreto_core.testing import check_attributor

    class OneColumnShort:
        output = "tokens"

        def attribute(self, context):
            return [np.zeros((len(it.targets), it.length - 1)) for it in context.items]

    with pytest.raises(AssertionError, match=r"token scores of shape"):
        check_attributor(OneColumnShort)

    class NoOutput:
        def attribute(self, context):
            return []

    with pytest.raises(InvalidPartError, match="must set output = 'tokens' or 'elements'"):
        check_attributor(NoOutput)
