"""Extractive QA: (question, context) pairs, answer spans, start + end scores, agreement with captum."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import interpreto_core
from interpreto_core import InputError

QUESTION, CONTEXT = "Where does John Smith live?", "John Smith lives in Paris, the capital of France."
PAIR = (QUESTION, CONTEXT)


def _encode(tokenizer, pair=PAIR):
    return tokenizer(*pair, return_tensors="pt", return_offsets_mapping=True)


def _outputs(model, tokenizer, pair=PAIR):
    enc = _encode(tokenizer, pair)
    with torch.no_grad():
        out = model(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"])
    return enc, out.start_logits[0], out.end_logits[0]


def test_the_predicted_span_is_the_best_within_the_context(qa_model, tokenizer):
    enc, start, end = _outputs(qa_model, tokenizer)
    context = [i for i, s in enumerate(enc.sequence_ids()) if s == 1]
    for max_tokens in (30, 2, 1):
        best = max(((s, e) for s in context for e in context if s <= e < s + max_tokens),
                   key=lambda p: float(start[p[0]] + end[p[1]]))
        expl = interpreto_core.explain(qa_model, tokenizer, PAIR, method="occlusion", max_answer_tokens=max_tokens)[0]
        (target,) = expl.targets
        assert (target.index, target.info["end"]) == best
        a, b = target.info["span"]
        assert target.label == CONTEXT[a:b] == expl.output_text
        offsets = enc["offset_mapping"][0]
        assert (a, b) == (int(offsets[best[0]][0]), int(offsets[best[1]][1]))
        assert expl.parameters["max_answer_tokens"] == max_tokens


def test_elements_come_from_both_texts(qa_model, tokenizer):
    expl = interpreto_core.explain(qa_model, tokenizer, PAIR, method="occlusion")[0]
    assert expl.task == "question_answering" and expl.input == list(PAIR)
    assert expl.text == QUESTION + "\n\n" + CONTEXT and expl.segment_names == ("question", "context")
    n_q = 6  # Where does John Smith live ?
    assert expl.segments == (0,) * n_q + (1,) * (len(expl.elements) - n_q)
    assert expl.elements[:n_q] == ("Where", "does", "John", "Smith", "live", "?")
    for (a, b), word in zip(expl.spans, expl.elements, strict=True):
        assert expl.text[a:b] == word
    assert expl.layout["token_type_ids"] == _encode(tokenizer)["token_type_ids"][0].tolist()


def test_given_spans_map_characters_to_tokens(qa_model, tokenizer):
    paris = CONTEXT.index("Paris")
    spans = [(paris, paris + 5), (CONTEXT.index("the capital"), len(CONTEXT) - 1)]
    expl = interpreto_core.explain(qa_model, tokenizer, PAIR, method="occlusion", targets=[spans])[0]
    enc = _encode(tokenizer)
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
    assert [t.label for t in expl.targets] == ["Paris", "the capital of France"]
    assert tokens[expl.targets[0].index] == tokens[expl.targets[0].info["end"]] == "paris"
    assert tokens[expl.targets[1].index] == "the" and tokens[expl.targets[1].info["end"]] == "france"
    assert [t.info["span"] for t in expl.targets] == [list(s) for s in spans] and expl.scores.shape[0] == 2
    # a span inside a token's characters still picks that token
    inner = interpreto_core.explain(qa_model, tokenizer, PAIR, method="occlusion", targets=[(paris + 1, paris + 3)])[0]
    assert ((inner.targets[0].index, inner.targets[0].info["end"])
            == (expl.targets[0].index, expl.targets[0].info["end"]))


@pytest.mark.parametrize("score", ["logit", "log_probability", "probability"])
def test_scores_combine_start_and_end(qa_model, tokenizer, score):
    expl = interpreto_core.explain(qa_model, tokenizer, PAIR, method="occlusion", score=score)[0]
    (target,) = expl.targets
    enc = _encode(tokenizer)
    ids = enc["input_ids"].repeat(len(expl.elements) + 1, 1)
    for e, group in enumerate(expl.token_groups):
        ids[e + 1, list(group)] = tokenizer.mask_token_id
    with torch.no_grad():
        out = qa_model(input_ids=ids, token_type_ids=enc["token_type_ids"].expand_as(ids))
    s, e = target.index, target.info["end"]
    if score == "logit":
        f = out.start_logits[:, s] + out.end_logits[:, e]
    elif score == "log_probability":
        f = out.start_logits.log_softmax(-1)[:, s] + out.end_logits.log_softmax(-1)[:, e]
    else:
        f = out.start_logits.softmax(-1)[:, s] * out.end_logits.softmax(-1)[:, e]
    np.testing.assert_allclose(expl.scores[0], (f[0] - f[1:]).numpy(), atol=1e-5)


def test_padding_takes_no_probability(qa_model, tokenizer):
    """Rows of a short pair padded to a long one's length score as the pair alone."""
    short = ("Who?", "Anna.")
    for method, params in (("occlusion", {}), ("integrated_gradients", {"n_steps": 4})):
        run = lambda inputs: interpreto_core.explain(qa_model, tokenizer, inputs, method=method,  # noqa: E731
                                                     score="log_probability", **params)
        alone = run(short)[0]
        both = run([PAIR, short])
        np.testing.assert_allclose(both[1].scores, alone.scores, atol=1e-5)
        np.testing.assert_allclose(both[0].scores, run(PAIR)[0].scores, atol=1e-5)


def test_contrast_span(qa_model, tokenizer):
    paris, france = CONTEXT.index("Paris"), CONTEXT.index("France")
    run = lambda **kw: interpreto_core.explain(qa_model, tokenizer, PAIR, method="occlusion", **kw)[0]  # noqa: E731
    contrast = run(targets=[(paris, paris + 5)], contrast=[(france, france + 6)])
    assert contrast.score == "contrast" and contrast.targets[0].foil_label == "France"
    target, foil = run(targets=[(paris, paris + 5)]), run(targets=[(france, france + 6)])
    np.testing.assert_allclose(contrast.scores, target.scores - foil.scores, atol=1e-5)


# -- captum ---------------------------------------------------------------------------------------------
class _ZeroableEmbedding(torch.nn.Module):
    """The model's word embeddings, with id -1 embedded as the zero vector (captum's layer baseline)."""

    def __init__(self, embedding):
        super().__init__()
        self.embedding = embedding

    def forward(self, ids):
        return self.embedding(ids.clamp(min=0)) * (ids >= 0)[..., None]


@pytest.fixture(scope="module")
def captum_setup(qa_model, tokenizer):
    enc = _encode(tokenizer)
    ids, types = enc["input_ids"], enc["token_type_ids"]
    expl = interpreto_core.explain(qa_model, tokenizer, PAIR, method="saliency", granularity="token")[0]
    s, e = expl.targets[0].index, expl.targets[0].info["end"]
    layer = _ZeroableEmbedding(qa_model.get_input_embeddings())

    def span_logit(out):
        return out.start_logits[:, s] + out.end_logits[:, e]

    def from_ids(input_ids):
        return span_logit(qa_model(inputs_embeds=layer(input_ids), token_type_ids=types.expand_as(input_ids)))

    def from_embeds(embeds):
        return span_logit(qa_model(inputs_embeds=embeds, token_type_ids=types.expand(len(embeds), -1)))

    special = torch.tensor([s is None for s in enc.sequence_ids()])
    return ids, special, layer, from_ids, from_embeds, (s, e)


def test_integrated_gradients_matches_captum(captum_setup, qa_model, tokenizer):
    from captum.attr import LayerIntegratedGradients

    ids, special, layer, from_ids, _, (s, e) = captum_setup
    baseline = torch.where(special, ids, torch.full_like(ids, -1))  # zero on element tokens, specials kept
    ref = LayerIntegratedGradients(from_ids, layer).attribute(ids, baselines=baseline, n_steps=32,
                                                              method="gausslegendre")[0].sum(-1)[~special]
    expl = interpreto_core.explain(qa_model, tokenizer, PAIR, method="integrated_gradients", granularity="token",
                                   n_steps=32, reduction="sum")[0]
    assert (expl.targets[0].index, expl.targets[0].info["end"]) == (s, e)
    torch.testing.assert_close(torch.tensor(expl.scores[0], dtype=torch.float32), ref.detach(), rtol=1e-3, atol=1e-5)


def test_input_x_gradient_matches_captum(captum_setup, qa_model, tokenizer):
    from captum.attr import InputXGradient

    ids, special, _, _, from_embeds, _ = captum_setup
    x = qa_model.get_input_embeddings()(ids).detach()
    ref = InputXGradient(from_embeds).attribute(x)[0].sum(-1)[~special]
    expl = interpreto_core.explain(qa_model, tokenizer, PAIR, method="input_x_gradient", granularity="token",
                                   reduction="sum")[0]
    torch.testing.assert_close(torch.tensor(expl.scores[0], dtype=torch.float32), ref.detach(), rtol=1e-4, atol=1e-6)


# -- bad input ------------------------------------------------------------------------------------------
def test_bad_input_names_the_task(qa_model, tokenizer):
    run = lambda inputs, **kw: interpreto_core.explain(qa_model, tokenizer, inputs, method="occlusion", **kw)  # noqa: E731
    with pytest.raises(InputError, match=r"task 'question_answering': got a single text 'Where is Paris\?': a question "
                                         r"answering model needs a context .* \(an input of this task is a \(question, "
                                         r"context\) pair"):
        run("Where is Paris?")
    with pytest.raises(InputError, match="task 'question_answering': got a single text"):
        run(["Where is Paris?", "Paris is in France."])  # a list of two strings is two inputs
    with pytest.raises(InputError, match="both the question and the context must be non-empty"):
        run(("Where?", " "))
    with pytest.raises(InputError, match=r"target span \(3, 100\) is not a span of the context: it needs 0 <= "
                                         r"start_char < end_char <= 49"):
        run(PAIR, targets=[(3, 100)])
    with pytest.raises(InputError, match=r"target span \(4, 5\) \(' '\) covers no token"):
        run(PAIR, targets=[(4, 5)])
    with pytest.raises(InputError, match=r"a target is a \(start_char, end_char\) span of the context"):
        run(PAIR, targets="Paris")
    with pytest.raises(InputError, match="max_answer_tokens must be a positive integer"):
        run(PAIR, max_answer_tokens=0)
    long_context = "word " * 200
    with pytest.raises(InputError, match=r"target span \(900, 904\) .* lies in the truncated part of the context"):
        run(("Where?", long_context), targets=[(900, 904)])
