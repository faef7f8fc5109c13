"""Tasks: what differs between model families and heads, behind one contract.

A task turns a user's inputs (a text, a text pair, chat messages, a source and its target ...)
into :class:`TaskItem` records — token ids laid end to end, the elements that are scored, the
targets — and scores targets on batches of embedded rows (:class:`RowBatch`). The attribution
engine and the metrics know nothing else about the model: every method runs on every task.

This module stays light (attrs + numpy): plugins subclass :class:`Task` at load time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from ._elements import Elements
from ._errors import InputError

if TYPE_CHECKING:
    import torch

    from ._adapters import ModelAdapter
    from ._scores import Score

__all__ = ["Target", "TaskItem", "RowBatch", "Task"]


@attrs.frozen(kw_only=True)
class Target:
    """One output being explained.

    ``index``: the class, token or label id whose score is explained; ``label``: its name;
    ``position``: the sequence position whose output is read (token-level tasks; None for a
    sequence classifier); ``foil`` / ``foil_label``: the contrast (``contrast=``), read at the
    same position; ``info``: task-specific JSON data (a QA span's end, a tagged element, ...).
    """

    index: int
    label: str
    position: int | None = None
    foil: int | None = None
    foil_label: str | None = None
    info: dict[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


def _frozen_bool(value: Any) -> np.ndarray:
    arr = np.array(value, dtype=bool)
    if arr.ndim != 2:
        raise InputError(f"visible must be a (targets x elements) matrix, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


@attrs.frozen(kw_only=True, eq=False)
class TaskItem:
    """One input ready for the engine.

    Attributes
    ----------
    input: what the user gave (a string, a pair, chat messages ...), JSON-able.
    text: the text that element spans point into (a pair's texts joined by the task).
    ids: the token ids the engine embeds, every stream laid end to end (seq2seq: source then
        decoder input); ``layout`` tells the task where each stream starts.
    elements: the scored units; their ``token_groups`` index into ``ids``. Tokens in no group
        (special and template tokens, system messages) are never masked.
    targets: what is explained, one row of scores each.
    visible: ``(T, E)`` bool, element e can influence target t (causal: not after it).
    generated: per element, True for tokens of the output (generated / target tokens).
    segments: per element, which part of the input it comes from (pair: 0 / 1; chat: message).
    segment_names: a name for each segment number (``("premise", "hypothesis")``).
    output_text: the explained output (a continuation, an answer span), if any.
    layout: task-private JSON data needed to score rows (e.g. ``{"source_length": 9}``).
    truncated: the input was cut to the model's maximum length.
    step_scores: per-target scores of the explained output, each a list with one value per
        target (LMs: ``probability``, ``log_probability``, ``entropy``, ``rank`` of each token).
    """

    input: Any
    text: str
    ids: tuple[int, ...] = attrs.field(converter=_tuple)
    elements: Elements
    targets: tuple[Target, ...] = attrs.field(converter=_tuple)
    visible: np.ndarray = attrs.field(converter=_frozen_bool)
    generated: tuple[bool, ...] = attrs.field(converter=_tuple, default=())
    segments: tuple[int, ...] = attrs.field(converter=_tuple, default=())
    segment_names: tuple[str, ...] = attrs.field(converter=_tuple, default=())
    output_text: str | None = None
    layout: dict[str, Any] = attrs.field(factory=dict)
    truncated: bool = False
    step_scores: dict[str, list[float]] | None = None

    def __attrs_post_init__(self) -> None:
        n_e = len(self.elements)
        if n_e == 0:
            raise InputError(f"input {_short(self.text)} has no {self.elements.granularity} elements to explain")
        if not self.targets:
            raise InputError(f"input {_short(self.text)} has no target to explain")
        if self.visible.shape != (len(self.targets), n_e):
            raise InputError(f"visible has shape {self.visible.shape}, expected {(len(self.targets), n_e)}")
        for name in ("generated", "segments"):
            value = getattr(self, name)
            if value and len(value) != n_e:
                raise InputError(f"{name} must have one entry per element ({n_e}), got {len(value)}")
        for key, values in (self.step_scores or {}).items():
            if len(values) != len(self.targets):
                raise InputError(f"step_scores[{key!r}] has {len(values)} values for {len(self.targets)} targets")
        length = len(self.ids)
        if any(not 0 <= t < length for g in self.elements.token_groups for t in g):
            raise InputError("element token groups must index into ids")

    @property
    def length(self) -> int:
        return len(self.ids)

    def membership(self) -> np.ndarray:
        """``(E, L)`` 0/1 float32: element e covers token l."""
        return self.elements.membership(len(self.ids))


@attrs.frozen(kw_only=True, eq=False)
class RowBatch:
    """Rows the engine asks a task to score: embedded, padded on the right.

    ``inputs_embeds (B, L, H)`` and ``attention_mask (B, L)``; row b belongs to
    ``items[row_item[b]]`` and scores that item's targets ``target[b, w]`` (``-1``: padding,
    score ignored). ``segments`` lists ``(item, first row, n rows)``: the rows of one item are
    contiguous, so a task can work per item with a few tensor operations, never per row.
    ``prefix (B,)``: for masked rows of a task with ``reuses_prefix = True``, how many leading
    tokens each row shares with its unperturbed input (None otherwise).
    """

    inputs_embeds: Any
    attention_mask: Any
    items: tuple[TaskItem, ...]
    row_item: Any  # LongTensor (B,)
    target: Any  # LongTensor (B, W)
    segments: tuple[tuple[int, int, int], ...]
    prefix: Any = None  # LongTensor (B,) or None

    def target_field(self, field: str, *, default: int = 0) -> torch.Tensor:
        """``(B, W)`` LongTensor of one integer field of each row's targets (``index``, ``position``,
        ``foil``); padding and missing values take ``default``."""
        import torch

        width = self.target.shape[1]
        out = torch.full((len(self.row_item), width), default, dtype=torch.long)
        for i, start, n in self.segments:
            values = [getattr(t, field) for t in self.items[i].targets]
            table = torch.tensor([default if v is None else int(v) for v in values] + [default], dtype=torch.long)
            out[start : start + n] = table[self.target[start : start + n].cpu()]  # -1 picks the default
        return out.to(self.inputs_embeds.device)


class Task:
    """Base class of tasks. Subclasses set ``name``, implement :meth:`claims`, :meth:`prepare`
    and :meth:`scores`, and take their options as keyword-only constructor parameters.

    The engine builds a task with its options, then :meth:`bind` gives it the model (through a
    ``ModelAdapter``: tokenizer helpers, embeddings, device). A task never mutates the model or
    the tokenizer (no pad token set, no embedding resized).

    Class attributes
    ----------------
    name: the registry name.
    priority: claim order (lower asks first; ties by name): a specific task (token
        classification) must come before a generic one.
    default_score: the score explained when none is asked (``logit``, ``log_probability`` ...).
    metric_score: the score faithfulness metrics read by default (``probability``: curves of a
        probability are comparable across inputs; a task whose output is no distribution, such as
        a similarity, names another).
    input_help: one line saying what an input is, for error messages.
    reuses_prefix: masked rows come with ``RowBatch.prefix`` (the tokens each shares with its
        input), so :meth:`scores` can reuse the input's key/value cache for them (causal LMs).
    """

    name: ClassVar[str] = ""
    priority: ClassVar[int] = 100
    default_score: ClassVar[str] = "logit"
    metric_score: ClassVar[str] = "probability"
    input_help: ClassVar[str] = "a text"
    reuses_prefix: ClassVar[bool] = False

    adapter: ModelAdapter

    @classmethod
    def claims(cls, model: Any) -> bool:
        """True if this task explains ``model`` (by class name, ``config``, ...)."""
        return False

    def bind(self, adapter: ModelAdapter) -> Task:
        """Attach the model; called once by the engine before :meth:`prepare`."""
        self.adapter = adapter
        self.model = adapter.model
        self.tokenizer = adapter.tokenizer
        self.check_model()
        return self

    def check_model(self) -> None:
        """Raise ``InputError`` if the bound model cannot serve this task (optional)."""

    def prepare(
        self, inputs: Sequence[Any], *, targets: Sequence[Any], contrasts: Sequence[Any], granularity: str
    ) -> list[TaskItem]:
        """One :class:`TaskItem` per input (``targets[i]`` / ``contrasts[i]``: what the user asked for
        input i, None for the default). Batch model calls (default targets) over the inputs."""
        raise NotImplementedError

    def scores(self, batch: RowBatch, score: Score) -> torch.Tensor:
        """``(B, W)`` scores of the rows' targets under ``score``."""
        raise NotImplementedError

    def row_length(self, item: TaskItem, targets: Sequence[int]) -> int:
        """Tokens of ``item.ids`` a row needs to score ``targets`` (indices into ``item.targets``).

        The engine cuts rows there: a causal LM's target read at position p needs ``p + 1``
        tokens, whatever follows it cannot change its score. A row shorter than the item is right
        padded (``attention_mask`` 0); :meth:`scores` must read each row's tokens from the mask,
        not from ``item.length``. Default: the whole item (no row is cut).
        """
        return item.length

    def input_error(self, message: str) -> InputError:
        """An ``InputError`` that names the task and what its inputs are."""
        return InputError(f"task {self.name!r}: {message} (an input of this task is {self.input_help})")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _short(text: str, n: int = 40) -> str:
    return repr(text if len(text) <= n else text[: n - 3] + "...")
