"""How targets are given: per input, broadcast, and for a single input."""

from __future__ import annotations

import interpreto_core


def test_target_forms(classifier, tokenizer):
    one = interpreto_core.explain(classifier, tokenizer, "a fine film", method="occlusion", targets=[0, 2])[0]
    assert [t.index for t in one.targets] == [0, 2]  # a single input's list is its targets
    both = interpreto_core.explain(classifier, tokenizer, ["a fine film", "a dull one"], method="occlusion",
                                   targets=(0, 2))
    assert [[t.index for t in e.targets] for e in both] == [[0, 2], [0, 2]]  # a tuple is the same for every input
    per = interpreto_core.explain(classifier, tokenizer, ["a fine film", "a dull one"], method="occlusion",
                                  targets=[1, [0, 2]])
    assert [[t.index for t in e.targets] for e in per] == [[1], [0, 2]]  # a list has one entry per input
    legacy = interpreto_core.explain(classifier, tokenizer, "a fine film", method="occlusion", targets=[[0, 1]])[0]
    assert [t.index for t in legacy.targets] == [0, 1]
