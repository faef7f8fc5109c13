"""Regenerate the notebook screenshots of the README and docs/quickstart.md (docs/images/notebook_*.png).

    pip install nbconvert nbclient ipykernel   # into the project's venv: they pull no torch
    python bench/docs_notebook_images.py

Executes docs/examples/notebook.ipynb for real (nbclient, a python3 kernel of this interpreter: the
real MiniLM SST-2 classifier of the zoo, ``zoo.sentiment_classifier()``), exports the executed
notebook with nbconvert's HTML exporter (the JupyterLab template) and screenshots each code cell
with its output in headless Chromium, 1000 px wide, cropped to the cell (measured in Chromium first):

* ``notebook_explain.png``: ``itp.explain(...)`` as a cell's last value (``Explanations._repr_html_``);
* ``notebook_metric.png``: a metric result (``evaluate(...)["deletion"]``: table and curve);
* ``notebook_concepts.png``: a concept table (``interpret_concepts(...)``, an NMF over SST-2 words).

What differs from the notebook page: the cells' stderr streams (transformers' "Loading weights"
progress bar, tqdm's note that ipywidgets is missing) are dropped before the export, and the
screenshot copy leaves out the two CDN scripts of the template (require.js, MathJax; nothing here
uses them and no network is reachable) and hides the other cells.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "examples" / "notebook.ipynb"
IMAGES = ROOT / "docs" / "images"
NAMES = ("notebook_explain.png", "notebook_metric.png", "notebook_concepts.png")  # one per code cell
WIDTH = 1000
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
# Shows only code cell number %d, then reports its bottom edge (for the crop) in a hidden element.
_ONLY_CELL = """<script>addEventListener('load',function(){
var cells=Array.from(document.querySelectorAll('main > .jp-Notebook-cell'));
var code=cells.filter(function(c){return c.classList.contains('jp-CodeCell');});
cells.forEach(function(c){if(c!==code[%d])c.style.display='none';});
var d=document.createElement('div');d.id='itp-h';d.style.display='none';
d.textContent=Math.ceil(code[%d].getBoundingClientRect().bottom);document.body.appendChild(d);});</script>"""


def _chromium(args: list[str]) -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [chromium, *FLAGS, f"--user-data-dir={profile}", *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=180,
        ).stdout


def executed_html(timeout: int = 900) -> str:
    """The notebook executed in a fresh kernel, stderr streams dropped, as nbconvert's HTML page."""
    try:
        import nbformat
        from nbclient import NotebookClient
        from nbconvert import HTMLExporter
    except ImportError:
        raise SystemExit("needs nbconvert, nbclient and ipykernel: pip install nbconvert nbclient ipykernel") from None
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    for cell in nb.cells:
        if cell.cell_type == "code":
            errors = [o for o in cell.outputs if o.output_type == "error"]
            if errors:
                raise RuntimeError(f"the notebook failed: {errors[0].ename}: {errors[0].evalue}")
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    return html


def screenshot(page: str, k: int, png_path: Path, tmp: Path) -> None:
    """Code cell ``k`` of the exported page, alone, cropped to its bottom edge."""
    page = re.sub(r'<script src="https://[^"]*"[^>]*>\s*</script>', "", page)
    copy = tmp / f"{png_path.stem}.html"
    end = page.rindex("</body>")  # the page's own (outputs may hold nested pages)
    copy.write_text(page[:end] + _ONLY_CELL % (k, k) + page[end:], encoding="utf-8")
    dom = _chromium([f"--window-size={WIDTH},400", "--virtual-time-budget=3000", "--dump-dom", copy.as_uri()])
    m = re.search(r'id="itp-h"[^>]*>(\d+)<', dom)
    if m is None:
        raise RuntimeError(f"could not measure code cell {k}")
    height = int(m.group(1)) + 12
    _chromium(
        [f"--window-size={WIDTH},{height}", "--virtual-time-budget=3000", f"--screenshot={png_path}", copy.as_uri()]
    )
    try:
        from PIL import Image

        with Image.open(png_path) as im:
            small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        small.save(png_path, optimize=True)
    except ImportError:
        pass
    print(f"wrote {png_path.relative_to(ROOT)} ({WIDTH}x{height}, {png_path.stat().st_size // 1024} KB)")


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    html = executed_html()
    with tempfile.TemporaryDirectory() as tmp:
        if len(sys.argv) > 1:  # keep the exported page too
            Path(sys.argv[1]).write_text(html, encoding="utf-8")
        for k, name in enumerate(NAMES):
            screenshot(html, k, IMAGES / name, Path(tmp))


if __name__ == "__main__":
    main()
