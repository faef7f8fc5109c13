"""Models from local folders: ``local_files_only=True``, no hub access is ever attempted.

Also the checks a caller (the CLI, a pipeline file, the Ray runner) makes on task and score names
before it loads a model: they read the registry only (no torch, no model code).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ._errors import InputError, UnknownNameError, ordered_suggestions

__all__ = ["AUTO_CLASSES", "load_local_model", "score_name", "task_name", "task_of_config", "task_of_folder"]

#: the transformers Auto class that loads a model of each built-in task
AUTO_CLASSES = {
    "sequence_classification": "AutoModelForSequenceClassification",
    "causal_lm": "AutoModelForCausalLM",
    "seq2seq": "AutoModelForSeq2SeqLM",
    "token_classification": "AutoModelForTokenClassification",
    "question_answering": "AutoModelForQuestionAnswering",
    "masked_lm": "AutoModelForMaskedLM",
}

#: files of which a saved tokenizer has at least one (``tokenizer.save_pretrained``)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "merges.txt",
                   "spiece.model", "sentencepiece.bpe.model", "tokenizer.model", "special_tokens_map.json")

#: architecture name endings -> task (the first match wins; encoder-decoders are found by config)
_ARCHITECTURE_TASKS = (
    (("ForSequenceClassification",), "sequence_classification"),
    (("ForTokenClassification",), "token_classification"),
    (("ForQuestionAnswering",), "question_answering"),
    (("ForMaskedLM",), "masked_lm"),
    (("ForCausalLM", "LMHeadModel"), "causal_lm"),
)


def _registry(registry: Any = None) -> Any:
    if registry is not None:
        return registry
    from ._registry import get_registry

    return get_registry()


def task_name(name: str, registry: Any = None) -> str:
    """The registered task called ``name`` (a former ``kind=`` value ``classifier`` is an alias).

    Raises ``InputError`` listing the registered tasks. Imports no torch unless ``name`` is no
    task's name (the aliases live with the engine).
    """
    if not isinstance(name, str) or not name:
        raise InputError(f"a task is a task name (`interpreto methods --kind task`), got {name!r}")
    reg = _registry(registry)
    names = reg.names("task")
    if name in names:
        return name
    from ._attribution import KIND_ALIASES

    alias = KIND_ALIASES.get(name)
    if alias is not None and alias in names:
        return alias
    available = ", ".join(ordered_suggestions(name, names)) or "none (no task plugin is loaded)"
    aliases = ", ".join(f"{k} = {v}" for k, v in KIND_ALIASES.items() if k != v)
    raise InputError(f"unknown task {name!r}; available: {available} (aliases: {aliases})")


def score_name(name: str, registry: Any = None) -> Any:
    """The score record called ``name`` (or a former ``mode=`` value); ``InputError`` lists the scores."""
    from ._scores import MODE_ALIASES

    if not isinstance(name, str) or not name:
        raise InputError(f"a score is a score name (`interpreto methods --kind score`), got {name!r}")
    try:
        return _registry(registry).get("score", MODE_ALIASES.get(name, name))
    except UnknownNameError as exc:
        raise InputError(f"unknown score {name!r}; available: {', '.join(exc.available)} (former modes: "
                         f"{', '.join(f'{k} = {v}' for k, v in MODE_ALIASES.items())})") from None


def task_of_config(config: Any) -> str | None:
    """The built-in task of a model from its config (a ``config.json`` dict or a ``PretrainedConfig``):
    encoder-decoders are ``seq2seq``, others by ``architectures``; None if none fits."""
    get = config.get if isinstance(config, dict) else lambda k, d=None: getattr(config, k, d)
    if get("is_encoder_decoder", False):
        return "seq2seq"
    for arch in get("architectures", None) or []:
        for endings, task in _ARCHITECTURE_TASKS:
            if str(arch).endswith(endings):
                return task
    return None


def task_of_folder(folder: str | Path) -> str | None:
    """:func:`task_of_config` of a model folder's ``config.json`` (read as JSON: nothing imported)."""
    try:
        config = json.loads((Path(folder).expanduser() / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return task_of_config(config) if isinstance(config, dict) else None


def load_local_model(folder: str, *, task: str | None = None) -> tuple[Any, Any]:
    """Model and tokenizer from a local folder.

    The model class is the Auto class of ``task`` (a registered task name; ``classifier`` is an
    alias of ``sequence_classification``) when given, else of the task its config tells:
    encoder-decoders (``is_encoder_decoder``) load with ``AutoModelForSeq2SeqLM``; otherwise
    ``config.architectures`` decides (``*ForTokenClassification``, ``*ForQuestionAnswering``,
    ``*ForMaskedLM``, ``*ForCausalLM`` / ``*LMHeadModel``), and a sequence classifier is the
    default. A task with no Auto class here (a plugin's) loads by the config too.
    """
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise InputError(
            f"--model {folder!r} is not a local folder; interpreto loads models from disk only "
            "(save one with model.save_pretrained(folder) and tokenizer.save_pretrained(folder))"
        )
    if not (path / "config.json").is_file():
        raise InputError(f"{folder!r} has no config.json: not a transformers model folder")
    found = [f.name for f in path.iterdir() if f.name in TOKENIZER_FILES]
    if not found:
        raise InputError(
            f"{folder!r} has a model but no tokenizer files (none of {', '.join(TOKENIZER_FILES)}): save the "
            "tokenizer into the same folder with tokenizer.save_pretrained(folder)"
        )
    if task is not None:
        task = task_name(task)
    import transformers

    try:
        config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - transformers raises many kinds here; the message names the folder
        raise InputError(f"cannot load a model and tokenizer from {folder!r}: {type(exc).__name__}: "
                         f"{str(exc)[:500]}") from exc
    own = task_of_config(config)
    chosen = task if task in AUTO_CLASSES else own
    auto = AUTO_CLASSES.get(chosen or "", AUTO_CLASSES["sequence_classification"])
    try:
        model = getattr(transformers, auto).from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        if task is not None and task != own:
            told = f"its config is a {own} model: pass task={own!r} or none" if own else "pass another task or none"
            raise InputError(f"cannot load {folder!r} as a {task} model ({auto} does not take a "
                             f"{getattr(config, 'model_type', '?')} config); {told}") from None
        raise InputError(f"cannot load a model from {folder!r}: {str(exc)[:500]}") from exc
    return model.eval(), tokenizer
