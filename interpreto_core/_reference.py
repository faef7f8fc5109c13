"""The method reference (docs/reference.md), generated from the registry so it cannot drift."""

from __future__ import annotations

from collections.abc import Iterable

from ._parts import KINDS
from ._registry import Registry, get_registry

__all__ = ["method_reference"]

_TITLES = {
    "attribution": "Attribution methods",
    "perturbator": "Perturbators",
    "gradient_method": "Gradient methods",
    "attributor": "Attributors",
    "aggregator": "Aggregators",
    "metric": "Attribution metrics",
    "task": "Tasks",
    "score": "Scores",
    "dictionary_learner": "Dictionary learners",
    "interpreter": "Interpreters",
    "concept_metric": "Concept metrics",
}


def _fmt(value: object) -> str:
    text = repr(value)  # a None default is None (optional), not "required"
    return text.replace("|", "\\|")


def _recipe_params(reg: Registry, recipe: object) -> dict[str, object]:
    """The method's own parameters: its parts' parameters with the recipe's defaults applied."""
    params: dict[str, object] = {}
    for kind in ("perturbator", "gradient_method", "attributor", "aggregator"):
        name = getattr(recipe, kind, None)
        if name:
            try:
                params.update(reg.get(kind, name).params)
            except KeyError:
                pass
    params.update(getattr(recipe, "defaults", {}))
    return params


def method_reference(*, registry: Registry | None = None, distributions: Iterable[str] = ("interpreto-core",)) -> str:
    """Markdown: every registered part of ``distributions``, by kind, with summary, parameters and reference."""
    reg = registry or get_registry()
    wanted = set(distributions)
    lines = [
        "# Method reference",
        "",
        "Generated from the plugin registry (`interpreto methods --markdown`); a test keeps it in sync.",
        "",
        "Every attribution method also takes the engine options `batch_size` (default `\"auto\"`), `memory_budget`,",
        "`seed`, `baseline`, `reduction`,",
        "`completeness_delta` and `progress`, `score=` (or its former name `mode=`), and the options of the",
        "task that claims the model (e.g. `max_new_tokens`, `roles`): see the attribution guide and docs/tasks.md.",
        "Gradient methods also take `layer` and `layer_units` (attribution at a split point: "
        "docs/attention_and_layers.md).",
        "Gradient methods also take `pooling` (`sum` — the default, it keeps completeness — `mean`, `max`,",
        "`abs_max`, `l2`: how token scores become element scores), and every method takes `segments=`, the",
        "elements themselves (granularity `custom`): see \"Custom segments\" in the attribution guide.",
        "",
    ]
    for kind in ["attribution", *[k for k in KINDS if k != "attribution"]]:
        records = [r for r in reg.list_methods(kind) if r.distribution in wanted]
        if not records:
            continue
        lines += [f"## {_TITLES.get(kind, kind)}", "", f"Kind `{kind}`: {KINDS[kind][1]}.", ""]
        for r in records:
            lines += [f"### `{r.name}`", "", r.summary, "", f"Plugin `{r.plugin}` ({r.distribution})."]
            if kind == "task":
                lines.append(f"Claim order: priority {getattr(r.obj, 'priority', 100)}; default score "
                             f"`{getattr(r.obj, 'default_score', 'logit')}`.")
            if kind == "attribution":
                recipe = r.obj
                parts = [f"{k} `{v}`" for k, v in (("perturbator", recipe.perturbator),
                                                     ("gradient method", recipe.gradient_method),
                                                     ("attributor", getattr(recipe, "attributor", None)),
                                                     ("aggregator", recipe.aggregator)) if v]
                lines.append("Parts: " + ", ".join(parts) + ".")
            reference = r.meta.get("reference")
            if reference:
                lines.append(f"Reference: {reference}.")
            params = _recipe_params(reg, r.obj) if kind == "attribution" else r.params
            if params:
                lines += ["", "| parameter | default |", "|---|---|"]
                lines += [f"| `{name}` | `{_fmt(default)}` |" for name, default in params.items()]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
