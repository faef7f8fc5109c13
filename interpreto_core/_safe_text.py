"""The one place where text from outside (inputs, labels, file names, plugin text) is made safe to show.

* :func:`html_text` / :func:`html_attr`: for HTML. ``& < > " '`` become entities, so a string can
  neither open a tag nor leave a (double- or single-quoted) attribute value; characters that have no
  place in an HTML document (C0 controls other than tab / newline / carriage return, DEL, C1
  controls, lone surrogates from undecodable file names) are shown as ``\\xNN`` / ``\\udcNN`` text
  instead of being written raw (a lone surrogate would also make the UTF-8 write fail). Every
  attribute value the library writes is double-quoted.
* :func:`terminal`: for anything the command line prints. Every non-printable character (ESC, BEL,
  ``\\r``, backspace, tab, C1 controls such as the 8-bit CSI ``\\x9b``, bidirectional overrides,
  zero-width characters, lone surrogates) is shown as its Python escape (``\\x1b``, ``\\r``,
  ``\\u202e``), so no text can move the cursor, clear the screen, set the window title or reorder
  what is shown. ``newlines=True`` keeps ``\\n`` (multi-line messages of the library's own).

The escapes are for display only: stored data (JSON, results) keep the original strings.
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = ["html_text", "html_attr", "terminal"]

# characters with no place in an HTML document: C0 controls but tab, LF, CR; DEL; C1; lone surrogates
_HTML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape_char(ch: str) -> str:
    """A non-printable character as its Python escape: ``\\x1b``, ``\\r``, ``\\t``, ``\\u202e``."""
    return repr(ch)[1:-1]


def _visible(match: re.Match[str]) -> str:
    return _escape_char(match.group())


def html_text(value: Any) -> str:
    """``value`` (any object, shown with ``str``) as HTML text: entities for ``& < > " '``, controls shown."""
    return html.escape(_HTML_BAD.sub(_visible, str(value)), quote=True)


def html_attr(value: Any) -> str:
    """``value`` as the content of a double-quoted HTML attribute (``title="..."``, ``alt="..."``)."""
    return html_text(value)


def terminal(value: Any, *, newlines: bool = False) -> str:
    """``value`` (shown with ``str``) with every non-printable character escaped (``\\x1b``, ``\\r``, ...).

    Spaces stay; ``newlines=True`` also keeps ``\\n``."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() or ch == " " or (newlines and ch == "\n") else _escape_char(ch) for ch in text
    )
