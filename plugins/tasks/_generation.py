"""Generation options and per-step scores shared by the language-model tasks (causal LM, seq2seq).

Options: greedy (default) or seeded sampling (``do_sample``, ``temperature``, ``top_k``,
``top_p``, ``generation_seed``), ``stop`` strings, ``max_new_tokens``; ``target_span`` explains
only a slice of the continuation's tokens; ``step_scores`` records, per explained token, its
probability, log-probability, the entropy of the next-token distribution and its rank (by
default only when they are free: read from a generation's logits).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

__all__ = ["GenerationOptions", "generation_options", "resolve_span"]


@attrs.frozen(kw_only=True)
class GenerationOptions:
    """Checked generation options of a task (see :func:`generation_options`)."""

    max_new_tokens: int = 5
    do_sample: bool = False
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    generation_seed: int = 0
    stop: tuple[str, ...] = ()
    target_span: tuple[int, int | None] | None = None
    step_scores: bool | None = None  # None: when generating (free); True: given continuations too

    def generate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``ModelAdapter.generate_steps``."""
        return {"max_new_tokens": self.max_new_tokens, "do_sample": self.do_sample, "temperature": self.temperature,
                "top_k": self.top_k, "top_p": self.top_p, "seed": self.generation_seed, "stop": self.stop}

    @property
    def from_generation(self) -> bool:
        """Step scores of generated continuations (read from the generation's logits)."""
        return self.step_scores is not False

    @property
    def from_extra_pass(self) -> bool:
        """Step scores of given continuations (one no-grad pass per 16 inputs)."""
        return self.step_scores is True

    def describe(self) -> str:
        """How a target ``None`` is generated, for error messages."""
        how = "sampled" if self.do_sample else "greedily"
        return f"{self.max_new_tokens} tokens generated {how}"


def _int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def generation_options(error: Any, *, max_new_tokens: Any, do_sample: Any, temperature: Any, top_k: Any, top_p: Any,
                       generation_seed: Any, stop: Any, target_span: Any, step_scores: Any) -> GenerationOptions:
    """Check a task's generation options; ``error(message)`` makes the task's ``InputError``."""
    if not _int(max_new_tokens) or max_new_tokens < 1:
        raise error(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
    if not isinstance(do_sample, bool | np.bool_):
        raise error(f"do_sample must be True or False, got {do_sample!r}")
    given = [k for k, v in (("temperature", temperature), ("top_k", top_k), ("top_p", top_p)) if v is not None]
    if given and not do_sample:
        raise error(f"{', '.join(given)} only apply when sampling: pass do_sample=True (greedy decoding is the "
                    "default)")
    if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, int | float)
                                    or not math.isfinite(temperature) or temperature <= 0):
        raise error(f"temperature must be a finite number > 0, got {temperature!r}")
    if top_k is not None and (not _int(top_k) or top_k < 1):
        raise error(f"top_k must be a positive integer (or None: no top-k filter), got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, int | float)
                              or not 0 < top_p <= 1):
        raise error(f"top_p must be a number in (0, 1] (or None: no nucleus filter), got {top_p!r}")
    if not _int(generation_seed):
        raise error(f"generation_seed must be an integer, got {generation_seed!r}")
    if stop is None:
        stops: tuple[str, ...] = ()
    elif isinstance(stop, str):
        stops = (stop,)
    elif isinstance(stop, Sequence) and all(isinstance(s, str) for s in stop):
        stops = tuple(stop)
    else:
        raise error(f"stop must be a string or a list of strings, got {stop!r:.60}")
    if any(not s for s in stops):
        raise error("stop strings must be non-empty")
    span: tuple[int, int | None] | None = None
    if target_span is not None:
        if (isinstance(target_span, str) or not isinstance(target_span, Sequence) or len(target_span) != 2
                or not _int(target_span[0]) or not (target_span[1] is None or _int(target_span[1]))):
            raise error(f"target_span must be (start, end) continuation-token indices (a Python slice: end excluded, "
                        f"negative from the end, end None: to the end), got {target_span!r:.60}")
        span = (int(target_span[0]), None if target_span[1] is None else int(target_span[1]))
    if step_scores is not None and not isinstance(step_scores, bool | np.bool_):
        raise error(f"step_scores must be None (when generating), True (given continuations too: one extra pass) "
                    f"or False, got {step_scores!r}")
    return GenerationOptions(max_new_tokens=int(max_new_tokens), do_sample=bool(do_sample),
                             temperature=None if temperature is None else float(temperature),
                             top_k=None if top_k is None else int(top_k),
                             top_p=None if top_p is None else float(top_p), generation_seed=int(generation_seed),
                             stop=stops, target_span=span,
                             step_scores=None if step_scores is None else bool(step_scores))


def resolve_span(span: tuple[int, int | None] | None, n: int, error: Any) -> tuple[int, int]:
    """``(start, end)`` of ``span`` (a slice over ``n`` continuation tokens); an empty one is refused."""
    if span is None:
        return 0, n
    start, end, _ = slice(*span).indices(n)
    if start >= end:
        raise error(f"target_span={span} selects no token of the {n}-token continuation: pick (start, end) with "
                    f"start < end among indices 0..{n - 1} (negative: from the end)")
    return start, end

