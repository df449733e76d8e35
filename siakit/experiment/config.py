"""One run configuration, used in the same form everywhere: a runs YAML entry, the experiment
notebook's papermill parameters, `run_experiment` and the `siakit run` flags.

    >>> cfg = RunConfig.from_dict({"model": "smollm2-135m-instruct", "dataset": "gsm8k", "n": 4})
    >>> cfg.n, cfg.score_config().candidate_mentions
    (4, 8)
    >>> RunConfig.from_dict({"modle": "x"}, where="runs.yml: runs[0]")   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: runs.yml: runs[0]: unknown key(s) ['modle']; known: model, dataset, n, ...

Each field's `help` is its documentation; `siakit run` builds one flag per field from it.
"""
from __future__ import annotations

import argparse
from dataclasses import MISSING, asdict, dataclass, field, fields

from siakit.scorer.score import ScoreConfig


def _f(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class RunConfig:
    # The scorer's parameters default to ScoreConfig's (one place for each default); the others are the
    # run's own: generation, data and storage.
    model: str = _f("smollm2-135m-instruct", "embedded name, .gguf file, local model folder or Hugging Face id")
    dataset: str = _f("gsm8k", "gsm8k | svamp | arc-easy | arc-challenge | jsonl:PATH | a .csv/.tsv/.parquet/"
                                ".arrow/.jsonl file or save_to_disk folder | hf:NAME[:CONFIG]:SPLIT")
    n: int | str = _f(16, "problems: the first n of the split in file order (raising n extends a stored "
                          "run); 'all' for the whole split; above the split's size is an error")
    split: str = _f("test", "dataset split (GSM8K also has train)")
    estimator: str = _f(ScoreConfig.estimator, "readout | enumerate | rollout | vocab, or several comma-separated")
    max_new_tokens: int = _f(256, "generation length cap per trace (tokens)")
    temperature: float = _f(0.0, "generation temperature; 0 is greedy decoding")
    seed: int = _f(0, "seeds generation, scoring samples and every bootstrap")
    device: str = _f("cpu", "cpu | cuda | cuda:N")
    dtype: str | None = _f(None, "None is float32; bfloat16 or float16 on a GPU")
    batch_size: int = _f(8, "generation batch size (problems per generate call)")
    score_batch: int = _f(4, "traces per stored score shard: a killed run loses at most one shard")
    results_dir: str = _f("results", "results store root: <results_dir>/<model>/<dataset>/")
    method: str = _f(ScoreConfig.method, "scorer forward method (all give the same numbers; auto = packed)")
    candidate_samples: int = _f(ScoreConfig.candidate_samples, "numeric readout: answers of M continuations "
                                "sampled from the question join the candidate set (0 = none)")
    candidate_mentions: int = _f(ScoreConfig.candidate_mentions, "numeric readout: numbers written in the "
                                 "question and trace join the candidate set, up to this many (0 = off)")
    samples: int = _f(ScoreConfig.rollout_m, "sampling estimator: continuations M per prefix")
    # Column names of a table dataset (siakit.data.tables); None keeps the default names.
    question_field: str | None = _f(None, "table datasets: column of the question (default 'question')")
    answer_field: str | None = _f(None, "table datasets: column of the gold answer (default 'gold', else 'answer')")
    choices_field: str | None = _f(None, "table datasets: column of the options (default 'choices' when present)")
    id_field: str | None = _f(None, "table datasets: column of a unique id (default 'id', else the row number)")
    terminated: bool = _f(ScoreConfig.terminated, "score each option followed by the end of the answer "
                          "(False: the old token-prefix form, where ' 2' also counts ' 24')")

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_dict(cls, values: dict, where: str = "run configuration") -> "RunConfig":
        """A RunConfig from plain values; an unknown key is an error that names it and `where`."""
        unknown = sorted(set(values) - set(cls.keys()))
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; known: {', '.join(cls.keys())}")
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> "RunConfig":
        """Check every field before anything is written or loaded (a bad value would otherwise fail
        after a manifest was written, or after every trace was generated). Raises ValueError naming
        the field; returns self.

            RunConfig(batch_size=0).validate()   # ValueError: batch_size must be an integer >= 1, got 0
        """
        for name in ("batch_size", "score_batch", "max_new_tokens", "samples"):
            _at_least(name, getattr(self, name), 1)
        for name in ("candidate_samples", "candidate_mentions", "seed"):
            _at_least(name, getattr(self, name), 0)
        if not (isinstance(self.n, int) and not isinstance(self.n, bool)) and self.n != "all":
            raise ValueError(f"n must be an integer >= 1 or 'all', got {self.n!r}")
        if self.n != "all" and self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if not isinstance(self.temperature, (int, float)) or not 0 <= self.temperature < float("inf"):
            raise ValueError(f"temperature must be a finite number >= 0, got {self.temperature!r}")
        for name in ("model", "dataset", "split", "results_dir"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"{name} must be a non-empty string, got {getattr(self, name)!r}")
        check_score_options(self.estimators(), self.method)
        check_device_dtype(self.device, self.dtype)
        return self

    def fields(self):
        """The table column names (siakit.data.tables.Fields), or None when none is set."""
        from siakit.data.tables import fields_of

        return fields_of(self)

    def estimators(self) -> str | list[str]:
        """`estimator` as scored: one name, or a list for several (JSON-stable for the resume check)."""
        names = [x.strip() for x in str(self.estimator).split(",") if x.strip()]
        return names[0] if len(names) == 1 else names

    def score_overrides(self) -> dict:
        """The scorer parameters this run sets away from ScoreConfig's defaults (recorded in the
        manifest as `score`, exactly as `siakit run` always has)."""
        base = ScoreConfig()
        mine = {"method": self.method, "candidate_samples": self.candidate_samples,
                "candidate_mentions": self.candidate_mentions, "samples": self.samples, "seed": self.seed,
                "terminated": self.terminated}
        # ScoreConfig.samples is an alias (None) of rollout_m, so the default to compare with is rollout_m's
        default = {k: getattr(base, k) for k in mine} | {"samples": base.rollout_m if base.samples is None else base.samples}
        return {k: v for k, v in mine.items() if v != default[k]}

    def score_config(self) -> ScoreConfig:
        return ScoreConfig(estimator=tuple(self.estimators()) if isinstance(self.estimators(), list)
                           else self.estimators(), **self.score_overrides())

    def result_parameters(self) -> dict:
        """What the results store compares on resume (everything that changes a number but `n`)."""
        return {"n": self.n, "split": self.split, "estimator": self.estimators(),
                "max_new_tokens": self.max_new_tokens, "temperature": self.temperature, "seed": self.seed,
                "dtype": self.dtype, "score": self.score_overrides()}


def _at_least(name: str, value, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def check_score_options(estimator, method: str) -> None:
    """Estimator names and the forward method, checked before any work.

        check_score_options(["readout", "foo"], "auto")  # ValueError: unknown estimator 'foo'; use ...
    """
    from siakit.scorer.estimators import ESTIMATORS
    from siakit.scorer.score import METHOD_CHOICES

    names = [estimator] if isinstance(estimator, str) else list(estimator)
    if not names:
        raise ValueError(f"estimator: give at least one of {', '.join(ESTIMATORS)}")
    for name in names:
        if name not in ESTIMATORS:
            raise ValueError(f"unknown estimator '{name}'; use one of {', '.join(ESTIMATORS)} (comma-separated)")
    if len(set(names)) != len(names):
        raise ValueError(f"estimator: {names} names one estimator twice")
    if method not in METHOD_CHOICES:
        raise ValueError(f"unknown method '{method}'; use one of {', '.join(METHOD_CHOICES)}")


def check_device_dtype(device: str, dtype) -> None:
    """A device this machine has and a dtype torch knows, checked before any work.

        check_device_dtype("cpu", "float8")  # ValueError: unknown dtype 'float8'; use one of [...]
    """
    import torch

    from siakit.models.loading import resolve_dtype

    resolve_dtype(dtype)
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device: {device!r} is not a torch device ({e})") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: this machine has no CUDA GPU (use --device cpu)")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r}: MPS is not available here (use --device cpu)")


def parse_n(text: str) -> int | str:
    """`--n` value: an integer, or 'all'.

        parse_n("8") -> 8;  parse_n("all") -> "all"
    """
    if str(text).strip().lower() == "all":
        return "all"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'all', got {text!r}") from None


# Flags whose values need more than int/float/str.
FLAG_TYPES = {"n": parse_n}
# Older spellings of `siakit run` flags, still accepted; `--n-problems` because torchrun's own parser
# takes `--n` for an abbreviation of its `--nnodes` / `--nproc-per-node` (distributed.py).
FLAG_ALIASES = {"results_dir": ["--results"], "temperature": ["--gen-temperature"], "n": ["--n-problems"]}


def add_flags(parser, cls, *, spellings: dict | None = None, aliases: dict | None = None,
              types: dict | None = None, helps: dict | None = None, choices: dict | None = None,
              required: tuple = (), skip: tuple = ()) -> None:
    """One `--flag` per field of the dataclass `cls` (but `skip`), typed and defaulted from the field, so
    no default is written twice. `dest` is the field's name; the flag is `--field-name` unless `spellings`
    names another; `aliases` adds older spellings; `types` parses values beyond int/float/str; `helps`
    documents fields without a `help` in their metadata; a bool field becomes `--x` / `--no-x`.

        add_flags(parser, RunConfig, required=("model",))  ->  --model (required), --dataset ..., --terminated
    """
    spellings, aliases, types = spellings or {}, aliases or {}, types or {}
    helps, choices = helps or {}, choices or {}
    for f in fields(cls):
        if f.name in skip:
            continue
        flags = [spellings.get(f.name, "--" + f.name.replace("_", "-"))] + aliases.get(f.name, [])
        default = f.default if f.default is not MISSING else None
        text = helps.get(f.name, f.metadata.get("help", ""))
        if str(f.type) == "bool":  # --terminated / --no-terminated
            parser.add_argument(*flags, dest=f.name, action=argparse.BooleanOptionalAction, default=default,
                                help=text)
            continue
        kind = types.get(f.name) or {"int": int, "float": float}.get(str(f.type).split(" ")[0], str)
        extra = {"required": True} if f.name in required else {"default": default}
        if f.name in choices:
            extra["choices"] = choices[f.name]
        else:  # the flag's name, not the field's (--samples sets rollout_m)
            extra["metavar"] = flags[0].lstrip("-").replace("-", "_").upper()
        parser.add_argument(*flags, dest=f.name, type=kind, help=text, **extra)


def add_run_flags(parser) -> None:
    """One `--flag` per RunConfig field, typed and documented from the dataclass."""
    add_flags(parser, RunConfig, aliases=FLAG_ALIASES, types=FLAG_TYPES, required=("model", "dataset"))


def from_flags(args) -> RunConfig:
    return RunConfig(**{name: getattr(args, name) for name in RunConfig.keys()})
