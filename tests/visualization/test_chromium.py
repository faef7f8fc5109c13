"""The saved report as a person sees it: rendered by headless Chromium (Debian's ``chromium``).

Checks that the tokens are in the rendered DOM, that the coloured chips are painted (screenshot
pixels), and that scripts injected through the input text did not run. A control page with a
real script proves that this Chromium does run scripts, so the check can fail.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from interpreto_core.visualization import save_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def _chromium(tmp_path, *args):
    profile = tmp_path / "profile"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_chromium_runs_scripts_at_all(tmp_path):
    page = tmp_path / "control.html"
    page.write_text("<html><head><title>t</title></head><body><script>document.title='pwned';"
                    "document.body.setAttribute('data-pwned','1')</script></body></html>")
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert "pwned" in dom and 'data-pwned="1"' in dom


def test_report_renders_tokens_and_runs_no_injected_script(cls_expls, tmp_path):
    path = save_report(tmp_path / "report.html", {"occlusion": cls_expls}, title="chromium check")
    dom = _chromium(tmp_path, "--virtual-time-budget=2000", "--dump-dom", path.as_uri())
    assert "<title>chromium check</title>" in dom
    assert "data-pwned" not in dom and "<title>pwned" not in dom
    assert "<img" not in dom  # the injected <img onerror> is text, not an element
    for expl in cls_expls:
        for el in expl.elements:
            # DOM serialisation escapes <, > and & in text; the element is shown as text
            shown = el.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            assert f">{shown}</span>" in dom
    assert "&lt;script&gt;" in dom or "&lt;</span>" in dom

    shot = tmp_path / "report.png"
    _chromium(tmp_path, "--window-size=1100,900", f"--screenshot={shot}", path.as_uri())
    from matplotlib.image import imread

    img = (imread(shot)[..., :3] * 255).astype(int)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    reddish = (r > 150) & (r - g > 60) & (r - b > 50)
    bluish = (b > 120) & (b - r > 60)
    assert reddish.sum() > 200 and bluish.sum() > 200, "expected red and blue chips on the screenshot"
    assert np.mean(img) > 200  # mostly a white page: it rendered, it is not an error page
