"""Concept activation vectors (Kim et al., 2018): one linear probe per labelled concept.

For each concept c (a class of the labels, one-vs-rest, or a column of a multi-hot label matrix)
a logistic regression separates the rows that carry c from the others; the CAV is the unit
normal of its decision boundary, v_c = w_c / ||w_c||. Codes are projections on the CAVs,

    encode(x) = (x - mu) V^T            V (C, H): the unit CAVs
    decode(z) = z (V^T)^+ + mu          (x's projection on the CAVs' span; two classes give
                                         opposite CAVs, so near-colinear ones count once)

``fit(activations, labels=...)``: labels are one per row, or one per text (rows of an
``Activations`` are mapped to their text). The probe accuracy on held-out rows
(``test_fraction``) and on all rows is recorded (``accuracy``, ``train_accuracy``).
"""

from __future__ import annotations

from interpreto_core.plugin import AffineLearner, InputError, hookimpl


def row_labels(activations, labels, n_rows):
    """Labels per row: as given (one per row), or one per text spread over its rows."""
    import numpy as np

    values = np.asarray(labels, dtype=object) if not hasattr(labels, "shape") else np.asarray(labels)
    if len(values) == n_rows:
        return values
    text_index = getattr(activations, "text_index", None)
    if text_index is not None and len(values) == len(activations.texts):
        return values[np.asarray(text_index)]
    texts = f" or one per text ({len(activations.texts)})" if text_index is not None else ""
    raise InputError(f"labels must give one label per activation row ({n_rows}){texts}, got {len(values)}")


def label_matrix(labels, concepts=None):
    """``(Y (N, C) 0/1, concept names)``: one-vs-rest columns of class labels, or a multi-hot matrix as is."""
    import numpy as np

    y = np.asarray(labels)
    if y.ndim == 2:
        if not np.isin(y, (0, 1, True, False)).all():
            raise InputError("a 2-D label matrix must hold 0 / 1 (concept absent / present)")
        names = list(concepts) if concepts is not None else [str(i) for i in range(y.shape[1])]
        if len(names) != y.shape[1]:
            raise InputError(f"concepts names {len(names)} concepts, the label matrix has {y.shape[1]} columns")
        return y.astype(np.int64), names
    if y.ndim != 1:
        raise InputError(f"labels must be 1-D (one class per row) or 2-D (multi-hot), got shape {y.shape}")
    distinct = {v.item() if hasattr(v, "item") else v for v in y}
    try:
        classes = sorted(distinct)  # 2 before 10
    except TypeError:  # mixed types
        classes = sorted(distinct, key=str)
    if concepts is not None:
        missing = [c for c in classes if c not in concepts]
        if missing:
            raise InputError(f"labels {missing} are not in concepts={list(concepts)}")
        classes = list(concepts)
    if len(classes) < 2:
        raise InputError(f"a CAV needs rows with and without each concept: the labels hold only {classes}")
    return np.stack([(y == c) for c in classes], 1).astype(np.int64), [str(c) for c in classes]


def fit_probe(x, y, *, c_reg, max_iter, seed):
    """A logistic-regression probe; returns ``(unit normal (H,), fitted probe)``."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    probe = LogisticRegression(C=c_reg, max_iter=max_iter, random_state=seed).fit(x, y)
    w = probe.coef_[0].astype(np.float64)
    norm = np.linalg.norm(w)
    if not norm > 0:
        raise InputError("a CAV probe found no direction (all-zero weights): the concept is not separable here")
    return w / norm, probe


class CAV(AffineLearner):
    """Concept activation vectors: a logistic-regression probe per labelled concept (supervised).

    ``n_concepts`` is set by the labels (one concept per class, or per column of a multi-hot
    matrix); ``concepts``: the class values in order, or the names of a label matrix's columns
    (default: the sorted distinct labels, or ``"0", "1", ...``).
    ``C``: the probe's inverse L2 regularisation; ``test_fraction``: held-out rows for the
    recorded accuracy (0: none).
    """

    name = "cav"
    supervised = True
    #: ``probe(x, y, *, c_reg, max_iter, seed) -> (unit normal, probe)``: what TCAV's runs refit
    probe = staticmethod(fit_probe)

    def __init__(self, *, n_concepts: int = 2, seed: int = 0, C: float = 1.0, max_iter: int = 2000,
                 test_fraction: float = 0.25, concepts: tuple | list = ()) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed)
        if not isinstance(C, int | float) or isinstance(C, bool) or not C > 0:
            raise InputError(f"C must be a positive number, got {C!r}")
        if not isinstance(test_fraction, int | float) or not 0 <= test_fraction < 1:
            raise InputError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
        self.C, self.max_iter, self.test_fraction = C, max_iter, test_fraction
        self.concepts = list(concepts or ())
        self.concept_names: list[str] = []
        self.accuracy: list[float] = []
        self.train_accuracy: list[float] = []
        self._labels = None

    def fit(self, activations, *, labels=None, progress=None, device=None):
        """Fit one probe per concept; ``labels``: one per row, or one per text of an ``Activations``."""
        from interpreto_core.plugin import as_matrix

        if labels is None:
            raise InputError("cav is supervised: call fit(activations, labels=...) with one label per row or text")
        n_rows = int(as_matrix(activations).shape[0])
        self._labels = row_labels(activations, labels, n_rows)
        try:
            return super().fit(activations, progress=progress, device=device)
        finally:
            self._labels = None

    def _fit(self, a, *, progress=None):
        import numpy as np

        y, names = label_matrix(self._labels, self.concepts or None)
        x = a.numpy().astype(np.float64)
        rng = np.random.default_rng(self.seed)
        n = len(x)
        test = np.zeros(n, dtype=bool)
        if self.test_fraction > 0:
            test[rng.permutation(n)[: int(round(self.test_fraction * n))]] = True
        cavs: list = []
        acc: list = []
        train_acc: list = []
        for c in range(y.shape[1]):
            yc = y[:, c]
            if yc.min() == yc.max():
                raise InputError(f"concept {names[c]!r}: every row has the same label; a CAV needs both")
            v, probe = fit_probe(x, yc, c_reg=self.C, max_iter=self.max_iter, seed=self.seed)
            train_acc.append(float(probe.score(x, yc)))
            if test.any() and (~test).any() and yc[~test].min() != yc[~test].max():
                _, held = fit_probe(x[~test], yc[~test], c_reg=self.C, max_iter=self.max_iter, seed=self.seed)
                acc.append(float(held.score(x[test], yc[test])))
            else:
                acc.append(None)  # too few held-out rows of one side: not measured
            cavs.append(v)
        v = np.stack(cavs)  # (C, H)
        self.n_concepts = len(names)
        self.concept_names, self.accuracy, self.train_accuracy = names, acc, train_acc
        self._set(mean=x.mean(0), encoder=v.T, components=np.linalg.pinv(v.T, rcond=1e-6))

    @property
    def cavs(self):
        """The unit concept activation vectors ``(C, H)`` (rows of the encoder)."""
        self._assert_fitted()
        return self.encoder.T

    def extra_config(self):
        return {"concept_names": self.concept_names, "accuracy": self.accuracy,
                "train_accuracy": self.train_accuracy}

    def load_state(self, tensors, extra):
        super().load_state(tensors, extra)
        self.concept_names = list(extra.get("concept_names", []))
        self.accuracy = list(extra.get("accuracy", []))
        self.train_accuracy = list(extra.get("train_accuracy", []))
        self.n_concepts = int(tensors["encoder"].shape[1])


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(CAV, name="cav", summary="Concept activation vectors: a linear probe per labelled concept (supervised).",
             reference="Kim et al., TCAV, ICML 2018")
