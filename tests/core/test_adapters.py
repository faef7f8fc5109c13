"""Model adapters over classifiers and causal LMs; bad input gives clear errors; the model is untouched."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

from interpreto_core import InputError, ModelAdapter


def _scores(model, tokenizer, ids, targets, score):
    """Scores of ``targets`` (a list of Target) on one row of ``ids`` through the model's task."""
    from interpreto_core import get_registry
    from interpreto_core._attribution import resolve_task
    from interpreto_core.plugin import Elements, RowBatch, TaskItem

    reg = get_registry()
    ad = ModelAdapter(model, tokenizer)
    task = resolve_task(reg, model).obj().bind(ad)
    item = TaskItem(input="x", text="x", ids=ids, elements=Elements(texts=("x",), spans=(None,), token_groups=((1,),),
                    granularity="token"), targets=targets, visible=[[True]] * len(targets))
    batch = RowBatch(inputs_embeds=ad.embed(torch.tensor(ids))[None], attention_mask=torch.ones(1, len(ids)).long(),
                     items=(item,), row_item=torch.zeros(1).long(), target=torch.arange(len(targets))[None],
                     segments=((0, 0, 1),))
    return task.scores(batch, reg.get("score", score).obj())


def test_classifier_scores_from_embeddings_match_the_model(classifier, tokenizer):
    from interpreto_core.plugin import Target

    ad = ModelAdapter(classifier, tokenizer)
    assert ad.kind == "classifier"
    enc = ad.encode("a quiet, moving film")
    ids = torch.tensor([enc.input_ids])
    logits = classifier(input_ids=ids).logits
    targets = [Target(index=0, label="0"), Target(index=2, label="2")]
    with torch.no_grad():
        for score, expected in [
            ("logit", logits),
            ("probability", logits.softmax(-1)),
            ("log_probability", logits.log_softmax(-1)),
            ("entropy", -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1, keepdim=True).expand(-1, 3)),
        ]:
            got = _scores(classifier, tokenizer, enc.input_ids, targets, score)
            torch.testing.assert_close(got, expected[:, [0, 2]])
        contrast = [Target(index=0, label="0", foil=2), Target(index=2, label="2", foil=1)]
        got = _scores(classifier, tokenizer, enc.input_ids, contrast, "contrast")
        torch.testing.assert_close(got[0], torch.stack([logits[0, 0] - logits[0, 2], logits[0, 2] - logits[0, 1]]))


@pytest.mark.parametrize("lm", ["causal_lm", "llama_lm"])
def test_causal_lm_scores_only_the_needed_positions(lm, tokenizer, request):
    from interpreto_core.plugin import Target

    model = request.getfixturevalue(lm)
    ad = ModelAdapter(model, tokenizer)
    assert ad.kind == "causal_lm"
    enc = ad.encode("the cat sat on")
    assert enc.input_ids[-1] != tokenizer.sep_token_id  # no trailing EOS on a prompt
    ids = list(enc.input_ids) + [2000, 2001]
    p = len(enc.input_ids)
    targets = [Target(index=2000, label="a", position=p - 1), Target(index=2001, label="b", position=p)]
    with torch.no_grad():
        full = model(input_ids=torch.tensor([ids])).logits.log_softmax(-1)
        got = _scores(model, tokenizer, ids, targets, "log_probability")
    torch.testing.assert_close(got[0], torch.stack([full[0, p - 1, 2000], full[0, p, 2001]]))


def test_greedy_generation(causal_lm, tokenizer):
    ad = ModelAdapter(causal_lm, tokenizer)
    enc = ad.encode("once upon a time")
    new = ad.generate(enc.input_ids, max_new_tokens=3)
    ids = torch.tensor([enc.input_ids])
    with torch.no_grad():
        first = causal_lm(input_ids=ids).logits[0, -1].argmax().item()
    assert len(new) == 3 and new[0] == first


def test_task_mismatch_is_a_clear_error(classifier, causal_lm, tokenizer):
    import interpreto_core

    with pytest.raises(InputError, match="task 'causal_lm' was asked, but a BertForSequenceClassification is a model "
                                         "of task 'sequence_classification'"):
        interpreto_core.explain(classifier, tokenizer, "fine", method="occlusion", task="causal_lm")
    with pytest.raises(InputError, match="is a model of task 'causal_lm'"):
        interpreto_core.explain(causal_lm, tokenizer, "fine", method="occlusion", kind="classifier")
    with pytest.raises(InputError, match="unknown task 'causal'"):
        interpreto_core.explain(causal_lm, tokenizer, "fine", method="occlusion", task="causal")
    with pytest.raises(InputError, match="no task claims a GPT2Model; pass task= one of: .*sequence_classification"):
        interpreto_core.explain(causal_lm.transformer, tokenizer, "fine", method="occlusion")


def test_model_without_input_embeddings(tokenizer):
    class NoEmbeddings(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 2)

        def get_input_embeddings(self):
            raise NotImplementedError

    with pytest.raises(InputError, match="exposes no input embeddings"):
        ModelAdapter(NoEmbeddings(), tokenizer, kind="classifier")


def test_bad_texts(classifier, causal_lm, tokenizer):
    ad = ModelAdapter(classifier, tokenizer)
    for bad in ["", "   \n"]:
        with pytest.raises(InputError, match="empty text"):
            ad.encode(bad)
    with pytest.raises(InputError, match="must be strings"):
        ad.encode(3)
    long_text = "word " * 200
    with pytest.warns(UserWarning, match="truncated to the model's maximum of 64 tokens"):
        enc = ad.encode(long_text)
    assert len(enc.input_ids) == 64 and enc.input_ids[-1] == tokenizer.sep_token_id and enc.truncated
    with pytest.raises(InputError, match="more than the model's maximum"):
        ModelAdapter(causal_lm, tokenizer).encode(long_text, continued=True)


def test_device_and_dtype_are_explicit_and_never_changed(classifier, tokenizer):
    with pytest.raises(InputError, match="does not move your model"):
        ModelAdapter(classifier, tokenizer, device="meta")
    with pytest.raises(InputError, match="does not cast your model"):
        ModelAdapter(classifier, tokenizer, dtype=torch.float16)
    ad = ModelAdapter(classifier, tokenizer, device="cpu", dtype=torch.float32)
    assert ad.device == torch.device("cpu")


def test_explaining_leaves_model_and_tokenizer_untouched(tokenizer, classifier):
    import interpreto_core

    model = copy.deepcopy(classifier).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    vocab = len(tokenizer)
    pad, special = tokenizer.pad_token, dict(tokenizer.special_tokens_map)
    with pytest.warns(UserWarning, match="training mode"):
        interpreto_core.explain(model, tokenizer, "fine", method="integrated_gradients", n_steps=4)
    assert model.training  # restored
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert len(tokenizer) == vocab and tokenizer.pad_token == pad and dict(tokenizer.special_tokens_map) == special
    assert model.get_input_embeddings().weight.shape[0] == vocab


def test_tokenizer_without_mask_or_pad_uses_embedding_level_replacement(causal_lm, tokenizer, tmp_path):
    # A GPT-2 style tokenizer without mask/pad token: masking falls back to the zero embedding.
    from transformers import AutoTokenizer

    tokenizer.save_pretrained(tmp_path)
    bare = AutoTokenizer.from_pretrained(tmp_path, mask_token=None, pad_token=None)
    assert bare.mask_token_id is None and bare.pad_token_id is None
    ad = ModelAdapter(causal_lm, bare)
    assert torch.equal(ad.baseline_vector("auto"), torch.zeros(causal_lm.config.n_embd))
    with pytest.raises(InputError, match="has no mask token"):
        ad.baseline_vector("mask")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        import interpreto_core

        expl = interpreto_core.explain(causal_lm, bare, "hello there", method="occlusion", targets=" friend")[0]
    assert expl.scores.shape[0] >= 1 and len(bare) == len(tokenizer)


def test_the_tokenizers_backend_settings_survive_explain_and_evaluate(classifier):
    """A tokenizer loaded with truncation/padding in tokenizer.json (MiniLM's) keeps them."""
    import interpreto_core
    from interpreto_core.testing import make_tiny_tokenizer

    tok = make_tiny_tokenizer()
    before = (tok.backend_tokenizer.truncation, tok.backend_tokenizer.padding)
    assert before[0] is not None  # the shipped tokenizer.json sets truncation at 128
    expls = interpreto_core.explain(classifier, tok, [("a pair", "of texts"), "one text"], method="occlusion")
    interpreto_core.evaluate(classifier, tok, expls, metrics=["deletion"])
    assert (tok.backend_tokenizer.truncation, tok.backend_tokenizer.padding) == before


def test_a_training_mode_model_explained_from_threads_never_runs_with_dropout(classifier, tokenizer):
    """Concurrent calls share the eval switch: every call sees eval mode; training mode comes back once."""
    import threading

    import interpreto_core

    model = copy.deepcopy(classifier).train()
    seen: list[bool] = []
    forward = model.forward

    def watched(*args, **kwargs):
        seen.append(model.training)
        return forward(*args, **kwargs)

    model.forward = watched
    errors: list[BaseException] = []

    def run():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                interpreto_core.explain(model, tokenizer, ["a fine film", "a dull one"], method="lime", n_samples=40,
                                        batch_size=4, progress=False)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and seen and not any(seen)
    assert model.training
