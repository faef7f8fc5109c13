"""Regenerate the screenshots in docs/images/ with the real embedded models and headless Chromium.

    python bench/docs_images.py

* docs/images/report_screenshot.png: a report comparing occlusion and integrated gradients on
  three SST-2-style sentences (one carries an injected <script>, shown as text), with metrics.
* docs/images/generation_screenshot.png: SmolLM2-135M-Instruct explaining its own continuation
  (matrix generated tokens x prompt elements).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def screenshot(html_path: Path, png_path: Path, *, size: str) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
                        f"--screenshot={png_path}", html_path.as_uri()], check=True, capture_output=True, timeout=120)
    print(f"wrote {png_path}")


def main() -> None:
    import torch

    torch.set_num_threads(1)
    from interpreto_core import explain
    from interpreto_core.metrics import evaluate
    from interpreto_core.visualization import report_html
    from interpreto_core.zoo import causal_lm, sentiment_classifier

    IMAGES.mkdir(parents=True, exist_ok=True)
    model, tokenizer = sentiment_classifier()
    texts = [
        "it 's a charming and often affecting journey .",
        "the acting is superb , but the plot is a tedious mess .",
        "<script>alert('x')</script> a bleak , joyless film",
    ]
    expls = {m: explain(model, tokenizer, texts, method=m) for m in ("occlusion", "integrated_gradients")}
    metrics = {m: evaluate(model, tokenizer, e, metrics=["insertion", "deletion"]) for m, e in expls.items()}
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(report_html(expls, metrics=metrics, title="MiniLM SST-2: occlusion vs integrated gradients"),
                        encoding="utf-8")
        screenshot(page, IMAGES / "report_screenshot.png", size="1100,1150")

        lm, lm_tok = causal_lm()
        expl = explain(lm, lm_tok, ["The capital of France is"], method="occlusion", max_new_tokens=5)[0]
        page = Path(tmp) / "generation.html"
        expl.save(page)
        screenshot(page, IMAGES / "generation_screenshot.png", size="1000,560")


if __name__ == "__main__":
    main()
