"""Concept interpretations: what a concept means, as words, examples or a label.

An interpreter plugin's ``interpret(learner, *, activations=None, split=None, concepts=None)``
returns one :class:`ConceptInterpretation` per concept. ``interpret_concepts`` runs a registered
interpreter by name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import attrs

from .._errors import InputError

__all__ = ["ConceptInterpretation", "interpret_concepts", "concept_codes", "word_span", "check_concepts"]

_WORD = re.compile(r"\w+(?:['’]\w+)*")


@attrs.frozen(kw_only=True)
class ConceptInterpretation:
    """What one concept means, as an interpreter found it.

    Build it with keywords: ``ConceptInterpretation(concept=3, method="my_interpreter",
    words=(("goal", 2.1), ("match", 1.7)))``.

    concept:
        The concept's index, ``0 <= concept < learner.n_concepts`` (its row of ``learner.dictionary``).
    method:
        The interpreter's registered name (shown in reports; required, non-empty).
    words:
        ``(word or token, score)`` pairs, best first; scores are finite floats on the
        interpreter's own scale (a code value, a logit ...).
    examples:
        ``(left context, unit, right context, score)`` tuples, best first: the unit is the
        activating word / token / sentence as it appears in the text.
    label:
        A short name for the concept (``lm_labels``), or None.
    extras:
        Anything else, JSON-able (``to_json`` keeps it): a prompt, raw output ...
    """

    concept: int
    method: str
    words: tuple[tuple[str, float], ...] = ()
    examples: tuple[tuple[str, str, str, float], ...] = ()
    label: str | None = None
    extras: dict[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self, recurse=True)

    def __str__(self) -> str:
        head = f"concept {self.concept}" + (f" [{self.label}]" if self.label else "")
        return f"{head}: {', '.join(w for w, _ in self.words[:10])}"


class ConceptInterpretations(list):
    """The list ``interpret_concepts`` returns, with a notebook view (an escaped table)."""

    def _repr_html_(self) -> str:
        from .._safe_text import html_text as e

        rows = "".join(
            f"<tr><th>{e(i.concept)}</th><td>{e(i.label or '')}</td><td>{e(', '.join(w for w, _ in i.words[:10]))}"
            f"</td><td>{'<br>'.join(e(left + '[' + u + ']' + right) for left, u, right, _ in i.examples[:3])}</td></tr>"
            for i in self)
        return (f'<table class="itp-table"><tr><th>concept</th><th>label</th><th>top words</th><th>examples</th></tr>'
                f"{rows}</table>")


def check_concepts(concepts: Sequence[int] | int | None, n: int) -> list[int]:
    if concepts is None:
        return list(range(n))
    chosen = [concepts] if isinstance(concepts, int) else list(concepts)
    bad = [c for c in chosen if not isinstance(c, int) or not 0 <= c < n]
    if bad:
        raise InputError(f"concepts {bad} out of range: the learner has {n} concepts (0..{n - 1})")
    return chosen


def concept_codes(learner: Any, activations: Any, *, batch_size: int = 4096) -> Any:
    """Codes ``(N, C)`` of ``activations`` under ``learner`` (batched, no gradient)."""
    from ._metrics import codes_and_reconstruction

    if activations is None:
        raise InputError("this interpreter needs activations= (an Activations from SplitModel.collect)")
    if not hasattr(activations, "units"):
        raise InputError("activations must be an Activations (from SplitModel.collect): texts and spans are needed")
    return codes_and_reconstruction(learner, activations.values, batch_size=batch_size)[0]


def word_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of the whole word(s) around ``[start, end)`` (a WordPiece or BPE fragment)."""
    for m in _WORD.finditer(text):
        if m.start() <= start < m.end():
            start = m.start()
        if m.start() < end <= m.end():
            end = m.end()
            break
    return start, end


def interpret_concepts(
    learner: Any,
    *,
    method: str = "topk_inputs",
    activations: Any = None,
    split: Any = None,
    concepts: Sequence[int] | int | None = None,
    **params: Any,
) -> ConceptInterpretations:
    """Interpret concepts with a registered interpreter (``interpreto methods --kind interpreter``)."""
    from .._parts import build_part
    from .._registry import get_registry

    rec = get_registry().get("interpreter", method)
    interpreter = build_part(rec.obj, params, kind="interpreter", name=rec.name)
    return ConceptInterpretations(interpreter.interpret(learner, activations=activations, split=split,
                                                        concepts=concepts))
