"""Frozen results of attribution metrics: per-text values, their mean, the random baseline beside them."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

__all__ = ["MetricResult", "CurveResult"]


def _frozen_array(value: Any) -> np.ndarray:
    arr = np.array(value, dtype=np.float64)
    arr.setflags(write=False)
    return arr


def _frozen_arrays(values: Any) -> tuple[np.ndarray, ...]:
    return tuple(_frozen_array(v) for v in values)


def _nanmean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if len(values) and not np.all(np.isnan(values)) else float("nan")


def _nanstd(values: np.ndarray) -> float:
    return float(np.nanstd(values)) if len(values) and not np.all(np.isnan(values)) else float("nan")


def _fmt(value: float) -> str:
    return f"{value:.4g}"


#: texts shown one per row in the HTML view of a result (the mean covers them all)
_MAX_ROWS = 50


@attrs.frozen(kw_only=True, eq=False)
class MetricResult:
    """One metric over a list of explanations.

    Attributes
    ----------
    metric: the metric's registered name.
    method: the attribution method of the explanations (``"mixed"`` if they differ).
    values: ``(n_texts,)`` the metric per text (averaged over the text's targets).
    random_values: ``(n_texts,)`` the same metric for the random baseline (random element orders,
        or random attributions for sensitivity), so that a number can be read against chance.
    higher_is_better: the direction in which the method is better.
    parameters: the metric's parameters.
    """

    metric: str
    method: str
    values: np.ndarray = attrs.field(converter=_frozen_array)
    random_values: np.ndarray = attrs.field(converter=_frozen_array)
    higher_is_better: bool
    parameters: dict[str, Any] = attrs.field(factory=dict)

    @property
    def mean(self) -> float:
        """Mean of ``values`` over texts."""
        return _nanmean(self.values)

    @property
    def random_mean(self) -> float:
        """Mean of ``random_values`` over texts."""
        return _nanmean(self.random_values)

    @property
    def gain(self) -> float:
        """How much better than random (positive is better, whatever the metric's direction)."""
        diff = self.mean - self.random_mean
        return diff if self.higher_is_better else -diff

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "method": self.method,
            "values": self.values.tolist(),
            "random_values": self.random_values.tolist(),
            "mean": self.mean,
            "random_mean": self.random_mean,
            "higher_is_better": self.higher_is_better,
            "parameters": dict(self.parameters),
        }

    def to_html(self) -> str:
        """A self-contained page: the metric per text beside the random baseline, mean ± std below
        (every name and value escaped)."""
        from ..visualization import _page

        return _page(f"interpreto: {self.metric} of {self.method}", self._html_body())

    def _repr_html_(self) -> str:
        return self.to_html()

    def _html_body(self) -> str:
        from .._safe_text import html_text

        arrow = "higher" if self.higher_is_better else "lower"
        meta = f"{arrow} is better · {len(self.values)} texts · gain over random {_fmt(self.gain)}"
        head = (f"<h3>{html_text(self.metric)} of {html_text(self.method)}</h3>"
                f'<div class="itp-meta">{html_text(meta)}</div>')
        rows = [f"<tr><td>{i + 1}</td><td>{html_text(_fmt(v))}</td>"
                f'<td class="itp-rand">{html_text(_fmt(r))}</td></tr>'
                for i, (v, r) in enumerate(zip(self.values[:_MAX_ROWS], self.random_values[:_MAX_ROWS], strict=False))]
        if len(self.values) > _MAX_ROWS:
            rows.append(f'<tr><td colspan="3">… {len(self.values) - _MAX_ROWS} more texts</td></tr>')
        mean = f"{_fmt(self.mean)} ± {_fmt(_nanstd(self.values))}"
        random_mean = f"{_fmt(self.random_mean)} ± {_fmt(_nanstd(self.random_values))}"
        rows.append(f'<tr><th>mean ± std</th><th class="itp-best">{html_text(mean)}</th>'
                    f'<th class="itp-rand">{html_text(random_mean)}</th></tr>')
        table = (f"<table><tr><th>text</th><th>{html_text(self.method)}</th><th>random</th></tr>"
                 f"{''.join(rows)}</table>")
        return head + table

    def __str__(self) -> str:
        arrow = "higher" if self.higher_is_better else "lower"
        return (
            f"{self.metric} of {self.method}: {self.mean:.4f} (random {self.random_mean:.4f}, "
            f"{arrow} is better, {len(self.values)} texts)"
        )


@attrs.frozen(kw_only=True, eq=False)
class CurveResult(MetricResult):
    """A metric read off a perturbation curve (insertion, deletion, comprehensiveness, sufficiency).

    Attributes
    ----------
    x: per text, the curve's abscissa ``(S,)``: the fraction of elements inserted / deleted
        (or kept / removed for the ERASER metrics: the top-k fractions).
    curves: per text, ``(n_targets, S)`` target scores along the method's order.
    random_curves: per text, ``(n_targets, S)`` the same along random orders (mean over orders).
    """

    x: tuple[np.ndarray, ...] = attrs.field(converter=_frozen_arrays)
    curves: tuple[np.ndarray, ...] = attrs.field(converter=_frozen_arrays)
    random_curves: tuple[np.ndarray, ...] = attrs.field(converter=_frozen_arrays)

    def mean_curve(self, *, random: bool = False, n_points: int = 101) -> tuple[np.ndarray, np.ndarray]:
        """The curve averaged over texts and targets, each resampled on ``n_points`` of [0, 1]."""
        grid = np.linspace(0.0, 1.0, n_points)
        source = self.random_curves if random else self.curves
        rows = [np.interp(grid, x, row) for x, c in zip(self.x, source, strict=True) for row in c]
        return grid, (np.mean(rows, axis=0) if rows else np.full(n_points, np.nan))

    def _html_body(self) -> str:
        body = super()._html_body()
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return body
        from ..visualization import _png_tag, plot_curves

        try:
            png = plot_curves([self])
        except (ValueError, IndexError):  # no curve to draw (no texts)
            return body
        return body + _png_tag(png, f"{self.metric} curve of {self.method}")

    def to_json(self) -> dict[str, Any]:
        return super().to_json() | {
            "x": [x.tolist() for x in self.x],
            "curves": [c.tolist() for c in self.curves],
            "random_curves": [c.tolist() for c in self.random_curves],
        }
