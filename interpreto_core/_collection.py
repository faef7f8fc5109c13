"""``Explanations``: what :func:`~interpreto_core.explain` returns, a ``list`` of explanations with views.

Still a plain ``list`` (indexing, ``len``, iteration, equality with lists and pickling are
unchanged), plus a notebook view (``_repr_html_``, ``show()``: the interactive page, a method switcher
when one input is explained by several methods), ``save()`` / ``from_json()``, ``to_json()`` and
``top()``. Concatenate the results of several methods (``lime + saliency``) to compare them on one page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ._errors import InputError
from ._explanation import Explanation

__all__ = ["Explanations"]

_SUFFIXES = (".html", ".htm", ".json", ".jsonl")


def _in_notebook() -> bool:
    """IPython is importable and a kernel runs (a notebook, JupyterLab, VS Code...), not a terminal."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Explanations(list[Explanation]):
    """A list of :class:`~interpreto_core.Explanation` (one per input) with views of them all."""

    __slots__ = ()

    def __init__(self, explanations: Iterable[Explanation] = ()) -> None:
        super().__init__(explanations)

    # -- views ------------------------------------------------------------------------------------
    def to_html(self, *, title: str = "interpreto explanations", scale: str = "row", interactive: bool = True) -> str:
        """One self-contained page holding every explanation (every text escaped).

        ``interactive`` (default): :func:`~interpreto_core.visualization.interactive_html`: explanations
        of one input by several methods share a section with a method switcher, several targets get a
        target switcher, hover / focus an element for its exact score; one inline script, no network,
        and without JavaScript everything is shown stacked. ``scale``: ``row`` or ``global`` colours.
        ``interactive=False``: the former static page (inline CSS only, no script)."""
        from ._safe_text import html_text
        from .visualization import _page, explanation_fragment, interactive_html

        if interactive:
            return interactive_html(self, title=title, scale=scale)
        if not self:
            return _page(title, f"<h1>{html_text(title)}</h1><p>no explanations</p>")
        parts = [f"<h1>{html_text(title)}</h1>"]
        for i, expl in enumerate(self):
            parts.append(f"<h2>Input {i + 1}</h2>{explanation_fragment(expl)}")
        return _page(title, "".join(parts))

    def _repr_html_(self) -> str:
        return self.to_html()

    def show(self) -> None:
        """In a notebook, display the HTML view; elsewhere print the terminal view of each explanation."""
        if _in_notebook():
            from IPython.display import HTML, display

            display(HTML(self.to_html()))
            return
        from .visualization import explanation_terminal

        for expl in self:
            print(explanation_terminal(expl))

    def top(self, k: int = 5, *, target: int = 0) -> list[list[tuple[str, float]]]:
        """Each explanation's :meth:`~interpreto_core.Explanation.top` ``k`` elements for ``targets[target]``."""
        return [expl.top(k, target=target) for expl in self]

    # -- serialisation ----------------------------------------------------------------------------
    def to_json(self) -> list[dict[str, Any]]:
        """A list of each explanation's ``to_json()`` dict (JSON types only)."""
        return [expl.to_json() for expl in self]

    def save(self, path: str | Path) -> Path:
        """Write ``.html`` (one page), ``.json`` (a JSON list) or ``.jsonl`` (one explanation per line)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in _SUFFIXES:
            raise InputError(f"cannot save explanations to {path.name!r}: use a .html, .json or .jsonl file name")
        if not path.parent.is_dir():
            raise InputError(f"cannot save to {str(path)!r}: the folder {str(path.parent)!r} does not exist")
        if suffix in (".html", ".htm"):
            path.write_text(self.to_html(), encoding="utf-8")
        elif suffix == ".json":
            path.write_text(json.dumps(self.to_json(), indent=1, allow_nan=False), encoding="utf-8")
        else:
            lines = [json.dumps(d, allow_nan=False) for d in self.to_json()]
            path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, data: str | Path | Iterable[Any]) -> Explanations:
        """Read explanations back: a ``.json`` / ``.jsonl`` file written by :meth:`save`, a JSON string,
        or a list of ``to_json()`` dicts (or of explanations)."""
        raw: Any = data
        if isinstance(raw, Path) or (isinstance(raw, str) and raw.rstrip().endswith((".json", ".jsonl"))):
            path = Path(raw)
            if not path.is_file():
                raise InputError(f"no explanations file {str(path)!r}: give an existing .json or .jsonl path, "
                                 "a JSON string or a list of to_json() dicts")
            text = path.read_text(encoding="utf-8")
            if path.suffix.lower() == ".jsonl":
                raw = [_loads(line, path.name) for line in text.splitlines() if line.strip()]
            else:
                raw = _loads(text, path.name)
        elif isinstance(raw, str):
            raw = _loads(raw, "the string")
        if isinstance(raw, dict) or not isinstance(raw, Iterable) or isinstance(raw, str | bytes):
            raise InputError(f"not a list of explanations: expected a JSON list, got {type(raw).__name__}")
        return cls(e if isinstance(e, Explanation) else Explanation.from_json(e) for e in raw)


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not explanations: {where} is not JSON ({exc})") from None
