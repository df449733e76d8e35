"""Sizing a sweep (siakit.bench.sizing): model sizes from names, token counts, the schedule, the table."""
import pytest

from siakit.bench.sizing import (RunSize, _makespan, generation_throughput, nominal_params_b, run_sizes,
                                      sizing_table)


@pytest.mark.parametrize("model, size", [
    ("Qwen/Qwen2.5-0.5B", 0.5), ("Qwen/Qwen2.5-1.5B-Instruct", 1.5), ("google/gemma-2-9b-it", 9.0),
    ("meta-llama/Llama-3.2-3B", 3.0), ("allenai/OLMo-2-0425-1B-SFT", 1.0),
    ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", 7.0)])
def test_nominal_size_from_the_name(model, size):
    assert nominal_params_b(model) == size


def test_a_name_without_a_size_is_an_error_naming_it():
    with pytest.raises(ValueError, match="smollm2-instruct"):
        nominal_params_b("smollm2-instruct")


def test_tokens_count_the_readout_samples_of_numeric_questions_only():
    gsm = RunSize("m__gsm8k", "m-1B", "gsm8k", 10, 512, 8, 256, 1.0)
    arc = RunSize("m__arc-easy", "m-1B", "arc-easy", 10, 512, 8, 256, 1.0)
    assert gsm.tokens == 10 * (512 + 8 * 256)
    assert arc.tokens == 10 * 512


def test_makespan_schedules_whole_pages_longest_first():
    assert _makespan([3, 2, 2, 1], 2) == 4.0
    assert _makespan([5, 1, 1], 8) == 5.0   # one page cannot be split over GPUs


def test_sizing_table_against_hand_arithmetic():
    sizes = [RunSize("a", "a-1B", "arc-easy", 500, 512, 0, 256, 1.0),   # 256,000 tokens at 1,000 tok/s
             RunSize("b", "b-2B", "arc-easy", 500, 512, 0, 256, 2.0)]   # half the speed: 512 s
    rows = sizing_table(sizes, tokens_per_s=1000.0, measured_params_b=1.0, gpus=(1, 2))
    total = (256 + 512) / 3600
    assert rows[0] == {"gpus": 1, "gpu_hours": round(total, 3), "wall_hours_split": round(total, 3),
                       "wall_hours_pages": round(total, 3)}
    assert rows[1]["wall_hours_split"] == round(total / 2, 3)
    assert rows[1]["wall_hours_pages"] == round(512 / 3600, 3)
    with pytest.raises(ValueError, match="tokens_per_s"):
        sizing_table(sizes, 0.0, 1.0)


def test_the_paper_runs_file_sizes():
    sizes = run_sizes("runs/paper.yml")
    assert len(sizes) == 88
    r1 = [s for s in sizes if "R1-Distill-Qwen-7B" in s.model and s.dataset == "gsm8k"][0]
    assert (r1.n, r1.max_new_tokens, r1.candidate_samples, r1.params_b) == (500, 2048, 8, 7.0)
    assert r1.tokens == 500 * (2048 + 8 * 256)


def test_generation_throughput_makes_every_token():
    row = generation_throughput("tiny", batch=2, prompt_tokens=8, new_tokens=4)
    assert row["kind"] == "generate" and row["batch"] == 2 and row["new_tokens"] == 4
    assert row["generated"] == 2 * 4   # min_new_tokens: no row stops early
    assert row["tokens_per_s"] > 0


@pytest.mark.parametrize("runs_file", ["runs/paper.yml", "runs/default.yml"])
def test_chapter_parameters_of_the_runs_files_exist_in_their_notebooks(runs_file):
    """papermill injects unknown names silently: a misspelt GPU setting would change nothing."""
    import ast
    from pathlib import Path

    import jupytext

    from siakit.report.jobs import load_runs

    for job in load_runs(Path(runs_file), Path(".")):
        if job.kind != "chapter" or not job.parameters:
            continue
        nb = jupytext.read(job.source)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        names = {t.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign) for t in node.targets}
        assert set(job.parameters) <= names, (job.name, set(job.parameters) - names)
