"""How `siakit bench`'s method suite prints: the environment line, the table's columns and one line
per row (a method's numbers, a case's mask choice, a target met or not).

    >>> format_row({"kind": "target", "target": "x", "value": 0.5, "row": "packed", "met": True})
    '# target x: 0.5 (packed) -> met'
    >>> COLUMNS[:3]
    [('shape', '{}'), ('dtype', '{}'), ('T', '{}')]
"""
from __future__ import annotations

import time


def environment(device: str) -> dict:
    import platform

    import torch
    import transformers

    info = {"kind": "env", "date": time.strftime("%Y-%m-%d %H:%M"), "torch": torch.__version__,
            "transformers": transformers.__version__, "python": platform.python_version(),
            "threads": torch.get_num_threads(), "device": device}
    info["device_name"] = torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor()
    return info


COLUMNS = [("shape", "{}"), ("dtype", "{}"), ("T", "{}"), ("K", "{}"), ("pack", "{}"), ("method", "{}"),
         ("mask", "{}"), ("per_trace_s", "{:.4f}"), ("speedup_vs_naive", "{:.1f}x"), ("time_vs_causal", "{:.2f}x"),
         ("tokens_per_s", "{:.0f}"), ("tflops", "{:.2f}"), ("frac_peak", "{:.0%}"), ("peak_mem_gb", "{:.2f}"),
         ("mem_vs_causal", "{:.2f}x"), ("max_abs_dentropy", "{:.1e}"), ("max_abs_dentropy_vocab", "{:.1e}")]


def format_row(row: dict) -> str:
    if row.get("kind") == "target":
        return f"# target {row['target']}: {row['value']:.3g} ({row['row']}) -> {'met' if row['met'] else 'NOT met'}"
    if row.get("kind") == "mask":
        return (f"# {row['shape']} T={row['T']} K={row['K']} on {row['device']}: mask=auto picks "
                f"{row['auto']} ({row['attn']}); under flex_attention it would pick {row['auto_under_flex_attention']}")
    if row.get("error"):
        return " | ".join(str(row[k]) for k, _ in COLUMNS[:6]) + f" | ERROR {row['error']}"
    return " | ".join("-" if row.get(k) is None else f.format(row[k]) for k, f in COLUMNS)
