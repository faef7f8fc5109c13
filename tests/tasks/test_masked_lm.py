"""Masked LM: tokens at the mask positions; masks are never elements."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import BertForMaskedLM
from transformers.modeling_outputs import MaskedLMOutput

import interpreto_core
from interpreto_core import InputError

ONE = "Paris is the [MASK] of France."
TWO = "Paris is the [MASK] of [MASK]."


def _logits(model, tokenizer, text):
    enc = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        return enc["input_ids"][0], model(**enc).logits[0]


def _id(tokenizer, token):
    return tokenizer.convert_tokens_to_ids(token)


def test_default_targets_are_the_top_token_at_each_mask(masked_lm, tokenizer):
    expl = interpreto_core.explain(masked_lm, tokenizer, TWO, method="occlusion")[0]
    ids, logits = _logits(masked_lm, tokenizer, TWO)
    masks = (ids == tokenizer.mask_token_id).nonzero()[:, 0].tolist()
    assert expl.task == "masked_lm" and expl.score == "log_probability"
    assert [t.position for t in expl.targets] == masks and [t.info["mask"] for t in expl.targets] == [0, 1]
    assert [t.index for t in expl.targets] == logits[masks].argmax(-1).tolist()
    assert [t.label for t in expl.targets] == [tokenizer.decode([t.index]) for t in expl.targets]
    assert expl.elements == ("Paris", "is", "the", "of", ".")  # the masks are no elements
    assert not {t for g in expl.token_groups for t in g} & set(masks)


@pytest.mark.parametrize("granularity", ["token", "word", "sentence", "all_tokens"])
def test_masks_are_never_elements(masked_lm, tokenizer, granularity):
    expl = interpreto_core.explain(masked_lm, tokenizer, ONE, method="occlusion", granularity=granularity)[0]
    mask = expl.targets[0].position
    assert expl.token_ids[mask] == tokenizer.mask_token_id
    assert all(mask not in g for g in expl.token_groups)
    n = {"token": 6, "word": 6, "sentence": 1, "all_tokens": 8}[granularity]
    assert len(expl.elements) == n and "[MASK]" not in expl.elements


def test_given_targets(masked_lm, tokenizer):
    run = lambda text, targets, **kw: interpreto_core.explain(  # noqa: E731
        masked_lm, tokenizer, text, method="occlusion", targets=targets, **kw)[0]
    one = run(ONE, "capital")
    assert [(t.index, t.label) for t in one.targets] == [(_id(tokenizer, "capital"), "capital")]
    several = run(ONE, [["capital", "city", _id(tokenizer, "center")]])  # candidates at the one mask
    assert [t.label for t in several.targets] == ["capital", "city", "center"]
    assert {t.position for t in several.targets} == {one.targets[0].position}
    np.testing.assert_allclose(several.scores[0], one.scores[0], atol=1e-6)
    top = run(TWO, None).targets
    per_mask = run(TWO, [["capital", None]])
    assert [t.label for t in per_mask.targets] == ["capital", top[1].label]
    assert [t.info["mask"] for t in per_mask.targets] == [0, 1]
    lists = run(TWO, [[["capital", "city"], "france"]])
    assert [(t.label, t.info["mask"]) for t in lists.targets] == [("capital", 0), ("city", 0), ("france", 1)]
    piece = run(ONE, "##ing")  # a vocabulary entry that is not a word
    assert piece.targets[0].index == _id(tokenizer, "##ing")


def test_scores_are_log_probabilities_at_the_mask(masked_lm, tokenizer):
    expl = interpreto_core.explain(masked_lm, tokenizer, ONE, method="occlusion", targets="capital",
                                   score="probability")[0]
    ids, _ = _logits(masked_lm, tokenizer, ONE)
    rows = ids[None].repeat(len(expl.elements) + 1, 1)
    for e, group in enumerate(expl.token_groups):
        rows[e + 1, list(group)] = tokenizer.mask_token_id
    with torch.no_grad():
        p = masked_lm(input_ids=rows).logits[:, expl.targets[0].position].softmax(-1)[:, _id(tokenizer, "capital")]
    np.testing.assert_allclose(expl.scores[0], (p[0] - p[1:]).numpy(), atol=1e-6)


def test_contrast_is_the_log_probability_difference(masked_lm, tokenizer):
    run = lambda **kw: interpreto_core.explain(masked_lm, tokenizer, ONE, method="occlusion", **kw)[0]  # noqa: E731
    contrast = run(targets="capital", contrast="city")
    assert contrast.score == "contrast" and contrast.targets[0].foil_label == "city"
    target, foil = run(targets="capital"), run(targets="city")
    np.testing.assert_allclose(contrast.scores, target.scores - foil.scores, atol=1e-5)
    per_target = run(targets=[["capital", "city"]], contrast=[["town", "center"]])
    assert [t.foil_label for t in per_target.targets] == ["town", "center"]


class KeepingBertForMaskedLM(BertForMaskedLM):
    """A masked LM that takes ``logits_to_keep`` (positions): only those positions' logits are computed."""

    kept: list = []

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, logits_to_keep=0, **kwargs):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                           **kwargs).last_hidden_state
        if isinstance(logits_to_keep, torch.Tensor):
            hidden = hidden[:, logits_to_keep]
            self.kept.append(len(logits_to_keep))
        return MaskedLMOutput(logits=self.cls(hidden))


def test_logits_to_keep_gives_the_same_scores(masked_lm, tokenizer):
    keeping = KeepingBertForMaskedLM(masked_lm.config).eval()
    keeping.load_state_dict(masked_lm.state_dict())
    for method in ("occlusion", "saliency"):
        ours = interpreto_core.explain(keeping, tokenizer, TWO, method=method)[0]
        ref = interpreto_core.explain(masked_lm, tokenizer, TWO, method=method)[0]
        np.testing.assert_allclose(ours.scores, ref.scores, rtol=2e-5, atol=1e-5)
    assert keeping.kept and max(keeping.kept) == 2  # two masks: two positions' logits, not the sequence's


def test_bad_input_names_the_task(masked_lm, tokenizer):
    run = lambda text, **kw: interpreto_core.explain(masked_lm, tokenizer, text, method="occlusion", **kw)  # noqa: E731
    with pytest.raises(InputError, match=r"task 'masked_lm': the text 'Paris is nice.' contains no mask token "
                                         r"'\[MASK\]'.*\(an input of this task is a text "
                                         r"containing the tokenizer's mask"):
        run("Paris is nice.")
    with pytest.raises(InputError,
                       match=r"task 'masked_lm': target 'capital city' is 2 tokens \(\['capital', 'city'\]\)"):
        run(ONE, targets="capital city")
    with pytest.raises(InputError, match="the text has 2 mask tokens: give a list of 2 targets"):
        run(TWO, targets="capital")
    with pytest.raises(InputError, match="target token id 999999 is outside the vocabulary"):
        run(ONE, targets=999999)
    with pytest.raises(InputError, match="contrast has 2 tokens for 1 targets"):
        run(ONE, targets="capital", contrast=[["city", "town"]])
    with pytest.raises(InputError, match=r"task 'masked_lm': got tuple"):
        run(("a [MASK]", "pair"))
    long = "word " * 80 + "[MASK]"
    with pytest.warns(UserWarning, match="truncated"), pytest.raises(InputError, match="cut by truncation"):
        run(long)
