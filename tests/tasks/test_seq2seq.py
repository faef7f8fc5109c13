"""The seq2seq task on tiny random T5 and BART: hand-computed occlusion, IG completeness, captum agreement."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import interpreto_core
from interpreto_core import InputError

SOURCE = "the cat sat on the mat."
TARGET = "a small dog"
METHODS = ["occlusion", "lime", "kernel_shap", "sobol", "saliency", "input_x_gradient", "integrated_gradients",
           "smoothgrad", "vargrad", "squaregrad", "gradient_shap"]


@pytest.fixture(scope="module", params=["t5", "bart"])
def seq2seq(request, tokenizer):
    from transformers import BartConfig, BartForConditionalGeneration, T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    common = {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id,
              "eos_token_id": tokenizer.sep_token_id, "decoder_start_token_id": tokenizer.cls_token_id}
    if request.param == "t5":
        config = T5Config(d_model=32, d_ff=64, d_kv=16, num_layers=2, num_heads=2, initializer_factor=0.5, **common)
        return T5ForConditionalGeneration(config).eval()
    config = BartConfig(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
                        bos_token_id=tokenizer.cls_token_id, init_std=0.2, **common)
    return BartForConditionalGeneration(config).eval()


def _log_probs(model, tokenizer, source_ids, decoder_ids, target_ids):
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([source_ids]), decoder_input_ids=torch.tensor([decoder_ids])).logits
    logp = logits[0].log_softmax(-1)
    return np.array([logp[j, t].item() for j, t in enumerate(target_ids)])


def test_seq2seq_is_claimed_and_not_taken_for_a_causal_lm(seq2seq, tokenizer):
    expl = interpreto_core.explain(seq2seq, tokenizer, SOURCE, method="occlusion", targets=TARGET)[0]
    assert expl.task == "seq2seq" and expl.score == "log_probability"
    assert [t.label for t in expl.targets] == [tokenizer.decode([i]) for i in
                                              tokenizer(TARGET, add_special_tokens=False)["input_ids"]]
    with pytest.raises(InputError, match="is a model of task 'seq2seq'"):
        interpreto_core.explain(seq2seq, tokenizer, SOURCE, method="occlusion", task="causal_lm", targets=TARGET)


def test_occlusion_equals_a_hand_computation_with_teacher_forcing(seq2seq, tokenizer):
    expl = interpreto_core.explain(seq2seq, tokenizer, SOURCE, method="occlusion", targets=TARGET,
                                   granularity="word")[0]
    enc = tokenizer(SOURCE)
    source = enc["input_ids"]
    target = tokenizer(TARGET, add_special_tokens=False)["input_ids"]
    decoder = [tokenizer.cls_token_id] + target[:-1]
    full = _log_probs(seq2seq, tokenizer, source, decoder, target)
    n_source = len(expl.elements) - (len(target) - 1)
    assert expl.generated == (False,) * n_source + (True,) * (len(target) - 1)
    for e, group in enumerate(expl.token_groups):
        s, d = list(source), list(decoder)
        for tok in group:
            if tok < len(source):
                s[tok] = tokenizer.mask_token_id
            else:
                d[tok - len(source)] = tokenizer.mask_token_id
        occluded = _log_probs(seq2seq, tokenizer, s, d, target)
        expected = full - occluded
        if e >= n_source:  # target token k only influences the targets after it
            k = e - n_source
            expected[: k + 1] = 0.0
        np.testing.assert_allclose(expl.scores[:, e], expected, atol=1e-5)


def test_integrated_gradients_is_complete(seq2seq, tokenizer):
    # T5 adds no position embedding: a zero embedding sits at its RMSNorm's singular point, where the
    # path integral converges slowly; the mask token's embedding is a smooth baseline (BART: zero is fine)
    baseline = "mask" if seq2seq.config.model_type == "t5" else "zero"
    expl = interpreto_core.explain(seq2seq, tokenizer, SOURCE, method="integrated_gradients", targets=TARGET,
                                   n_steps=64, completeness_delta=True, baseline=baseline)[0]
    source = tokenizer(SOURCE)["input_ids"]
    target = tokenizer(TARGET, add_special_tokens=False)["input_ids"]
    delta = np.array(expl.extras["completeness_delta"])
    change = expl.scores.sum(1) - delta  # f(x) - f(baseline)
    assert np.abs(change).max() > 1e-2
    # relative completeness error over the targets: max |delta| / max |f(x) - f(baseline)|
    assert np.abs(delta).max() <= 1e-2 * np.abs(change).max(), (delta, change)
    assert len(expl.token_ids) == len(source) + len(target)


def _captum_reference(model, tokenizer, method):
    """captum on the two embedded inputs (encoder and decoder), special / start tokens kept at their embedding."""
    from captum.attr import InputXGradient, IntegratedGradients

    source = tokenizer(SOURCE)["input_ids"]
    target = tokenizer(TARGET, add_special_tokens=False)["input_ids"]
    decoder = [tokenizer.cls_token_id] + target[:-1]
    emb = model.get_input_embeddings()
    with torch.no_grad():
        xs, xd = emb(torch.tensor([source])), emb(torch.tensor([decoder]))
    bs, bd = xs.clone(), xd.clone()
    bs[0, 1:-1] = 0.0  # [CLS] ... [SEP]: only the word tokens move
    bd[0, 1:] = 0.0  # the decoder start token stays
    out = []
    for j, t in enumerate(target):
        def forward(es, ed, j=j, t=t):
            logits = model(inputs_embeds=es, decoder_inputs_embeds=ed).logits
            return logits[:, j].log_softmax(-1)[:, t]

        if method == "integrated_gradients":
            a_s, a_d = IntegratedGradients(forward).attribute((xs, xd), baselines=(bs, bd), n_steps=16,
                                                                method="gausslegendre")
        else:
            a_s, a_d = InputXGradient(forward).attribute((xs, xd))
        out.append(torch.cat([a_s[0].sum(-1)[1:-1], a_d[0].sum(-1)[1:]]))
    return torch.stack(out).detach()


@pytest.mark.parametrize("method", ["integrated_gradients", "input_x_gradient"])
def test_gradients_agree_with_captum(seq2seq, tokenizer, method):
    params = {"n_steps": 16} if method == "integrated_gradients" else {}
    expl = interpreto_core.explain(seq2seq, tokenizer, SOURCE, method=method, targets=TARGET, granularity="token",
                                   **params)[0]
    ref = _captum_reference(seq2seq, tokenizer, method)
    ref = torch.where(torch.tensor(expl.visible), ref, torch.zeros_like(ref))
    torch.testing.assert_close(torch.tensor(expl.scores, dtype=torch.float32), ref, rtol=1e-3, atol=1e-5)


def test_generation_explains_the_greedy_output(seq2seq, tokenizer):
    expl = interpreto_core.explain(seq2seq, tokenizer, SOURCE, method="occlusion", max_new_tokens=3)[0]
    with torch.no_grad():
        out = seq2seq.generate(input_ids=torch.tensor([tokenizer(SOURCE)["input_ids"]]), max_new_tokens=3,
                               do_sample=False, num_beams=1)[0, 1:].tolist()
    while out and out[-1] in (tokenizer.sep_token_id, tokenizer.pad_token_id):
        out.pop()
    assert [t.index for t in expl.targets] == out


@pytest.mark.parametrize("method", METHODS)
def test_every_method_runs(seq2seq, tokenizer, method):
    params = {"n_samples": 16} if method in ("lime", "kernel_shap", "sobol", "smoothgrad", "vargrad", "squaregrad",
                                             "gradient_shap") else {}
    if method == "integrated_gradients":
        params = {"n_steps": 4}
    expl = interpreto_core.explain(seq2seq, tokenizer, SOURCE, method=method, targets=TARGET, **params)[0]
    assert expl.scores.shape == (len(expl.targets), len(expl.elements)) and np.isfinite(expl.scores).all()


def test_contrast_is_the_difference_of_two_occlusions(seq2seq, tokenizer):
    """Occlusion is linear in the output: contrast(target, foil) = occlusion(target) - occlusion(foil at the same
    positions), exactly, with the logit score (contrast = logit difference)."""
    foil = "a big cat"
    foil_ids = tokenizer(foil, add_special_tokens=False)["input_ids"]
    target_ids = tokenizer(TARGET, add_special_tokens=False)["input_ids"]
    assert len(foil_ids) == len(target_ids) == 3
    both = interpreto_core.explain(seq2seq, tokenizer, SOURCE, method="occlusion", targets=TARGET, contrast=foil)[0]
    assert both.score == "contrast" and [t.foil_label for t in both.targets] == ["a", "big", "cat"]
    # explaining the foil tokens on the target's decoder inputs: teacher-force the target, read the foil ids
    explainer = interpreto_core.Explainer(seq2seq, tokenizer, method="occlusion", score="logit")
    on_target = explainer.explain(SOURCE, TARGET)[0]
    (item,) = explainer.task.prepare([SOURCE], targets=[TARGET], contrasts=[None], granularity="word")
    import attrs

    swapped = attrs.evolve(item, targets=[attrs.evolve(t, index=f)
                                          for t, f in zip(item.targets, foil_ids, strict=True)])
    from interpreto_core._engine import Engine, MaskJob

    engine = Engine(explainer.task, explainer._score(None))
    masks = np.vstack([np.ones(len(item.elements)), 1 - np.eye(len(item.elements))])
    (rows,) = engine.score_masks([swapped], [MaskJob(item=0, masks=masks)], explainer.adapter.baseline_vector("auto"))
    on_foil = np.where(item.visible, (rows[0] - rows[1:]).T, 0.0)
    np.testing.assert_allclose(both.scores, on_target.scores - on_foil, atol=1e-5)
    with pytest.raises(InputError, match="same number of tokens"):
        interpreto_core.explain(seq2seq, tokenizer, SOURCE, method="occlusion", targets=TARGET, contrast="a cat")


def test_metrics_json_and_the_model_is_untouched(seq2seq, tokenizer):
    model = copy.deepcopy(seq2seq)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    expls = interpreto_core.explain(model, tokenizer, [SOURCE, "hello there"], method="integrated_gradients",
                                    targets=[TARGET, "hi"], n_steps=4)
    results = interpreto_core.evaluate(model, tokenizer, expls, metrics=["deletion", "insertion"])
    assert all(np.isfinite(r.values).all() for r in results.values())
    for e in expls:
        assert interpreto_core.Explanation.from_json(e.to_json()) == e
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
