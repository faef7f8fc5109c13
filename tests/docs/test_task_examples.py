"""docs/quickstart.md's "One example per task" snippets run as written, in order, and give the shapes they state.

The two lines that load the real zoo models are replaced by tiny random models of the same kinds
(a BERT classifier labelled negative / positive, a GPT-2 with a chat template, both on the MiniLM
tokenizer); the snippets' own tiny tagger, reader, masked LM and T5 are built as written. Every line
``<expr>.shape  # (a, b)...`` becomes ``assert tuple(<expr>.shape) == (a, b)``.
"""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "quickstart.md"
SECTION = "## One example per task"
_SHAPE = re.compile(r"^(?P<expr>\S.*\.shape)\s+#\s*(?P<shape>\([\d, ]*\))")
_REAL = {"zoo.sentiment_classifier()": "_tiny_classifier()", "zoo.causal_lm()": "_tiny_causal_lm()"}


def _section_blocks() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    assert SECTION in text, f"{DOC.name} has no {SECTION!r} section"
    section = text[text.index(SECTION) + len(SECTION) :]
    end = re.search(r"^## ", section, flags=re.M)
    section = section[: end.start()] if end else section
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def _with_shape_checks(block: str) -> tuple[str, int]:
    """The block with each stated shape turned into an assertion, and how many there were."""
    lines, n = [], 0
    for line in block.splitlines():
        m = _SHAPE.match(line)
        if m:
            shape = ast.literal_eval(m["shape"])
            line = f"assert tuple({m['expr']}) == {shape!r}, ({m['expr']!r}, tuple({m['expr']}))"
            n += 1
        lines.append(line)
    return "\n".join(lines) + "\n", n


def _tiny_models() -> dict:
    from interpreto_core.testing import make_tiny_causal_lm, make_tiny_classifier, make_tiny_tokenizer

    tok = make_tiny_tokenizer()
    classifier = make_tiny_classifier(tok)
    classifier.config.id2label, classifier.config.label2id = (
        {0: "negative", 1: "positive"},
        {"negative": 0, "positive": 1},
    )
    chat_tok = copy.deepcopy(tok)  # the real SmolLM2 tokenizer ships a chat template; this one gets a small one
    chat_tok.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} [SEP] {% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    lm = make_tiny_causal_lm(tok)
    return {"_tiny_classifier": lambda: (classifier, tok), "_tiny_causal_lm": lambda: (lm, chat_tok)}


def test_the_stated_shapes_are_asserted():
    """The rewriting itself: a stated shape becomes an assertion that fails on another shape."""
    code, n = _with_shape_checks("x.scores.shape      # (2, 6): 2 tokens x 6 elements\ny = 1  # (3,)\n")
    assert n == 1 and code.startswith("assert tuple(x.scores.shape) == (2, 6)")

    class X:
        class scores:  # noqa: N801
            shape = (2, 7)

    with pytest.raises(AssertionError):
        exec(code, {"x": X})


def test_every_task_example_of_the_quickstart_runs(tmp_path, monkeypatch):
    import torch

    torch.set_num_threads(1)
    blocks = _section_blocks()
    assert len(blocks) >= 10, "expected a setup block, the tiny-models block and one block per task"
    monkeypatch.chdir(tmp_path)
    namespace: dict = _tiny_models()
    replaced = dict.fromkeys(_REAL, 0)
    shapes = 0
    for k, block in enumerate(blocks):
        for real, tiny in _REAL.items():
            replaced[real] += block.count(real)
            block = block.replace(real, tiny)
        code, n = _with_shape_checks(block)
        shapes += n
        exec(compile(code, f"{DOC.name} '{SECTION[3:]}' block {k}", "exec"), namespace)
    assert replaced == dict.fromkeys(_REAL, 1), replaced
    assert shapes >= 9  # one per task, pair, chat and contrast at least
    tasks = {namespace[name].task for name in ("expl", "pair", "gen", "reply", "why", "s2s", "tags", "qa", "fill")}
    assert tasks == {
        "sequence_classification",
        "causal_lm",
        "seq2seq",
        "token_classification",
        "question_answering",
        "masked_lm",
    }


NOTEBOOK = DOC.parent / "examples" / "notebook.ipynb"


def test_the_notebook_cells_run_and_display_html(monkeypatch):
    """docs/examples/notebook.ipynb (the notebook screenshots), on the tiny classifier: each code cell's
    last value is what a notebook displays, through its ``_repr_html_``."""
    import json

    import torch

    import interpreto_core.zoo

    torch.set_num_threads(1)
    models = _tiny_models()
    monkeypatch.setattr(interpreto_core.zoo, "sentiment_classifier", models["_tiny_classifier"])
    cells = [c for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    expected = ["integrated_gradients", "deletion of integrated_gradients", "top words"]
    assert len(cells) == len(expected)
    namespace: dict = {}
    for k, (cell, text) in enumerate(zip(cells, expected, strict=True)):
        source = "".join(cell["source"]).rstrip().splitlines()
        exec(compile("\n".join(source[:-1]), f"{NOTEBOOK.name} cell {k}", "exec"), namespace)
        shown = eval(source[-1], namespace)  # the value the cell displays
        html = shown._repr_html_()
        assert text in html, (k, html[:300])
