"""`interpreto demo`: the whole library on embedded real models, offline, in one HTML report.

1. a real sentiment classifier (MiniLM fine-tuned on SST-2 once, cached) explains SST-2
   sentences with several attribution methods, scored by the faithfulness metrics;
2. a real small causal LM (SmolLM2-135M-Instruct) explains its own greedy generation;
3. a concept dictionary is learned on AG News activations of MiniLM (when the concepts
   part is installed), its concepts described by their top words.

Sections 2 and 3 do not need the classifier: on a machine with two cores or more they run in a
background process (one torch thread) while section 1 runs here (see :func:`run_stages`), so
the first run's fine-tuning overlaps the SmolLM2 preparation and the concepts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from ._errors import InterpretoError

__all__ = ["DEMO_METHODS", "Stage", "run_demo", "run_stages"]

DEMO_METHODS = ("integrated_gradients", "kernel_shap", "lime", "occlusion")
DEMO_SENTENCES = 4
PROMPT = "The capital of France is"


def _log(msg: str) -> None:
    import sys

    from ._safe_text import terminal

    print(f"[interpreto demo] {terminal(msg)}", file=sys.stderr, flush=True)


# -- the stage runner ------------------------------------------------------------------------------
@attrs.frozen
class Stage:
    """One section of the demo: ``fn(*args)`` returns its HTML.

    A ``background`` stage must not need what the foreground stages build, and ``fn`` must be a
    module-level function (it is pickled into the background process).
    """

    name: str
    fn: Callable[..., str]
    args: tuple[Any, ...] = ()
    background: bool = False


def _background_init() -> None:
    """In the background process: one torch thread, no progress bars, and SIGTERM runs the cleanups."""
    import signal
    import sys

    # read when torch / huggingface_hub are first imported, which happens later, inside the stages
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"

    def on_sigterm(*_: Any) -> None:
        if _RUNNING:
            sys.exit(143)  # inside a stage: finally blocks remove its temporary folders
        os._exit(143)  # idle: nothing to clean up, and no exit handlers to disturb

    signal.signal(signal.SIGTERM, on_sigterm)


_RUNNING: list[str] = []  # in the background process: the stage being run, if any


def _run_background(stages: Sequence[Stage]) -> tuple[list[str], tuple[str, str, bool, str] | None]:
    """The background process's work: the results, and ``(stage, error, is_user_error, traceback)`` on failure."""
    import traceback

    out = []
    for stage in stages:
        _RUNNING.append(stage.name)
        try:
            out.append(stage.fn(*stage.args))
        except Exception as exc:  # noqa: BLE001 -- carried back to the parent, which raises it
            return out, (
                stage.name,
                f"{type(exc).__name__}: {exc}",
                isinstance(exc, InterpretoError),
                traceback.format_exc(),
            )
        finally:
            _RUNNING.clear()
    return out, None


def run_stages(
    stages: Sequence[Stage], *, parallel: bool = True, log: Callable[[str], None] | None = None
) -> list[str]:
    """Run ``stages`` and return their results in the order given.

    With ``parallel``, the ``background`` stages run one after another in one spawned process
    (torch limited to one thread, transformers' progress bars off) while the others run here, in
    order; the results are those of the serial run (``parallel=False``: all here, in order). A
    background failure is announced through ``log`` when it happens and raised here once the
    foreground stages are done (their models stay cached), naming the stage: an
    :class:`InterpretoError` stays one, anything else becomes a ``RuntimeError`` that carries the
    background traceback. If a foreground stage fails, the background process is stopped
    (SIGTERM: its temporary folders are removed) and the error is raised.
    """
    back = [s for s in stages if s.background]
    if not parallel or not back:
        return [s.fn(*s.args) for s in stages]
    import multiprocessing

    def announce(value: tuple[list[str], tuple[str, str, bool, str] | None]) -> None:
        if value[1] is not None and log is not None:
            log(f"{value[1][0]} (background) failed: {value[1][1]}; reported when the rest is done")

    results: dict[int, str] = {}
    pool = multiprocessing.get_context("spawn").Pool(1, initializer=_background_init)
    try:
        pending = pool.apply_async(_run_background, (back,), callback=announce)
        for i, stage in enumerate(stages):
            if not stage.background:
                results[i] = stage.fn(*stage.args)
        back_results, failure = pending.get()
    except BaseException:
        pool.terminate()  # SIGTERM: a running background stage cleans up and exits
        pool.join()
        raise
    pool.close()  # the background process is idle: let it exit on its own
    pool.join()
    if failure is not None:
        name, error, user_error, tb = failure
        msg = f"the demo's {name!r} section (run in the background) failed: {error}"
        if user_error:
            raise InterpretoError(msg)
        raise RuntimeError(f"{msg}\nbackground traceback:\n{tb}")
    it = iter(back_results)
    return [results[i] if i in results else next(it) for i in range(len(stages))]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# -- the sections ----------------------------------------------------------------------------------
def _attribution_section(methods: Sequence[str], n_texts: int, out: Path) -> str:
    from ._attribution import explain
    from .metrics import evaluate
    from .visualization import page_body, plot_curves, report_html
    from .zoo import load_sst2, sentiment_classifier

    model, tokenizer = sentiment_classifier(progress=_log)
    texts = [s for s, _ in load_sst2(split="dev")[:n_texts]]
    explanations, metrics = {}, {}
    for method in methods:
        t = time.perf_counter()
        explanations[method] = explain(model, tokenizer, texts, method=method, granularity="word")
        seconds = time.perf_counter() - t
        metrics[method] = evaluate(model, tokenizer, explanations[method])
        _log(f"{method}: {seconds:.1f} s for {len(texts)} sentences")
    curves = [metrics[m]["deletion"] for m in methods]
    png = plot_curves(curves, path=out / "deletion_curves.png")
    page = report_html(explanations, metrics=metrics, plots=[png], title="Sentiment (MiniLM fine-tuned on SST-2)")
    return page_body(page)


def _generation_section() -> str:
    from ._attribution import explain
    from .visualization import explanation_fragment
    from .zoo import causal_lm

    model, tokenizer = causal_lm(progress=_log)
    t = time.perf_counter()
    # occlusion: the drop in each generated token's log-probability when a word is masked (exact, 1 pass)
    expl = explain(model, tokenizer, PROMPT, method="occlusion", max_new_tokens=4, granularity="word")[0]
    seconds = time.perf_counter() - t
    _log(f"generation: {PROMPT!r} -> {expl.output_text!r} explained in {seconds:.1f} s")
    return "<h1>Generation (SmolLM2-135M-Instruct)</h1>" + explanation_fragment(expl)


def _concept_section(out: Path) -> str:
    from .concepts.demo import concept_section

    t = time.perf_counter()
    html = concept_section(out)
    _log(f"concepts: NMF dictionary on AG News activations in {time.perf_counter() - t:.1f} s")
    return html


def run_demo(
    out_dir: str | Path = "interpreto-demo",
    *,
    methods: Sequence[str] = DEMO_METHODS,
    n_texts: int = DEMO_SENTENCES,
    generation: bool = True,
    concepts: bool = True,
    parallel: bool | None = None,
) -> Path:
    """Run the demo and write ``report.html`` (plus plots) into ``out_dir``; returns the report path.

    ``parallel``: run the generation and concept sections in a background process while the
    attributions run here (default: when at least two cores are available); see :func:`run_stages`.
    """
    from transformers.utils import logging

    from .visualization import _page

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    parallel = _cores() >= 2 if parallel is None else parallel
    stages = [Stage("attributions", _attribution_section, (tuple(methods), n_texts, out))]
    _log("1/3 attributions with a real sentiment classifier (first run: fine-tunes MiniLM, ~2 min)")
    where = " (in the background)" if parallel else ""
    if generation:
        _log(f"2/3 a generation of SmolLM2-135M{where} (first run: downloads and converts the model, ~1 min)")
        stages.append(Stage("generation", _generation_section, background=True))
    if concepts:
        try:
            from .concepts import demo as _  # noqa: F401 -- only to know whether the concepts part is installed
        except ImportError:
            _log("3/3 concepts: not available in this installation, skipped")
        else:
            _log(f"3/3 concepts on AG News activations{where}")
            stages.append(Stage("concepts", _concept_section, (out,), background=True))
    bars = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()  # one line per step; no bars interleaved with the other process's lines
    try:
        sections = run_stages(stages, parallel=parallel, log=_log)
    finally:
        if bars:
            logging.enable_progress_bar()
    total = time.perf_counter() - start
    footer = f'<p class="itp-meta">Generated by interpreto demo in {total:.0f} s.</p>'
    report = out / "report.html"
    report.write_text(_page("interpreto demo", "".join(sections) + footer), encoding="utf-8")
    _log(f"done in {total:.0f} s: {report}")
    return report
