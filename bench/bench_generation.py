"""Step scores and target_span on SmolLM2-135M (CPU, one thread): what they cost and save.

- step scores of a generated continuation (read from the generation's logits): the task's
  ``prepare`` with ``step_scores=False`` / ``None`` (default) / ``True``, and model forwards counted;
- step scores of a given continuation (``step_scores=True``): one extra no-grad pass, against
  occlusion of the same input;
- ``target_span``: integrated gradients over the whole continuation vs over two of its tokens
  (forward rows and calls, CPU time).

Process CPU time (``time.process_time()``), min of ``--repeats``; model forwards from a forward hook.

    python bench/bench_generation.py --repeats 7
"""

from __future__ import annotations

import argparse
import time

import torch

from interpreto_core import Explainer, zoo

PROMPT = "The capital of France is"
GIVEN = " Paris, a city on the Seine."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, tok = zoo.causal_lm(progress=False)
    calls: list[int] = []
    hook = model.register_forward_hook(lambda *a: calls.append(1))

    def prepare(step_scores: bool | None, target: str | None) -> tuple[float, int]:
        explainer = Explainer(model, tok, method="occlusion", max_new_tokens=8, step_scores=step_scores)
        times = []
        for _ in range(args.repeats):
            calls.clear()
            t = time.process_time()
            explainer.task.prepare([PROMPT], targets=[target], contrasts=[None], granularity="word")
            times.append(time.process_time() - t)
        return min(times), len(calls)

    for target in (None, GIVEN):
        for on in (False, None, True):
            t, n = prepare(on, target)
            kind = "generated" if target is None else "given"
            print(f"{kind:9} step_scores={on!s:5}: prepare {t * 1000:7.1f} ms CPU (min of {args.repeats}), "
                  f"{n} model forwards")
    explainer = Explainer(model, tok, method="occlusion", step_scores=True)
    calls.clear()
    t = time.process_time()
    expl = explainer.explain(PROMPT, targets=GIVEN)[0]
    t = time.process_time() - t
    print(f"occlusion of the given continuation (step_scores=True): {t * 1000:.0f} ms CPU, {explainer.forward_rows} "
          f"rows, {len(calls)} model forwards (one is the step-score pass)")
    print("targets   ", [x.label for x in expl.targets])
    for key, values in (expl.step_scores or {}).items():
        print(f"{key:16}", [round(v, 3) for v in values])
    for name, span in (("whole continuation", None), ("target_span=(0, 2)", (0, 2))):
        ig = Explainer(model, tok, method="integrated_gradients", n_steps=16, target_span=span)
        t = time.process_time()
        expl = ig.explain(PROMPT, targets=GIVEN)[0]
        t = time.process_time() - t
        print(f"IG n_steps=16, {name:18}: {len(expl.targets)} targets, {ig.forward_rows} rows, "
              f"{ig.forward_calls} calls, {t:.2f} s CPU")
    hook.remove()


if __name__ == "__main__":
    main()
