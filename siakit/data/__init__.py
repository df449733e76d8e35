"""Problems, answers, prompts and traces: everything that is text before a model is involved.

    >>> from siakit.data import load_problems, extract_answer
    >>> extract_answer("... so the answer is 18.")
    '18'
    >>> [(p.question, p.gold) for p in load_problems("rg:chain_sum", "test", n=2)]   # generated, no files
    [('Calculate 2 - 3.', '-1'), ('Calculate 8 + 0 - 5.', '3')]
    >>> problem = load_problems("gsm8k", n=1)[0]   # from $SIAKIT_DATA, ./data or ../shared/data  # doctest: +SKIP

The answer cue (`CUE`) and the cutting of generations at stop strings (`cut_at_stop`) live here, once.
"""
from siakit.data.answers import extract_answer, grade, normalize_number, numbers_in  # noqa: F401
from siakit.data.problems import (DATASETS, DataNotFoundError, Problem, ProblemFormatError,  # noqa: F401
                                  is_multiple_choice, load_problems, load_records)
from siakit.data.prompts import CUE, STOP_STRINGS, build_prompt, cut_at_stop  # noqa: F401
from siakit.data.traces import Trace, TraceFormatError, read_traces, split_steps, write_traces  # noqa: F401
