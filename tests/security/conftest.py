"""Hostile strings, a classifier whose labels are hostile, and a checker for the HTML the library writes."""

from __future__ import annotations

import html.parser
import re

import pytest

#: strings that try to run script in a page (each sets the title to "pwned" if it ever runs)
IMG = "<img src=x onerror=\"document.title='pwned'\">"
SCRIPT = "<script>document.title='pwned';document.body.setAttribute('data-pwned','1')</script>"
ATTR_BREAK = "x\"><img src=x onerror=\"document.title='pwned'\">"
QUOTE_BREAK = "' onmouseover='document.title=1' x='"
#: strings that try to drive the terminal: set the window title (OSC), clear the screen, return, backspace
ANSI = "\x1b]0;pwned\x07\x1b[2J\r\x08\x1b[31m\x9b2J\u202e"
HOSTILE = f"{SCRIPT} {IMG} {ATTR_BREAK} {QUOTE_BREAK} {ANSI}"

#: control bytes that must never be printed by the command line
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: the colour sequences the terminal view writes itself (only with --color always)
SGR = re.compile(r"\x1b\[[0-9;]*m")

HOSTILE_LABELS = {0: "<img src=x onerror=alert(1)>", 1: f"neg{ANSI}", 2: ATTR_BREAK}

# what the library's pages are made of; anything else in a page came from the data. The interactive page
# (visualization.interactive_html) adds its switcher buttons, their data-* links, keyboard focus, its
# Content-Security-Policy and one <script>, which must be the library's own, character for character.
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "div", "span", "h1", "h2", "h3", "p", "b", "br",
                "table", "tr", "th", "td", "details", "summary", "img", "button", "script"}
ALLOWED_ATTRS = {"lang", "charset", "name", "content", "class", "style", "title", "alt", "src", "http-equiv", "type",
                 "tabindex", "role", "aria-pressed", "data-for", "data-group", "data-key"}
LINK = re.compile(r"i\d+-m\d*(-t)?|\d+")  # the values of data-for / data-group / data-key: the library's own ids
STYLE = re.compile(r"background:rgb\(\d+,\d+,\d+\);color:#(fff|111)")


class _PageChecker(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.tags: list[str] = []
        self.title = ""
        self._in_title = False
        self._in_script = False
        self.scripts: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"unexpected element <{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name not in ALLOWED_ATTRS:
                self.problems.append(f"unexpected attribute {name}={value!r} on <{tag}>")
            if name == "src" and not (value or "").startswith("data:image/png;base64,"):
                self.problems.append(f"<{tag}> src is not an embedded PNG: {value!r}")
            if name == "style" and not STYLE.fullmatch(value or ""):
                self.problems.append(f"unexpected style {value!r}")
            if name.startswith("data-") and not LINK.fullmatch(value or ""):
                self.problems.append(f"unexpected {name}={value!r} on <{tag}>")
        self._in_title = tag == "title"
        self._in_script = tag == "script"
        if tag == "script":
            self.scripts.append("")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._in_script:
            self.scripts[-1] += data


def check_page(page: str, *, images: int = 0) -> _PageChecker:
    """Parse ``page``; fail on any element, attribute, ``src`` or ``style`` the library does not write itself."""
    checker = _PageChecker()
    checker.feed(page)
    checker.close()
    assert not checker.problems, checker.problems
    assert checker.tags.count("img") == images, f"{checker.tags.count('img')} <img> elements, expected {images}"
    # raw markup never survives ("onerror=" may appear as escaped text: the parser checks no attribute has it)
    from interpreto_core.visualization import _JS

    assert checker.scripts in ([], [_JS]), "a <script> that is not the interactive page's own"
    assert page.lower().count("<script") == len(checker.scripts) and "<img src=x" not in page.lower()
    return checker


def check_terminal(out: str, *, colours: bool = False) -> None:
    """No control character (ESC, BEL, CR, backspace, C1, bidi override) in what was printed.

    ``colours``: the terminal view's own SGR colour sequences are allowed (and removed first)."""
    text = SGR.sub("", out) if colours else out
    found = sorted({repr(c) for c in CONTROL.findall(text)})
    assert not found, f"control characters printed: {found}"


@pytest.fixture(scope="session")
def hostile_classifier(tokenizer):
    """A tiny 3-class BERT whose config.id2label holds HTML and terminal escapes."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=3, max_position_embeddings=128, initializer_range=0.4,
                        id2label=HOSTILE_LABELS, label2id={v: k for k, v in HOSTILE_LABELS.items()})
    return BertForSequenceClassification(config).eval()


@pytest.fixture(scope="session")
def hostile_model_dir(hostile_classifier, tokenizer, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-model")
    hostile_classifier.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True)
def _no_library_progress_bars():
    """transformers' own progress bars ("Loading weights") redraw with \\r: off, so that any \\r is the data's."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    yield
    if was_enabled:
        hf_logging.enable_progress_bar()
