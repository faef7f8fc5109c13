"""Models from local folders: ``local_files_only=True``, no hub access is ever attempted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._errors import InputError

__all__ = ["load_local_model"]


def load_local_model(folder: str) -> tuple[Any, Any]:
    """Model and tokenizer from a local folder (a causal LM or a sequence classifier, from its config)."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise InputError(
            f"--model {folder!r} is not a local folder; interpreto explain loads models from disk only "
            "(save one with model.save_pretrained(folder) and tokenizer.save_pretrained(folder))"
        )
    if not (path / "config.json").is_file():
        raise InputError(f"{folder!r} has no config.json: not a transformers model folder")
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        architectures = getattr(config, "architectures", None) or []
        causal = any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures)
        loader = AutoModelForCausalLM if causal else AutoModelForSequenceClassification
        model = loader.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot load a model and tokenizer from {folder!r}: {exc}") from exc
    return model.eval(), tokenizer
