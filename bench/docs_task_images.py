"""Regenerate the per-task screenshots of docs/tasks.md (docs/images/task_<name>.png) with headless Chromium.

    python bench/docs_task_images.py                  # all six
    python bench/docs_task_images.py seq2seq masked_lm # some of them

Each picture is the HTML view of one explanation (``Explanation.save``), 900 px wide and cropped
to the content's height (measured in Chromium first, see :func:`page_height`).

* ``sequence_classification``: a text pair explained by the real MiniLM-L6 SST-2 classifier of
  the zoo (``zoo.sentiment_classifier()``, fine-tuned once then cached); it was trained on single
  sentences, but a pair is still read with its token types and shown as two labelled segments.
* ``causal_lm``: chat messages explained by the real SmolLM2-135M-Instruct of the zoo
  (``zoo.causal_lm()``), its own chat template, the user message's words as elements.
* ``seq2seq``, ``token_classification``, ``question_answering``, ``masked_lm``: the tiny
  random models of the docs/tasks.md examples (no real weights of these kinds are obtainable
  here): the layout, not the scores, is the point.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
WIDTH = 900
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]
# Reports the page's content height into the dumped DOM (only in the measuring copy of the page).
_MEASURE = ("<script>addEventListener('load',()=>{const d=document.createElement('div');d.id='itp-h';"
            "d.textContent=Math.ceil(document.body.getBoundingClientRect().bottom);"
            "document.body.appendChild(d)});</script>")


def _chromium() -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    return chromium


def _run_chromium(args: list[str]) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([_chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                              check=True, capture_output=True, text=True, timeout=120)


def page_height(html_path: Path, *, width: int = WIDTH) -> int:
    """The rendered height (px) of the page at ``width``: a copy with a measuring script, dumped by Chromium."""
    probe = html_path.with_name(html_path.stem + ".measure.html")
    probe.write_text(html_path.read_text(encoding="utf-8").replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    dom = _run_chromium([f"--window-size={width},200", "--dump-dom", probe.as_uri()]).stdout
    probe.unlink()
    m = re.search(r'id="itp-h">(\d+)<', dom)
    if m is None:
        raise RuntimeError(f"could not measure {html_path}")
    return int(m.group(1)) + 8  # the body's bottom margin


def screenshot(html_path: Path, png_path: Path, *, width: int = WIDTH) -> None:
    height = page_height(html_path, width=width)
    _run_chromium([f"--window-size={width},{height}", f"--screenshot={png_path}", html_path.as_uri()])
    _shrink(png_path)
    print(f"wrote {png_path.relative_to(ROOT)} ({width}x{height}, {png_path.stat().st_size // 1024} KB)")


def _shrink(png_path: Path) -> None:
    """Re-save as a palette PNG (these views have few colours) when Pillow is there; lossless enough."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(png_path) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(png_path, optimize=True)


# -- the explanations ------------------------------------------------------------------------------
def _tiny() -> Any:
    from interpreto_core.testing import make_tiny_tokenizer

    return make_tiny_tokenizer()


def sequence_classification() -> Any:
    import interpreto_core as itp
    from interpreto_core.zoo import sentiment_classifier

    model, tok = sentiment_classifier()
    pair = ("The acting is superb.", "The plot is a tedious mess.")
    return itp.explain(model, tok, pair, method="occlusion", targets="positive", contrast="negative")[0]


def causal_lm() -> Any:
    import interpreto_core as itp
    from interpreto_core.zoo import causal_lm as smollm2

    lm, tok = smollm2()
    chat = [{"role": "system", "content": "You are a geography assistant."},
            {"role": "user", "content": "What is the capital of France?"}]
    return itp.explain(lm, tok, chat, method="occlusion", targets="The capital of France is Paris.")[0]


def seq2seq() -> Any:
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    import interpreto_core as itp

    tok = _tiny()
    torch.manual_seed(0)
    t5 = T5ForConditionalGeneration(T5Config(
        vocab_size=len(tok), d_model=32, d_ff=64, d_kv=16, num_layers=2, num_heads=2, pad_token_id=tok.pad_token_id,
        eos_token_id=tok.sep_token_id, decoder_start_token_id=tok.cls_token_id)).eval()
    return itp.explain(t5, tok, "the cat sat on the mat.", method="integrated_gradients", targets="a small dog",
                       n_steps=32, baseline="mask", completeness_delta=True)[0]


def _bert_config(tok: Any, **kwargs: Any) -> Any:
    from transformers import BertConfig

    return BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=64, **kwargs)


def token_classification() -> Any:
    import torch
    from transformers import BertForTokenClassification

    import interpreto_core as itp

    tok = _tiny()
    torch.manual_seed(0)
    tagger = BertForTokenClassification(
        _bert_config(tok, num_labels=3, id2label={0: "O", 1: "B-PER", 2: "I-PER"})).eval()
    return itp.explain(tagger, tok, "Ada Lovelace wrote code", method="occlusion")[0]


def question_answering() -> Any:
    import torch
    from transformers import BertForQuestionAnswering

    import interpreto_core as itp

    tok = _tiny()
    torch.manual_seed(0)
    reader = BertForQuestionAnswering(_bert_config(tok)).eval()
    question, context = "Who wrote code?", "Ada Lovelace wrote the first program."
    return itp.explain(reader, tok, (question, context), method="integrated_gradients", n_steps=16,
                       targets=[(0, 12)])[0]


def masked_lm() -> Any:
    import torch
    from transformers import BertForMaskedLM

    import interpreto_core as itp

    tok = _tiny()
    torch.manual_seed(0)
    mlm = BertForMaskedLM(_bert_config(tok)).eval()
    return itp.explain(mlm, tok, "Paris is the [MASK] of France.", method="occlusion", targets=["capital"])[0]


TASKS: dict[str, Callable[[], Any]] = {
    "sequence_classification": sequence_classification,
    "causal_lm": causal_lm,
    "seq2seq": seq2seq,
    "token_classification": token_classification,
    "question_answering": question_answering,
    "masked_lm": masked_lm,
}


def main(names: list[str]) -> None:
    import torch

    torch.set_num_threads(1)
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        raise SystemExit(f"unknown task(s) {unknown}; choose from {list(TASKS)}")
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names or list(TASKS):
            expl = TASKS[name]()
            page = Path(tmp) / f"task_{name}.html"
            expl.save(page)
            screenshot(page, IMAGES / f"task_{name}.png")


if __name__ == "__main__":
    main(sys.argv[1:])
