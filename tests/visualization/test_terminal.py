"""The terminal view: colours on request, control characters neutralised."""

from __future__ import annotations

import attrs

from interpreto_core.visualization import explanation_terminal


def test_plain_and_coloured(cls_expls):
    expl = cls_expls[0]
    plain = explanation_terminal(expl, color=False)
    assert "\x1b" not in plain
    for el, s in zip(expl.elements, expl.scores[0], strict=True):
        assert f"{el}[{s:+.2f}]" in plain
    coloured = explanation_terminal(expl)
    assert "\x1b[48;2;" in coloured and coloured.count("\x1b[0m") >= len(expl.elements)


def test_escape_sequences_in_tokens_cannot_reach_the_terminal(cls_expls):
    expl = attrs.evolve(cls_expls[0], text="\x1b]0;owned\x07 text")
    expl = attrs.evolve(expl, elements=("\x1b[2J",) + expl.elements[1:])
    out = explanation_terminal(expl, color=False)
    assert "\x1b" not in out and "\x07" not in out and "\\x1b" in out


def test_generation(lm_expl):
    out = explanation_terminal(lm_expl, color=False)
    assert "generated:" in out
    assert len(out.splitlines()) == 2 + len(lm_expl.targets)
