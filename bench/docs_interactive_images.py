"""Regenerate the screenshots of the interactive page in docs/visualisation.md with headless Chromium.

    python bench/docs_interactive_images.py

* docs/images/interactive_compare.png: the real MiniLM-L6 SST-2 classifier of the zoo
  (``zoo.sentiment_classifier()``) explaining two sentences (one with an injected ``<script>``,
  shown as text) for both classes with occlusion and integrated gradients, on one page
  (``visualization.compare``): the method and target switchers, the tooltip of one element.
* docs/images/interactive_generation.png: the real SmolLM2-135M-Instruct of the zoo
  (``zoo.causal_lm()``) explaining 5 greedily generated tokens with occlusion: the matrix read
  row by row, row 3 selected.

The page is the library's, unchanged; only the screenshot copy gets a few lines of script that
hover an element / click a matrix row (as a person would) and the copy's Content-Security-Policy
is dropped so that those lines may run. The crop height is measured in Chromium first.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]
WIDTH = 1000

#: what a person does before the screenshot, then the content height for the crop
_ACT = """<script>addEventListener('load',function(){var root=document.querySelector('.itp');%s
var d=document.createElement('div');d.id='itp-h';d.style.display='none';
d.textContent=Math.ceil(Math.max(document.body.getBoundingClientRect().bottom,
 root.querySelector('.itp-tip').getBoundingClientRect().bottom));document.body.appendChild(d);});</script>"""
_HOVER = """var chips=Array.from(root.querySelectorAll('.itp-el')).filter(function(e){return e.offsetParent!==null;});
var el=chips[1];el.dispatchEvent(new MouseEvent('mouseover',{bubbles:true}));"""
_ROW = """var td=root.querySelector('tr[data-for="i0-m0-t"][data-key="2"] td');td.click();
var el=root.querySelector('tr[data-for="i0-m0-t"][data-key="2"] td:nth-child(4)');
el.dispatchEvent(new MouseEvent('mouseover',{bubbles:true}));"""


def _chromium(args: list[str]) -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args], check=True,
                              capture_output=True, text=True, timeout=180).stdout


def screenshot(page: str, png_path: Path, action: str, tmp: Path) -> None:
    csp = re.search(r'<meta http-equiv="Content-Security-Policy"[^>]*>', page)
    assert csp is not None
    copy = tmp / f"{png_path.stem}.html"
    copy.write_text(page.replace(csp.group(), "").replace("</body>", _ACT % action + "</body>"), encoding="utf-8")
    dom = _chromium([f"--window-size={WIDTH},300", "--virtual-time-budget=2000", "--dump-dom", copy.as_uri()])
    m = re.search(r'id="itp-h"[^>]*>(\d+)<', dom)
    height = int(m.group(1)) + 12 if m else 900
    _chromium([f"--window-size={WIDTH},{height}", "--virtual-time-budget=2000", f"--screenshot={png_path}",
               copy.as_uri()])
    try:
        from PIL import Image

        with Image.open(png_path) as im:
            small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        small.save(png_path, optimize=True)
    except ImportError:
        pass
    print(f"wrote {png_path.relative_to(ROOT)} ({WIDTH}x{height}, {png_path.stat().st_size // 1024} KB)")


def main() -> None:
    import torch

    torch.set_num_threads(1)
    from interpreto_core import explain
    from interpreto_core.visualization import compare
    from interpreto_core.zoo import causal_lm, sentiment_classifier

    IMAGES.mkdir(parents=True, exist_ok=True)
    model, tokenizer = sentiment_classifier()
    texts = ["the acting is superb , but the plot is a tedious mess .",
             "<script>alert('x')</script> a bleak , joyless film"]
    by_method = {m: explain(model, tokenizer, texts, method=m, targets=[[1, 0]] * len(texts))
                 for m in ("occlusion", "integrated_gradients")}
    lm, lm_tok = causal_lm()
    gen = explain(lm, lm_tok, ["The capital of France is"], method="occlusion", max_new_tokens=5)
    with tempfile.TemporaryDirectory() as tmp:
        screenshot(compare(by_method, title="MiniLM SST-2: occlusion vs integrated gradients"),
                   IMAGES / "interactive_compare.png", _HOVER, Path(tmp))
        screenshot(gen.to_html(title="SmolLM2-135M-Instruct: occlusion of its own continuation"),
                   IMAGES / "interactive_generation.png", _ROW, Path(tmp))


if __name__ == "__main__":
    main()
