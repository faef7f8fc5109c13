"""Layer attribution (``layer=`` on any gradient method; ``layer_integrated_gradients``,
``layer_gradient_x_activation``): captum's Layer* methods on the same layer and baseline.

The captum baseline is the input with every element's token replaced by [PAD] (special tokens
kept), which is what ``baseline="pad"`` does to the embeddings: both forward the pad token's
word embedding plus the position and type embeddings.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import LayerGradientXActivation, LayerIntegratedGradients

from interpreto_core import Explainer, InputError, UnknownParameterError, explain

TEXTS = ["the movie was good, really good.", "bad", "an average film with a long and winding plot"]


def _captum_inputs(item, tokenizer):
    ids = torch.tensor([item.ids])
    covered = torch.from_numpy(item.membership().sum(0) > 0)
    base = ids.clone()
    base[0, covered] = tokenizer.pad_token_id
    return ids, base


def _classifier_score(model, target):
    return lambda ids: model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[:, target]


@pytest.mark.parametrize("layer, module", [(0, "bert.encoder.layer.0"), (-1, "bert.encoder.layer.1"),
                                           ("bert.encoder.layer.1.output", "bert.encoder.layer.1.output"),
                                           ("bert.embeddings", "bert.embeddings")])
def test_layer_ig_equals_captum_on_a_classifier(classifier, tokenizer, layer, module):
    explainer = Explainer(classifier, tokenizer, method="layer_integrated_gradients", layer=layer, baseline="pad",
                          layer_units=True, n_steps=20)
    out = explainer.explain(TEXTS, targets=[[0, 2], 1, 2])  # several items and targets packed together
    modules = dict(classifier.named_modules())
    for e in out:
        item = e.to_item()
        ids, base = _captum_inputs(item, tokenizer)
        assert e.extras["layer"] == module and e.parameters["layer"] == module
        for t, target in enumerate(item.targets):
            lig = LayerIntegratedGradients(_classifier_score(classifier, target.index), modules[module])
            ref = lig.attribute(ids, baselines=base, n_steps=20)[0].detach().numpy()  # gauss-legendre, as ours
            ours = e.extras["layer_attributions"][t]
            np.testing.assert_allclose(ours, ref, atol=1e-5)
            # per element: the units summed over the hidden size and over the element's tokens
            np.testing.assert_allclose(e.scores[t], ref.sum(-1) @ item.membership().T, atol=1e-5)


def test_layer_completeness_is_the_score_difference_of_input_and_baseline(classifier, tokenizer):
    e = explain(classifier, tokenizer, TEXTS[0], targets=1, method="layer_integrated_gradients", layer=1,
                baseline="pad", layer_units=True, completeness_delta=True, n_steps=64)[0]
    ids, base = _captum_inputs(e.to_item(), tokenizer)
    with torch.no_grad():
        f = _classifier_score(classifier, 1)
        difference = float(f(ids) - f(base))
    assert abs(difference) > 0.1  # not a trivially flat score
    assert e.extras["layer_attributions"].sum() == pytest.approx(difference, abs=1e-4)
    assert abs(e.extras["completeness_delta"][0]) < 1e-4


def test_layer_ig_equals_captum_on_a_causal_lm(causal_lm, tokenizer):
    e = explain(causal_lm, tokenizer, "the cat sat on", targets=" the mat", method="layer_integrated_gradients",
                layer=0, baseline="pad", layer_units=True, n_steps=16, granularity="token")[0]
    item = e.to_item()
    ids, base = _captum_inputs(item, tokenizer)
    for t, target in enumerate(item.targets):
        def log_prob(i, target=target):
            logits = causal_lm(input_ids=i, attention_mask=torch.ones_like(i)).logits
            return torch.log_softmax(logits[:, target.position], -1)[:, target.index]

        ref = LayerIntegratedGradients(log_prob, causal_lm.transformer.h[0]).attribute(ids, baselines=base, n_steps=16)
        np.testing.assert_allclose(e.extras["layer_attributions"][t], ref[0].detach().numpy(), atol=1e-5)


def test_layer_gradient_x_activation_equals_captum(classifier, tokenizer):
    e = explain(classifier, tokenizer, TEXTS[2], targets=0, method="layer_gradient_x_activation", layer=1,
                layer_units=True)[0]
    ids, _ = _captum_inputs(e.to_item(), tokenizer)
    ref = LayerGradientXActivation(_classifier_score(classifier, 0), classifier.bert.encoder.layer[1]).attribute(ids)
    np.testing.assert_allclose(e.extras["layer_attributions"][0], ref[0].detach().numpy(), atol=1e-6)


def test_any_gradient_method_takes_a_layer(classifier, tokenizer):
    """Saliency at a layer: the norm of the gradient w.r.t. the layer's output (captum's layer gradient)."""
    e = explain(classifier, tokenizer, TEXTS[0], targets=2, method="saliency", layer=0, granularity="token")[0]
    item = e.to_item()
    ids, _ = _captum_inputs(item, tokenizer)
    grad = LayerGradientXActivation(_classifier_score(classifier, 2), classifier.bert.encoder.layer[0],
                                    multiply_by_inputs=False).attribute(ids)[0].detach().numpy()
    np.testing.assert_allclose(e.scores[0], np.linalg.norm(grad, axis=-1) @ item.membership().T, atol=1e-6)
    smooth = explain(classifier, tokenizer, TEXTS[0], method="smoothgrad", layer=0, n_samples=3)[0]
    assert np.isfinite(smooth.scores).all() and smooth.extras["layer"] == "bert.encoder.layer.0"


def test_rows_and_passes_are_counted(classifier, tokenizer):
    explainer = Explainer(classifier, tokenizer, method="layer_integrated_gradients", n_steps=10, batch_size=64)
    explainer.explain(TEXTS, targets=0)
    # 2 rows per input for the layer's endpoints, n_steps gradient rows per input and target
    assert explainer.forward_rows == 2 * len(TEXTS) + 10 * len(TEXTS)
    assert explainer.forward_calls == 2  # one pass of endpoints, one of gradient rows: batched over the inputs


def test_the_users_model_is_never_hooked(classifier, tokenizer):
    before = classifier.config.to_dict()
    explain(classifier, tokenizer, TEXTS, method="layer_integrated_gradients", layer=1, n_steps=4)
    assert classifier.config.to_dict() == before
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in classifier.modules())


@pytest.mark.parametrize("params, message", [
    ({"method": "layer_integrated_gradients", "layer": "bert.encoder.nope"}, "no module 'bert.encoder.nope'"),
    ({"method": "layer_integrated_gradients", "layer": 5}, "block index 5 is out of range: the model has 2 blocks"),
    ({"method": "integrated_gradients", "layer_units": True}, "layer_units=True needs layer="),
    ({"method": "integrated_gradients", "layer": 0, "layer_units": "yes"}, "layer_units must be True or False"),
    ({"method": "occlusion", "layer": 0}, "does not take layer"),
    ({"method": "integrated_gradients", "layer": 0, "n_steps": "auto"}, "n_steps='auto' is not available with layer"),
    ({"method": "integrated_gradients", "layer": "bert.pooler"}, "one position per"),
])
def test_bad_layer_requests_are_one_clear_error(classifier, tokenizer, params, message):
    with pytest.raises((InputError, UnknownParameterError), match=message):
        explain(classifier, tokenizer, TEXTS[0], **params)


def test_encoder_decoder_models_are_refused_clearly(tokenizer):
    from transformers import BartConfig, BartForConditionalGeneration

    config = BartConfig(d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
                        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                        eos_token_id=tokenizer.sep_token_id, decoder_start_token_id=tokenizer.cls_token_id)
    model = BartForConditionalGeneration(config).eval()
    with pytest.raises(InputError, match="encoder-decoder model: explain its input embeddings"):
        explain(model, tokenizer, "a source text", targets="a target", method="layer_integrated_gradients")


def test_layer_scores_take_the_pooling_of_gradient_methods(classifier, tokenizer):
    common = {"targets": 1, "method": "layer_integrated_gradients", "layer": 0, "layer_units": True, "n_steps": 8}
    e = explain(classifier, tokenizer, "unbelievably overwhelming performances", pooling="max", **common)[0]
    token_scores = e.extras["layer_attributions"][0].sum(-1)
    groups = e.to_item().elements.token_groups
    assert any(len(g) > 1 for g in groups)  # words of several word pieces
    np.testing.assert_allclose(e.scores[0], [token_scores[list(g)].max() for g in groups], atol=1e-6)


def test_causal_lm_rows_are_cut_at_each_targets_position(causal_lm, tokenizer):
    """A target at position p needs p + 1 tokens: the layer gradient rows stop there (as the input
    gradients do), which changes no score (checked against captum above)."""
    explainer = Explainer(causal_lm, tokenizer, method="layer_integrated_gradients", n_steps=4)
    e = explainer.explain("the cat sat on", targets=" the mat today")[0]
    item = e.to_item()
    cut_tokens = sum(4 * (t.position + 1) for t in item.targets) + 2 * item.length  # + the 2 endpoint rows
    assert explainer.forward_tokens == cut_tokens < 4 * len(item.targets) * item.length + 2 * item.length


def test_the_command_line_takes_layer_for_gradient_methods():
    from interpreto_core.cli._common import method_params

    assert {"layer", "layer_units"} <= set(method_params("integrated_gradients")[0])
    assert {"layer", "layer_units"} <= set(method_params("layer_integrated_gradients")[0])
    assert "layer_units" not in method_params("occlusion")[0]
    assert "layer" in method_params("attention")[0] and "layer_units" not in method_params("attention")[0]


def test_layer_ig_equals_captum_on_a_llama_block_module(llama_lm, tokenizer):
    e = explain(llama_lm, tokenizer, "the cat sat", targets=" on the", method="layer_integrated_gradients",
                layer="model.layers.1.mlp", baseline="pad", layer_units=True, n_steps=8, granularity="token")[0]
    item = e.to_item()
    ids, base = _captum_inputs(item, tokenizer)
    for t, target in enumerate(item.targets):
        def log_prob(i, target=target):
            logits = llama_lm(input_ids=i, attention_mask=torch.ones_like(i)).logits
            return torch.log_softmax(logits[:, target.position], -1)[:, target.index]

        ref = LayerIntegratedGradients(log_prob, llama_lm.model.layers[1].mlp).attribute(ids, baselines=base, n_steps=8)
        np.testing.assert_allclose(e.extras["layer_attributions"][t], ref[0].detach().numpy(), atol=1e-5)


def test_layer_explanations_round_trip_through_json(classifier, tokenizer, tmp_path):
    from interpreto_core import Explanation

    e = explain(classifier, tokenizer, TEXTS[1], method="layer_integrated_gradients", layer_units=True, n_steps=4)[0]
    back = Explanation.from_json(e.to_json())
    np.testing.assert_allclose(np.asarray(back.extras["layer_attributions"]), e.extras["layer_attributions"],
                               atol=1e-6)
    assert back.parameters["layer"] == "bert.encoder.layer.0" and np.allclose(back.scores, e.scores)
