"""Pooling token scores into elements (``pooling=``), checked by hand.

The token scores of a gradient method are those it gives at ``granularity="token"`` (one element
per token, pooling ``sum``); at word granularity (or with custom segments) each pooling must be
the hand-computed pooling of those token scores over the element's tokens.
"""

from __future__ import annotations

import numpy as np
import pytest

import interpreto_core as itp
from interpreto_core import InputError
from interpreto_core._pooling import POOLINGS, pool_tokens

TEXT = "unbelievably gripping guitarists, an overwrought screenplay"  # "un ##bel ##ie ##va ##bly", "over ##wr ..."

HAND = {
    "sum": lambda v: v.sum(),
    "mean": lambda v: v.mean(),
    "max": lambda v: v.max(),
    "abs_max": lambda v: v[np.abs(v).argmax()],
    "l2": lambda v: np.sqrt((v * v).sum()),
}


def _token_scores(expl):
    """{token index: score row} of a granularity='token' explanation."""
    return {g[0]: expl.scores[:, e] for e, g in enumerate(expl.token_groups)}


def _hand_pool(token_expl, expl, pooling):
    by_token = _token_scores(token_expl)
    out = np.zeros_like(expl.scores)
    for e, group in enumerate(expl.token_groups):
        rows = np.stack([by_token[t] for t in group], axis=1)  # (T, |group|)
        out[:, e] = [HAND[pooling](r) for r in rows]
    return out


def test_pool_tokens_by_hand():
    s = np.array([[1.0, -3.0, 2.0, 0.5, 7.0],
                  [-1.0, 0.25, -2.0, 4.0, 0.0]])
    m = np.zeros((2, 5))
    m[0, [0, 2]] = 1  # a group that is not contiguous
    m[1, [1, 3]] = 1  # token 4 is in no element
    expected = {
        "sum": [[3.0, -2.5], [-3.0, 4.25]],
        "mean": [[1.5, -1.25], [-1.5, 2.125]],
        "max": [[2.0, 0.5], [-1.0, 4.0]],
        "abs_max": [[2.0, -3.0], [-2.0, 4.0]],
        "l2": [[np.sqrt(5.0), np.sqrt(9.25)], [np.sqrt(5.0), np.sqrt(16.0625)]],
    }
    assert set(expected) == set(POOLINGS)
    for pooling, want in expected.items():
        np.testing.assert_allclose(pool_tokens(s, m, pooling), want, err_msg=pooling)
    with pytest.raises(InputError, match="unknown pooling 'median'"):
        pool_tokens(s, m, "median")
    # abs_max: a tie +a / -a gives +a; an element without tokens scores 0 under every pooling
    tie = np.array([[-3.0, 3.0, 1.0]])
    groups = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    assert pool_tokens(tie, groups, "abs_max").tolist() == [[3.0, 0.0]]
    for pooling in POOLINGS:
        assert pool_tokens(tie, groups, pooling)[0, 1] == 0.0


@pytest.mark.parametrize("method", ["input_x_gradient", "integrated_gradients", "saliency"])
def test_every_pooling_is_the_hand_pooling_of_token_scores(classifier, tokenizer, method):
    kw = {"n_steps": 16} if method == "integrated_gradients" else {}
    token = itp.explain(classifier, tokenizer, TEXT, method=method, granularity="token", targets=[[0, 2]], **kw)[0]
    assert token.parameters["pooling"] == "sum"
    for pooling in POOLINGS:
        word = itp.explain(classifier, tokenizer, TEXT, method=method, pooling=pooling, targets=[[0, 2]], **kw)[0]
        assert word.parameters["pooling"] == pooling
        assert max(len(g) for g in word.token_groups) == 5  # "unbelievably" is 5 tokens
        np.testing.assert_allclose(word.scores, _hand_pool(token, word, pooling), rtol=1e-5, atol=1e-7,
                                   err_msg=f"{method} {pooling}")
    # the poolings differ on a multi-token word (abs_max is max when the largest token is positive)
    values = {p: itp.explain(classifier, tokenizer, TEXT, method=method, pooling=p, **kw)[0].scores[0, 0]
              for p in ("sum", "mean", "max", "l2")}
    assert len({round(float(v), 6) for v in values.values()}) == 4


def test_pooling_over_custom_segments_and_lm_targets(causal_lm, tokenizer):
    prompt = "q: two plus two? a: four. q: three plus three? a:"
    segs = ["q: two plus two? a: four.", " q: three plus three? a:"]
    token = itp.explain(causal_lm, tokenizer, prompt, method="input_x_gradient", granularity="token",
                        targets=" six .")[0]
    for pooling in ("mean", "abs_max", "l2"):
        e = itp.explain(causal_lm, tokenizer, prompt, method="input_x_gradient", segments=segs, pooling=pooling,
                        targets=" six .")[0]
        assert e.elements[:2] == tuple(segs)
        hand = _hand_pool(token, e, pooling)
        np.testing.assert_allclose(e.scores, np.where(e.visible, hand, 0.0), rtol=1e-5, atol=1e-7)


def test_adaptive_ig_pools_the_same_token_scores(classifier, tokenizer):
    token = itp.explain(classifier, tokenizer, TEXT, method="integrated_gradients", n_steps="auto",
                        granularity="token")[0]
    word = itp.explain(classifier, tokenizer, TEXT, method="integrated_gradients", n_steps="auto", pooling="max")[0]
    assert word.extras["n_steps"] == token.extras["n_steps"]
    np.testing.assert_allclose(word.scores, _hand_pool(token, word, "max"), rtol=1e-5, atol=1e-7)


def test_pooling_is_recorded_and_round_trips(classifier, tokenizer):
    e = itp.explain(classifier, tokenizer, TEXT, method="input_x_gradient", pooling="l2")[0]
    back = itp.Explanation.from_json(e.to_json())
    assert back.parameters["pooling"] == "l2" and back == e
    assert (e.scores >= 0).all()  # an L2 norm is unsigned
    occ = itp.explain(classifier, tokenizer, TEXT, method="occlusion")[0]
    assert "pooling" not in occ.parameters  # perturbation methods score elements directly


def test_pooling_errors(classifier, tokenizer):
    with pytest.raises(InputError, match="unknown pooling 'median'; choose one of sum, mean, max, abs_max, l2"):
        itp.explain(classifier, tokenizer, TEXT, method="input_x_gradient", pooling="median")
    with pytest.raises(InputError, match="applies to gradient methods"):
        itp.explain(classifier, tokenizer, TEXT, method="occlusion", pooling="mean")
    with pytest.raises(InputError, match="holds for pooling='sum' only, not 'max'"):
        itp.explain(classifier, tokenizer, TEXT, method="integrated_gradients", pooling="max", completeness_delta=True)
    with pytest.raises(InputError, match="unknown pooling"):
        itp.Explainer(classifier, tokenizer, method="saliency", pooling=None)


def test_pipelines_take_pooling(tmp_path):
    from interpreto_core.pipeline import Pipeline, PipelineError

    head = '[model]\nembedded = "sentiment"\n[data]\ntexts = ["a fine film"]\n[[attribution]]\n'
    path = tmp_path / "p.toml"
    path.write_text(head + 'method = "integrated_gradients"\nparams = { pooling = "mean", n_steps = 8 }\n')
    Pipeline.from_toml(path)
    path.write_text(head + 'method = "integrated_gradients"\nparams = { pooling = "median" }\n')
    with pytest.raises(PipelineError, match=r"attribution\[0\].params.pooling: 'median'; choose one of sum, mean"):
        Pipeline.from_toml(path)
