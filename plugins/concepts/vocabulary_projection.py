"""Vocabulary projection (logit lens, nostalgebraist 2020): a concept direction read through the unembedding.

For a causal LM with unembedding W_U (V, H) and a concept direction D_c (H,):
logits_c = W_U norm(D_c); the top tokens are the words the concept pushes the model to say.
``norm`` is the model's final normalisation weight (RMSNorm / LayerNorm gain, without its
centring or bias) when ``final_norm=True``, else the identity. Meaningful for residual-stream
split points of causal LMs.
"""

from __future__ import annotations

from interpreto_core.plugin import ConceptInterpretation, InputError, check_concepts, hookimpl


def _final_norm_weight(model):
    for name in ("model.norm", "transformer.ln_f", "gpt_neox.final_layer_norm", "model.final_layernorm"):
        module = model
        for part in name.split("."):
            module = getattr(module, part, None)
            if module is None:
                break
        if module is not None and getattr(module, "weight", None) is not None:
            return module.weight
    return None


class VocabularyProjection:
    """Top tokens of each concept direction through a causal LM's unembedding."""

    def __init__(self, *, k: int = 10, final_norm: bool = True) -> None:
        self.k, self.final_norm = k, final_norm

    def interpret(self, learner, *, activations=None, split=None, concepts=None):
        import torch

        if split is None:
            raise InputError("vocabulary_projection needs split= (the SplitModel the learner was fitted on)")
        model = split.model
        unembed = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        if split.kind != "causal_lm" or unembed is None:
            raise InputError(
                f"vocabulary_projection needs a causal LM with an unembedding (lm_head); {type(model).__name__} "
                "is not one (a classifier's head maps to classes, not words): use the topk_inputs interpreter"
            )
        w = unembed.weight.detach().float()  # (V, H)
        d = learner.dictionary.detach().float()
        if d.shape[1] != w.shape[1]:
            raise InputError(
                f"the concept directions have size {d.shape[1]}, the unembedding expects {w.shape[1]}: "
                "project concepts learned on the residual stream (block outputs)"
            )
        gain = _final_norm_weight(model) if self.final_norm else None
        if gain is not None:
            d = d * gain.detach().float()
        chosen = check_concepts(concepts, d.shape[0])
        tok = split.tokenizer
        out = []
        with torch.no_grad():
            logits = d[chosen] @ w.T  # (c, V)
            top = logits.topk(self.k, dim=1)
        for row, c in enumerate(chosen):
            words = tuple((tok.decode([int(i)]), float(v))
                          for v, i in zip(top.values[row], top.indices[row], strict=True))
            out.append(ConceptInterpretation(concept=c, method="vocabulary_projection", words=words))
        return out


@hookimpl
def interpreto_register_interpreter(register):
    register(VocabularyProjection, name="vocabulary_projection",
             summary="Top tokens of a concept direction through a causal LM's unembedding (logit lens).",
             reference="nostalgebraist, interpreting GPT: the logit lens, 2020")
