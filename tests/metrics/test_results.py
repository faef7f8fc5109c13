"""Result objects, the registry listing and parameter checks."""

from __future__ import annotations

import json

import attrs
import numpy as np
import pytest

from interpreto_core import InputError, UnknownParameterError, list_methods
from interpreto_core.metrics import CurveResult, evaluate


def test_the_five_metrics_are_registered():
    names = {r.name for r in list_methods("metric")}
    assert {"insertion", "deletion", "comprehensiveness", "sufficiency", "sensitivity"} <= names


def test_result_is_frozen_and_serialisable(classifier, tokenizer, occlusion_expls):
    res = evaluate(classifier, tokenizer, occlusion_expls, metrics=["insertion"])["insertion"]
    assert isinstance(res, CurveResult)
    assert res.method == "occlusion" and len(res.values) == len(occlusion_expls)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        res.metric = "x"
    with pytest.raises(ValueError):
        res.values[0] = 1.0
    data = json.loads(json.dumps(res.to_json()))
    assert data["mean"] == pytest.approx(float(np.mean(res.values)))
    assert data["random_mean"] == pytest.approx(float(np.mean(res.random_values)))
    assert "random" in str(res)


def test_bad_parameters_are_refused(classifier, tokenizer, occlusion_expls):
    with pytest.raises(UnknownParameterError, match="n_stepz"):
        evaluate(classifier, tokenizer, occlusion_expls, metrics=["insertion"], n_stepz=3)
    with pytest.raises(InputError, match="n_random"):
        evaluate(classifier, tokenizer, occlusion_expls, metrics=["insertion"], n_random=0)
    with pytest.raises(InputError, match="fractions"):
        evaluate(classifier, tokenizer, occlusion_expls, metrics=["sufficiency"], fractions=[0.0, 2])
    with pytest.raises(InputError, match="mode"):
        evaluate(classifier, tokenizer, occlusion_expls, metrics=["deletion"], mode="probs")
