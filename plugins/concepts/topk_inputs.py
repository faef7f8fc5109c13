"""Top-k activating inputs: the units (words, tokens, sentences) where a concept fires most.

For concept c, rows are ranked by their code Z_nc. A token row (WordPiece / BPE fragment) is
read as the whole word around it, so "##ball" shows as "football". ``words`` lists distinct
units (lower-cased) by their best (``aggregate="max"``) or mean (``"mean"``, over units seen at
least ``min_count`` times) code; ``examples`` gives the top rows with their context.
"""

from __future__ import annotations

from interpreto_core.plugin import ConceptInterpretation, InputError, check_concepts, concept_codes, hookimpl, word_span


class TopKInputs:
    """Top-k activating units of each concept, as real words with context."""

    def __init__(self, *, k: int = 10, aggregate: str = "max", min_count: int = 1, context_chars: int = 40,
                 n_examples: int = 5) -> None:
        if aggregate not in ("max", "mean"):
            raise InputError(f"aggregate must be 'max' or 'mean', got {aggregate!r}")
        if not isinstance(k, int) or k < 1:
            raise InputError(f"k must be a positive integer, got {k!r}")
        self.k, self.aggregate, self.min_count = k, aggregate, min_count
        self.context_chars, self.n_examples = context_chars, n_examples

    def _unit(self, acts, row):
        start, end = (int(v) for v in acts.spans[row])
        if start < 0:
            return acts.units[row], (start, end)
        text = acts.texts[int(acts.text_index[row])]
        if acts.granularity in ("token", "first_token", "last_token"):
            start, end = word_span(text, start, end)
        return text[start:end], (start, end)

    def _context(self, acts, row, span):
        text = acts.texts[int(acts.text_index[row])]
        start, end = span
        if start < 0:
            return "", acts.units[row], ""
        c = self.context_chars
        left = ("…" if start > c else "") + text[max(0, start - c) : start]
        right = text[end : end + c] + ("…" if end + c < len(text) else "")
        return left, text[start:end], right

    def interpret(self, learner, *, activations=None, split=None, concepts=None):
        import torch

        codes = concept_codes(learner, activations)
        chosen = check_concepts(concepts, codes.shape[1])
        units = [None] * len(activations)
        out = []
        for c in chosen:
            col = codes[:, c]
            order = torch.argsort(col, descending=True).tolist()
            scores: dict[str, list[float]] = {}
            examples = []
            for row in order:
                value = float(col[row])
                if value <= 0 and self.aggregate == "max" and len(scores) >= self.k:
                    break
                if units[row] is None:
                    units[row] = self._unit(activations, row)
                word, span = units[row]
                key = word.lower()
                if len(examples) < self.n_examples and value > 0:
                    left, unit, right = self._context(activations, row, span)
                    examples.append((left, unit, right, value))
                if self.aggregate == "max":
                    if key not in scores:
                        scores[key] = [value]
                    if len(scores) >= self.k and len(examples) >= self.n_examples:
                        break
                else:
                    scores.setdefault(key, []).append(value)
            if self.aggregate == "mean":
                ranked = sorted(((w, sum(v) / len(v)) for w, v in scores.items() if len(v) >= self.min_count),
                                key=lambda t: -t[1])
            else:
                ranked = [(w, v[0]) for w, v in scores.items()]
            out.append(ConceptInterpretation(concept=c, method="topk_inputs", words=tuple(ranked[: self.k]),
                                             examples=tuple(examples)))
        return out


@hookimpl
def interpreto_register_interpreter(register):
    register(TopKInputs, name="topk_inputs",
             summary="Top-k activating inputs of a concept, as whole words with context.")
