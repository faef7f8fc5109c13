"""``interpreto explain`` end to end on tiny model folders saved to disk."""

from __future__ import annotations

import json

import pytest

from interpreto_core import Explanation
from interpreto_core.cli import main


@pytest.fixture(scope="module")
def classifier_dir(classifier, tokenizer, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cls")
    classifier.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def lm_dir(causal_lm, tokenizer, tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm")
    causal_lm.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_explain_prints_writes_and_scores(classifier_dir, tmp_path, capsys):
    html_path, json_path, png_path = tmp_path / "r.html", tmp_path / "r.json", tmp_path / "c.png"
    code = main([
        "explain", "--model", str(classifier_dir), "--method", "occlusion", "--method", "saliency",
        "--metric", "insertion", "--metric", "deletion", "--html", str(html_path), "--json", str(json_path),
        "--plot", str(png_path), "--color", "never", "a charming journey", "<script>x</script> bleak",
    ])
    assert code == 0
    out = capsys.readouterr().out
    assert "charming[" in out and "<script>" in out  # terminal view is plain text, nothing to escape
    assert "insertion ↑" in out and "deletion ↓" in out and "random" in out
    data = json.loads(json_path.read_text())
    assert set(data["explanations"]) == {"occlusion", "saliency"}
    back = [Explanation.from_json(d) for d in data["explanations"]["occlusion"]]
    assert [e.text for e in back] == ["a charming journey", "<script>x</script> bleak"]
    assert data["metrics"]["saliency"]["deletion"]["higher_is_better"] is False
    page = html_path.read_text()
    assert "<script>x" not in page and "data:image/png;base64," in page
    assert png_path.read_bytes()[:4] == b"\x89PNG"


def test_colour_and_targets(classifier_dir, capsys):
    assert main(["explain", "--model", str(classifier_dir), "--method", "occlusion", "--target", "0",
                 "--target", "2", "--color", "always", "good film"]) == 0
    out = capsys.readouterr().out
    assert "\x1b[48;2;" in out
    assert out.count("LABEL_0") == 1 and out.count("LABEL_2") == 1


def test_texts_from_file_and_causal_lm(lm_dir, tmp_path, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text("the capital of france is\n\nhello there\n")
    json_path = tmp_path / "lm.json"
    code = main(["explain", "--model", str(lm_dir), "--file", str(texts), "--method", "occlusion",
                 "--max-new-tokens", "2", "--json", str(json_path), "--color", "never"])
    assert code == 0
    data = json.loads(json_path.read_text())["explanations"]["occlusion"]
    assert len(data) == 2 and all(d["model_kind"] == "causal_lm" for d in data)
    assert all(sum(d["generated"]) == 1 for d in data)
    assert "generated:" in capsys.readouterr().out


def test_errors_are_clear(classifier_dir, lm_dir, tmp_path, capsys):
    assert main(["explain", "--model", "sentence-transformers/all-MiniLM-L6-v2", "hi"]) == 2
    assert "not a local folder" in capsys.readouterr().err
    assert main(["explain", "--model", str(tmp_path), "hi"]) == 2
    assert "config.json" in capsys.readouterr().err
    assert main(["explain", "--model", str(classifier_dir)]) == 2
    assert "nothing to explain" in capsys.readouterr().err
    assert main(["explain", "--model", str(classifier_dir), "--metric", "nope", "hi"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["explain", "--model", str(lm_dir), "--task", "clasifier", "hi"]) == 2
    assert "unknown task 'clasifier'; available: " in capsys.readouterr().err
    assert main(["explain", "--model", str(classifier_dir), "--target", "7", "hi"]) == 2
    assert "out of range" in capsys.readouterr().err
