"""Generation controls (seeded sampling, stop strings, EOS, target_span) and per-step scores of the
causal LM and seq2seq tasks, on tiny random GPT-2 / Llama / T5 / BART built from configs."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

import interpreto_core
from interpreto_core import Explainer, Explanation, InputError

PROMPT = "the capital of france is"
SOURCE = "the cat sat on the mat."


def _explain(model, tokenizer, text=PROMPT, method="saliency", **kwargs):
    return interpreto_core.explain(model, tokenizer, text, method=method, **kwargs)[0]


def _cont(expl):
    return [t.index for t in expl.targets]


def _hand_steps(logits: torch.Tensor, ids) -> dict[str, np.ndarray]:
    """probability, log-probability, entropy and rank of ``ids`` under ``logits (n, V)``, in float64."""
    logits = logits.double()
    p = torch.softmax(logits, -1)
    logp = torch.log_softmax(logits, -1)
    rows = np.arange(len(ids))
    picked = logits[rows, list(ids)]
    return {
        "probability": p[rows, list(ids)].numpy(),
        "log_probability": logp[rows, list(ids)].numpy(),
        "entropy": (-(p * logp).sum(-1)).numpy(),
        "rank": np.array([1 + int((logits[r] > picked[r]).sum()) for r in rows]),
    }


def _causal_logits(model, tokenizer, prompt_ids, cont):
    """Next-token logits before each continuation token: one teacher-forced pass."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt_ids + cont])).logits[0]
    p = len(prompt_ids)
    return logits[p - 1 : p - 1 + len(cont)]


def _prompt_ids(tokenizer):
    return list(tokenizer(PROMPT)["input_ids"][:-1])  # the prompt without its trailing [SEP]


def _check_steps(steps, hand):
    assert set(steps) == {"probability", "log_probability", "entropy", "rank"}
    for key in ("probability", "log_probability", "entropy"):
        np.testing.assert_allclose(steps[key], hand[key], rtol=1e-4, atol=1e-6, err_msg=key)
    assert list(steps["rank"]) == hand["rank"].tolist()


# -- causal LM --------------------------------------------------------------------------------------
@pytest.fixture(params=["gpt2", "llama"])
def lm(request, causal_lm, llama_lm):
    return causal_lm if request.param == "gpt2" else llama_lm


def test_greedy_is_the_default_and_matches_hf_generate(lm, tokenizer):
    expl = _explain(lm, tokenizer, max_new_tokens=6)
    ids = torch.tensor([_prompt_ids(tokenizer)])
    with torch.no_grad():
        out = lm.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=6, do_sample=False,
                          pad_token_id=tokenizer.pad_token_id)
    assert _cont(expl) == out[0, ids.shape[1] :].tolist()
    assert expl.step_scores is not None and expl.step_scores["rank"] == [1] * len(expl.targets)  # greedy: argmax


def test_sampling_with_a_seed_is_reproducible_and_leaves_the_global_rng_alone(lm, tokenizer):
    torch.manual_seed(123)
    state = torch.get_rng_state()
    kwargs = {"max_new_tokens": 8, "do_sample": True, "temperature": 5.0}
    a = _explain(lm, tokenizer, generation_seed=1, **kwargs)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is where it was
    b = _explain(lm, tokenizer, generation_seed=1, **kwargs)
    c = _explain(lm, tokenizer, generation_seed=2, **kwargs)
    greedy = _explain(lm, tokenizer, max_new_tokens=8)
    assert _cont(a) == _cont(b)
    assert _cont(a) != _cont(c) and _cont(a) != _cont(greedy)
    assert max(a.step_scores["rank"]) > 1  # hot sampling picks tokens other than the argmax
    # top_k=1 keeps only the most likely token: sampling is then greedy decoding
    top1 = _explain(lm, tokenizer, max_new_tokens=8, do_sample=True, top_k=1, generation_seed=5)
    assert _cont(top1) == _cont(greedy)
    # an input gets the same continuation alone or among others
    both = interpreto_core.explain(lm, tokenizer, ["a b c", PROMPT], method="saliency", generation_seed=1, **kwargs)
    assert _cont(both[1]) == _cont(a)


def test_step_scores_equal_a_hand_computation_from_the_logits(lm, tokenizer):
    prompt = _prompt_ids(tokenizer)
    for kwargs in ({"max_new_tokens": 6}, {"max_new_tokens": 6, "do_sample": True, "temperature": 3.0},
                   {"targets": " paris is a city", "step_scores": True}):
        expl = _explain(lm, tokenizer, **kwargs)
        cont = _cont(expl)
        _check_steps(expl.step_scores, _hand_steps(_causal_logits(lm, tokenizer, prompt, cont), cont))
        # the log-probability explained is the one recorded
        assert expl.score == "log_probability"
    assert _explain(lm, tokenizer, step_scores=False).step_scores is None
    assert _explain(lm, tokenizer, targets=" paris").step_scores is None  # not free for a given continuation


def test_step_scores_cost_no_extra_pass_when_generating_and_one_for_given_continuations(causal_lm, tokenizer):
    calls = []
    hook = causal_lm.register_forward_hook(lambda *a: calls.append(1))
    try:
        counts = {}
        given = [" paris is"] * 3
        for key, targets, on in (("gen_default", [None] * 3, None), ("gen_off", [None] * 3, False),
                                 ("given_on", given, True), ("given_default", given, None)):
            explainer = Explainer(causal_lm, tokenizer, method="saliency", max_new_tokens=4, step_scores=on)
            calls.clear()
            items = explainer.task.prepare([PROMPT, "a b c", "hello world"], targets=targets, contrasts=[None] * 3,
                                           granularity="word")
            counts[key] = len(calls)
            assert all((item.step_scores is not None) == (on is True or (on is None and key.startswith("gen")))
                       for item in items)
    finally:
        hook.remove()
    assert counts["gen_default"] == counts["gen_off"] > 0  # read from the generation's own logits
    assert counts["given_default"] == 0 and counts["given_on"] == 1  # asked for: one batched pass for three inputs


def test_stop_strings_end_the_generation_with_the_stop_string_kept(causal_lm, tokenizer):
    kwargs = {"max_new_tokens": 8, "do_sample": True, "temperature": 3.0, "generation_seed": 0}
    full = _explain(causal_lm, tokenizer, **kwargs)
    words = full.output_text.split()
    assert len(words) >= 4
    stop = words[2][:3]  # part of the third word: the token that completes it ends the generation
    cut = _explain(causal_lm, tokenizer, stop=[stop, "never-generated-string"], **kwargs)
    n = next(n for n in range(1, len(_cont(full)) + 1) if stop in tokenizer.decode(_cont(full)[:n]))
    assert n < len(_cont(full))
    assert _cont(cut) == _cont(full)[:n] and stop in cut.output_text
    assert stop not in tokenizer.decode(_cont(full)[: n - 1])
    assert _explain(causal_lm, tokenizer, stop="never-generated-string", **kwargs).output_text == full.output_text


def test_eos_ends_the_generation_and_is_the_last_target(causal_lm, tokenizer):
    kwargs = {"max_new_tokens": 8, "do_sample": True, "temperature": 3.0, "generation_seed": 0}
    full = _cont(_explain(causal_lm, tokenizer, **kwargs))
    eos = full[3]
    model = copy.deepcopy(causal_lm)
    model.generation_config.eos_token_id = eos
    expl = _explain(model, tokenizer, **kwargs)
    assert _cont(expl) == full[: full.index(eos) + 1]
    assert causal_lm.generation_config.eos_token_id == tokenizer.sep_token_id  # the user's model is untouched


def test_target_span_explains_only_the_span_with_fewer_rows(causal_lm, tokenizer):
    cont = " paris is a big city"
    full_explainer = Explainer(causal_lm, tokenizer, method="integrated_gradients", n_steps=8, step_scores=True)
    full = full_explainer.explain(PROMPT, targets=cont)[0]
    span_explainer = Explainer(causal_lm, tokenizer, method="integrated_gradients", n_steps=8, target_span=(2, 4),
                               step_scores=True)
    span = span_explainer.explain(PROMPT, targets=cont)[0]
    n = len(full.targets)
    assert [t.label for t in span.targets] == [t.label for t in full.targets[2:4]]
    assert [t.position for t in span.targets] == [t.position for t in full.targets[2:4]]
    assert span.output_text == full.output_text  # the whole continuation is still the output
    # elements: the prompt and the continuation tokens before the span's last (context, teacher-forced)
    assert span.elements == full.elements[: len(span.elements)] and len(span.elements) == len(full.elements) - (n - 4)
    np.testing.assert_allclose(span.scores, full.scores[2:4, : len(span.elements)], rtol=1e-5, atol=1e-6)
    # fewer rows and tokens: 8 points x the span's 2 targets (cut or shared layout, whichever is cheaper)
    assert span_explainer.forward_rows in (8 * 2, 8) and full_explainer.forward_rows in (8 * n, 8)
    assert span_explainer.forward_tokens < full_explainer.forward_tokens
    for key in span.step_scores:
        np.testing.assert_allclose(span.step_scores[key], full.step_scores[key][2:4], rtol=1e-5, atol=1e-7)
    # negative indices count from the end; end None runs to the end; a generated continuation too
    last = _explain(causal_lm, tokenizer, targets=cont, target_span=(-2, None))
    assert [t.label for t in last.targets] == [t.label for t in full.targets[-2:]]
    gen = _explain(causal_lm, tokenizer, max_new_tokens=5)
    gen_span = _explain(causal_lm, tokenizer, max_new_tokens=5, target_span=(1, 3))
    assert _cont(gen_span) == _cont(gen)[1:3]
    assert gen_span.step_scores["log_probability"] == pytest.approx(gen.step_scores["log_probability"][1:3])
    with pytest.raises(InputError, match="selects no token"):
        _explain(causal_lm, tokenizer, targets=" paris", target_span=(1, 2))


def test_a_span_with_a_contrast_and_perturbations(causal_lm, tokenizer):
    expl = _explain(causal_lm, tokenizer, method="occlusion", targets=" paris is big", contrast=" lyon is big",
                    target_span=(0, 1))
    assert [t.label for t in expl.targets] == ["paris"] and expl.targets[0].foil_label == "lyon"
    assert expl.score == "contrast" and expl.scores.shape == (1, 5)  # 5 prompt words; no continuation token before


def test_step_scores_survive_json_and_the_task_item(causal_lm, tokenizer, tmp_path):
    expl = _explain(causal_lm, tokenizer, max_new_tokens=4, do_sample=True, temperature=2.0, target_span=(1, None))
    back = Explanation.from_json(json.dumps(expl.to_json(), allow_nan=False))
    assert back == expl and back.step_scores == expl.step_scores
    assert Explanation.from_json(expl.save(tmp_path / "e.json")).step_scores == expl.step_scores
    item = expl.to_item()
    assert item.step_scores == expl.step_scores
    again = Explainer(causal_lm, tokenizer, method="saliency").explain_items([item])[0]
    assert again.step_scores == expl.step_scores and [t.index for t in again.targets] == _cont(expl)
    assert "rank" in str(expl)
    old = expl.to_json()
    del old["step_scores"]  # saved before step scores existed
    assert Explanation.from_json(old).step_scores is None
    with pytest.raises(ValueError, match="step_scores"):
        Explanation.from_json({**expl.to_json(), "step_scores": {"probability": [0.5] * 9}})


@pytest.mark.parametrize(("params", "match"), [
    ({"temperature": 2.0}, "only apply when sampling"),
    ({"do_sample": True, "temperature": 0}, "temperature must be"),
    ({"do_sample": True, "top_k": 0}, "top_k must be"),
    ({"do_sample": True, "top_p": 1.5}, "top_p must be"),
    ({"do_sample": "yes"}, "do_sample must be"),
    ({"generation_seed": 1.5}, "generation_seed must be"),
    ({"stop": [""]}, "non-empty"),
    ({"stop": 3}, "stop must be"),
    ({"target_span": "1:2"}, "target_span must be"),
    ({"target_span": (1, 2, 3)}, "target_span must be"),
    ({"step_scores": 1}, "step_scores must be"),
])
def test_bad_generation_options_are_refused_clearly(causal_lm, tokenizer, params, match):
    with pytest.raises(InputError, match=match):
        Explainer(causal_lm, tokenizer, method="saliency", **params)


def test_generation_options_are_not_taken_by_a_classifier(classifier, tokenizer):
    with pytest.raises(interpreto_core.UnknownParameterError, match="does not take do_sample"):
        Explainer(classifier, tokenizer, method="saliency", do_sample=True)


# -- seq2seq ----------------------------------------------------------------------------------------
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
                        bos_token_id=tokenizer.cls_token_id, init_std=0.2, forced_eos_token_id=tokenizer.sep_token_id,
                        **common)  # as in real BART checkpoints: the token forced at max length is the EOS
    return BartForConditionalGeneration(config).eval()


def _seq2seq_logits(model, tokenizer, target):
    source = tokenizer(SOURCE)["input_ids"]
    decoder = [tokenizer.cls_token_id] + target[:-1]
    with torch.no_grad():
        return model(input_ids=torch.tensor([source]), decoder_input_ids=torch.tensor([decoder])).logits[0]


def test_seq2seq_sampling_stop_span_and_step_scores(seq2seq, tokenizer):
    kwargs = {"max_new_tokens": 8, "do_sample": True, "temperature": 3.0, "generation_seed": 4}
    state = torch.get_rng_state()
    a = _explain(seq2seq, tokenizer, SOURCE, **kwargs)
    assert torch.equal(torch.get_rng_state(), state)
    assert _cont(a) == _cont(_explain(seq2seq, tokenizer, SOURCE, **kwargs))
    greedy = _explain(seq2seq, tokenizer, SOURCE, max_new_tokens=8)
    assert _cont(a) != _cont(greedy) and greedy.step_scores["rank"] == [1] * len(greedy.targets)
    for expl in (a, greedy, _explain(seq2seq, tokenizer, SOURCE, targets="a small dog", step_scores=True)):
        cont = _cont(expl)
        _check_steps(expl.step_scores, _hand_steps(_seq2seq_logits(seq2seq, tokenizer, cont), cont))
    # a span: its targets only, the same scores as the full explanation's rows, fewer gradient rows
    full_explainer = Explainer(seq2seq, tokenizer, method="saliency", step_scores=True)
    full = full_explainer.explain(SOURCE, targets="a small brown dog")[0]
    span_explainer = Explainer(seq2seq, tokenizer, method="saliency", target_span=(1, 3), step_scores=True)
    span = span_explainer.explain(SOURCE, targets="a small brown dog")[0]
    assert [t.label for t in span.targets] == ["small", "brown"]
    np.testing.assert_allclose(span.scores, full.scores[1:3, : len(span.elements)], rtol=1e-5, atol=1e-6)
    # fewer tokens (a row per target, or one shared row per point: whichever layout is cheaper)
    assert full_explainer.forward_rows in (4, 1) and span_explainer.forward_rows in (2, 1)
    assert span_explainer.forward_tokens < full_explainer.forward_tokens
    np.testing.assert_allclose(span.step_scores["entropy"], full.step_scores["entropy"][1:3], rtol=1e-5)
    # stop strings: cut after the token that completes the first one
    cont = _cont(a)
    stop = tokenizer.decode(cont[2:3])
    n = next(n for n in range(1, len(cont) + 1) if stop in tokenizer.decode(cont[:n]))
    assert _cont(_explain(seq2seq, tokenizer, SOURCE, stop=stop, **kwargs)) == cont[:n]
    assert Explanation.from_json(a.to_json()).step_scores == a.step_scores


def test_seq2seq_eos_ends_the_generation_and_is_dropped(seq2seq, tokenizer):
    kwargs = {"max_new_tokens": 8, "do_sample": True, "temperature": 3.0, "generation_seed": 4}
    full = _cont(_explain(seq2seq, tokenizer, SOURCE, **kwargs))
    eos = full[3]
    model = copy.deepcopy(seq2seq)
    model.generation_config.eos_token_id = eos
    model.config.eos_token_id = eos
    expl = _explain(model, tokenizer, SOURCE, **kwargs)
    assert _cont(expl) == full[: full.index(eos)]  # ended at EOS; the EOS token itself is no target
    assert len(expl.step_scores["rank"]) == len(expl.targets)


def test_chat_input_samples_and_spans_like_a_prompt(causal_lm, tokenizer):
    chat_tok = copy.deepcopy(tokenizer)
    chat_tok.chat_template = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} [SEP] {% endfor %}"
                              "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    chat = [{"role": "user", "content": "What is the capital of France?"}]
    kwargs = {"max_new_tokens": 6, "do_sample": True, "temperature": 3.0, "generation_seed": 9}
    a = _explain(causal_lm, chat_tok, chat, **kwargs)
    assert _cont(a) == _cont(_explain(causal_lm, chat_tok, chat, **kwargs))
    span = _explain(causal_lm, chat_tok, chat, target_span=(-3, None), **kwargs)
    assert _cont(span) == _cont(a)[-3:]
    prompt_ids = chat_tok(a.text, add_special_tokens=False)["input_ids"]
    _check_steps(a.step_scores, _hand_steps(_causal_logits(causal_lm, chat_tok, prompt_ids, _cont(a)), _cont(a)))


def test_the_adapter_generate_is_still_greedy(causal_lm, tokenizer):
    from interpreto_core import ModelAdapter

    adapter = ModelAdapter(causal_lm, tokenizer)
    assert adapter.generate(_prompt_ids(tokenizer), max_new_tokens=5) == _cont(_explain(causal_lm, tokenizer))


def test_step_scores_agree_with_inseq(causal_lm, tokenizer):
    inseq = pytest.importorskip("inseq")
    # inseq sets padding and truncation sides on the tokenizer it is given: give it a copy
    model = inseq.load_model(causal_lm, "saliency", tokenizer=copy.deepcopy(tokenizer))
    out = model.attribute("[CLS] the capital of france is", "[CLS] the capital of france is paris is a city",
                          step_scores=["probability", "entropy"], show_progress=False)
    attr = out.sequence_attributions[0]
    ids = [t.id for t in attr.target]
    n_prefix = len(ids) - len(attr.step_scores["probability"])  # inseq scores the tokens after its prefix
    prefix, generated = ids[:n_prefix], ids[n_prefix:]
    text = tokenizer.decode(prefix[1:])
    expl = _explain(causal_lm, tokenizer, text, targets=generated, step_scores=True)
    assert list(expl.token_ids[: len(prefix)]) == prefix  # the same context as inseq's
    np.testing.assert_allclose(expl.step_scores["probability"], attr.step_scores["probability"].numpy(), rtol=1e-4)
    np.testing.assert_allclose(expl.step_scores["entropy"], attr.step_scores["entropy"].numpy(), rtol=1e-4)
