"""The result of an attribution: elements, one row of scores per target, provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from ._errors import InputError
from ._tasks import Target, TaskItem, _tuple

__all__ = ["Explanation"]

FORMAT_VERSION = 2  # 2: the task, its input and item (token ids, groups, visibility) are kept


def _as_scores(value: Any) -> np.ndarray:
    arr = np.array(value, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"scores must be 2-D (targets x elements), got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


@attrs.frozen(kw_only=True, eq=False)
class Explanation:
    """Attribution of one text.

    Attributes
    ----------
    text: the input text (the prompt, for causal LMs).
    elements: the scored units (tokens, words or sentences); for causal LMs, followed by the
        generated tokens (``generated[e]`` is True for those).
    spans: character span of each element in ``text`` (None for generated tokens).
    scores: ``(n_targets, n_elements)`` signed scores; row t explains ``targets[t]``.
    targets: what each row explains (a class, or a generated token).
    method, parameters, granularity, versions: provenance.
    extras: method-specific results (e.g. ``completeness_delta`` for integrated gradients).
    task, score: the task that encoded the input and the score explained.
    input: the input as given (a text, a pair, chat messages ...).
    token_ids, token_groups: the tokens the engine saw and the tokens of each element;
        ``visible (T, E)``: element e can influence target t; ``segments`` / ``segment_names``:
        which part of the input each element comes from; ``layout``: the task's own data.
        With these a metric re-scores the explanation through the same engine, with no
        re-tokenization.
    step_scores: LMs: per generated (or given) token, i.e. per target, its ``probability``,
        ``log_probability``, ``entropy`` (nats) of the next-token distribution and ``rank``
        (1: the most likely token), read from the passes already made; None when not computed.
    """

    text: str
    elements: tuple[str, ...] = attrs.field(converter=_tuple)
    spans: tuple[tuple[int, int] | None, ...] = attrs.field(
        converter=lambda s: tuple(tuple(x) if x else None for x in s)
    )
    scores: np.ndarray = attrs.field(converter=_as_scores)
    targets: tuple[Target, ...] = attrs.field(converter=_tuple)
    method: str
    granularity: str
    parameters: dict[str, Any] = attrs.field(factory=dict)
    versions: dict[str, str] = attrs.field(factory=dict)
    generated: tuple[bool, ...] = attrs.field(converter=_tuple, default=())
    model_kind: str = "classifier"
    output_text: str | None = None
    extras: dict[str, Any] = attrs.field(factory=dict)
    task: str | None = None
    score: str | None = None
    input: Any = None
    token_ids: tuple[int, ...] = attrs.field(converter=_tuple, default=())
    token_groups: tuple[tuple[int, ...], ...] = attrs.field(converter=lambda g: tuple(tuple(x) for x in g), default=())
    visible: Any = None
    segments: tuple[int, ...] = attrs.field(converter=_tuple, default=())
    segment_names: tuple[str, ...] = attrs.field(converter=_tuple, default=())
    layout: dict[str, Any] = attrs.field(factory=dict)
    step_scores: dict[str, list[float]] | None = attrs.field(
        default=None, converter=lambda d: None if d is None else {str(k): list(v) for k, v in d.items()})

    def __attrs_post_init__(self) -> None:
        n_t, n_e = self.scores.shape
        if n_e != len(self.elements) or n_t != len(self.targets):
            raise ValueError(
                f"scores shape {self.scores.shape} does not match {len(self.targets)} targets x "
                f"{len(self.elements)} elements"
            )
        if self.generated and len(self.generated) != n_e:
            raise ValueError("generated must have one flag per element")
        if self.token_groups and len(self.token_groups) != n_e:
            raise ValueError("token_groups must have one group per element")
        if self.visible is not None:
            vis = np.array(self.visible, dtype=bool)
            if vis.shape != self.scores.shape:
                raise ValueError(f"visible has shape {vis.shape}, scores {self.scores.shape}")
            vis.setflags(write=False)
            object.__setattr__(self, "visible", vis)
        for key, values in (self.step_scores or {}).items():
            if len(values) != n_t:
                raise ValueError(f"step_scores[{key!r}] has {len(values)} values for {n_t} targets")

    @classmethod
    def from_item(cls, item: TaskItem, scores: np.ndarray, extras: dict[str, Any], *, method: str,
                  parameters: dict[str, Any], versions: dict[str, str], task: str, score: str) -> Explanation:
        """The explanation of one task item (invisible elements score 0)."""
        return cls(
            text=item.text, elements=item.elements.texts, spans=item.elements.spans,
            scores=np.where(item.visible, scores, 0.0), targets=item.targets, method=method,
            granularity=item.elements.granularity, parameters=parameters, versions=versions,
            generated=item.generated, model_kind=_MODEL_KINDS.get(task, task), output_text=item.output_text,
            extras=extras | ({"truncated": True} if item.truncated else {}), task=task, score=score,
            input=item.input, token_ids=item.ids, token_groups=item.elements.token_groups, visible=item.visible,
            segments=item.segments, segment_names=item.segment_names, layout=item.layout,
            step_scores=item.step_scores,
        )

    def to_item(self) -> TaskItem:
        """The task item this explanation was made from (needs format 2: its token ids)."""
        from ._elements import Elements

        if not self.token_ids:
            raise ValueError("this explanation keeps no token ids (saved by an older version): re-explain the text")
        return TaskItem(
            input=self.input, text=self.text, ids=self.token_ids,
            elements=Elements(texts=self.elements, spans=self.spans, token_groups=self.token_groups,
                              granularity=self.granularity),
            targets=self.targets,
            visible=self.visible if self.visible is not None else np.ones(self.scores.shape, bool),
            generated=self.generated, segments=self.segments, segment_names=self.segment_names,
            output_text=self.output_text, layout=self.layout, step_scores=self.step_scores,
        )

    def __eq__(self, other: object) -> bool:
        """Equal when their ``to_json()`` are equal; non-finite scores are encoded there, so NaN equals NaN."""
        if not isinstance(other, Explanation):
            return NotImplemented
        return self.to_json() == other.to_json()

    @property
    def finite(self) -> bool:
        """True when every score is a finite number (metrics refuse explanations with NaN or inf scores)."""
        return bool(np.isfinite(self.scores).all())

    def __hash__(self) -> int:
        return hash((self.text, self.elements, self.method))

    # -- views ------------------------------------------------------------------------------------
    def top(self, k: int = 5, *, target: int = 0) -> list[tuple[str, float]]:
        """The ``k`` elements with the largest scores for ``targets[target]``."""
        row = self.scores[target]
        order = np.argsort(-row, kind="stable")[:k]
        return [(self.elements[i], float(row[i])) for i in order]

    def __str__(self) -> str:
        lines = [f"{self.method} ({self.granularity}) for {self.text!r}"]
        steps = self.step_scores or {}
        for t, target in enumerate(self.targets):
            pairs = " ".join(f"{e}({s:+.3g})" for e, s in zip(self.elements, self.scores[t], strict=True))
            step = (f" [p={steps['probability'][t]:.3g} rank {steps['rank'][t]}]"
                    if "probability" in steps and "rank" in steps else "")
            lines.append(f"  target {target.label!r}{step}: {pairs}")
        return "\n".join(lines)

    # -- serialisation ----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """A dict of JSON types only, strict JSON included: a non-finite float (a score, an extra, a
        parameter) is written as the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``, which
        :meth:`from_json` reads back as the float in ``scores``, ``extras`` and ``parameters``."""
        return {
            "format": FORMAT_VERSION,
            "text": self.text,
            "elements": list(self.elements),
            "spans": [list(s) if s else None for s in self.spans],
            "scores": _jsonable(self.scores),
            "targets": [t.to_json() for t in self.targets],
            "method": self.method,
            "granularity": self.granularity,
            "parameters": _jsonable(self.parameters),
            "versions": dict(self.versions),
            "generated": list(self.generated),
            "model_kind": self.model_kind,
            "output_text": self.output_text,
            "extras": _jsonable(self.extras),
            "task": self.task,
            "score": self.score,
            "input": _jsonable(self.input),
            "token_ids": list(self.token_ids),
            "token_groups": [list(g) for g in self.token_groups],
            "visible": None if self.visible is None else np.asarray(self.visible).tolist(),
            "segments": list(self.segments),
            "segment_names": list(self.segment_names),
            "layout": _jsonable(self.layout),
            "step_scores": None if self.step_scores is None else _jsonable(self.step_scores),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | str | Path) -> Explanation:
        """Rebuild an explanation from ``to_json()`` output, a JSON string, or a ``.json`` file."""
        raw: Any = data
        if isinstance(raw, Path) or (isinstance(raw, str) and raw.rstrip().endswith(".json")):
            path = Path(raw)
            if not path.is_file():
                raise InputError(f"no explanation file {str(path)!r}: give an existing .json path, a JSON string or "
                                 "the dict from to_json()")
            raw = json.loads(path.read_text(encoding="utf-8"))
        elif isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InputError(f"not an explanation: the string is neither JSON nor a .json path ({exc})") from None
        if not isinstance(raw, dict):
            raise InputError(f"not an explanation: expected a JSON object, got {type(raw).__name__}")
        data = dict(raw)
        if data.pop("format", FORMAT_VERSION) not in (1, FORMAT_VERSION):
            raise ValueError(f"unsupported explanation format version (this version reads 1 and {FORMAT_VERSION})")
        data["targets"] = [Target(**t) for t in data["targets"]]
        for key in ("scores", "extras", "parameters", "step_scores"):
            if key in data:
                data[key] = _decode_floats(data[key])
        return cls(**data)

    def save(self, path: str | Path) -> Path:
        """Write ``.json`` (exact round trip through ``from_json``) or ``.html``."""
        path = Path(path)
        if path.suffix == ".json":
            path.write_text(json.dumps(self.to_json(), indent=1, allow_nan=False), encoding="utf-8")
        elif path.suffix in (".html", ".htm"):
            path.write_text(self.to_html(), encoding="utf-8")
        else:
            raise ValueError(f"cannot save to {path.name!r}: use a .json or .html file name")
        return path

    def to_html(self) -> str:
        from .visualization import explanation_html

        return explanation_html(self)

    def _repr_html_(self) -> str:
        return self.to_html()


_MODEL_KINDS = {"sequence_classification": "classifier", "causal_lm": "causal_lm"}


_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _encode_float(value: float) -> float | str:
    if np.isfinite(value):
        return value
    return "NaN" if np.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float):
        return _encode_float(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    return repr(value)


def _decode_floats(value: Any) -> Any:
    """``"NaN"`` / ``"Infinity"`` / ``"-Infinity"`` (as written by :func:`_jsonable`) back to floats."""
    if isinstance(value, str):
        return _NON_FINITE.get(value, value)
    if isinstance(value, dict):
        return {k: _decode_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_floats(v) for v in value]
    return value
