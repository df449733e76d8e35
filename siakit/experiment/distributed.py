"""Data parallelism for `siakit run` and `siakit score` on torch.distributed: one model replica per
process, a disjoint share of the work each, no communication but barriers.

Launch either command under `torchrun` (or `accelerate launch`, which sets the same variables):

    torchrun --standalone --nproc-per-node 8 -m siakit run --model M --dataset gsm8k --n 500 --device cuda
    torchrun --nnodes 4 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 -m siakit run ...

How the work is split, and why the result equals a 1-process run:

- The items (problems, or traces) are cut into blocks of one batch (`batch_size` problems, or
  `score_batch` / `--shard-traces` traces), in file order; block `b` goes to rank `b % world_size`.
  With a batch of 1 this is plain round-robin by index. Whole blocks keep every batch made of the same
  items as in a 1-process run, so padding and packing, and hence every float, are the same: an
  N-process float32 CPU run is bit-identical to a 1-process one.
- The share depends only on an item's index, never on what is already stored, so it is stable under
  resume; stored ids are skipped afterwards. A resume with another world size works: every rank reads
  every shard.
- Each rank writes its own shards, named `part-00003-rank00001.jsonl`, into the same results store,
  so nothing is overwritten. Rank 0 alone writes the manifest (and `traces.jsonl`, and `siakit
  score`'s output), after a barrier where it needs the others' shards.
- Ranks pin themselves to `cuda:LOCAL_RANK`; the backend is NCCL on GPUs, gloo on CPU.

    >>> share(list("abcdefg"), rank=1, world_size=2, block=2)
    ['c', 'd', 'g']
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Sequence, TypeVar

from siakit.experiment.store import ResultsStore

T = TypeVar("T")

# A rank waits this long at a barrier for the slowest rank (a whole generation pass of its share on a
# CPU can take an hour); torchrun kills the survivors at once when a rank dies, so this only bounds a hang.
BARRIER_TIMEOUT = timedelta(hours=6)


def share(items: Sequence[T], rank: int, world_size: int, block: int = 1) -> list[T]:
    """The items of `rank`: blocks of `block` consecutive items, dealt round-robin to the ranks.

    share([0, 1, 2, 3, 4], rank=0, world_size=2) -> [0, 2, 4]
    share([0, 1, 2, 3, 4], rank=0, world_size=2, block=2) -> [0, 1, 4]
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in a world of size {world_size}")
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    return [x for i, x in enumerate(items) if (i // block) % world_size == rank]


class RankStore(ResultsStore):
    """A results store whose new shards carry the writer's rank, so ranks never overwrite each other.
    Reading is unchanged: every rank (and any later run, of any world size) reads every shard."""

    def __init__(self, path: str | os.PathLike, rank: int):
        super().__init__(path)
        self.rank = rank

    def _next_shard(self, table: str, suffix: str) -> Path:
        # Numbered among this rank's own shards only: no other process ever writes this name.
        mine = sorted((self.path / table).glob(f"part-*-rank{self.rank:05d}{suffix}"))
        index = int(mine[-1].name[5:10]) + 1 if mine else 0
        return self.path / table / f"part-{index:05d}-rank{self.rank:05d}{suffix}"


@dataclass
class Ranks:
    """This process's place in the job: from torchrun's environment, or a world of one."""
    rank: int = 0          # global rank (RANK)
    world_size: int = 1    # processes in the job (WORLD_SIZE)
    local_rank: int = 0    # rank on this node (LOCAL_RANK): picks the GPU
    backend: str | None = None  # "gloo" or "nccl" once a process group is up; None for one process

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def share(self, items: Sequence[T], block: int = 1) -> list[T]:
        return share(items, self.rank, self.world_size, block)

    def store(self, path: str | os.PathLike) -> ResultsStore:
        """A plain store for one process (its shard names unchanged), a RankStore under torchrun."""
        return RankStore(path, self.rank) if self.active else ResultsStore(path)

    def device(self, device: str) -> str:
        """`cuda` or `cuda:N` becomes this rank's `cuda:LOCAL_RANK`; a CPU stays a CPU."""
        if self.active and device.startswith("cuda"):
            return f"cuda:{self.local_rank}"
        return device

    def barrier(self) -> None:
        if not self.active:
            return
        import torch.distributed as dist

        if self.backend == "nccl":
            dist.barrier(device_ids=[self.local_rank])
        else:
            dist.barrier()

    def close(self) -> None:
        """Leave the process group (the last call of a command); a no-op for one process."""
        if self.active:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer (set by torchrun)") from None


def setup(device: str = "cpu") -> Ranks:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT),
    with NCCL when `device` is a GPU and gloo otherwise; without torchrun, a world of one.

    Idempotent: a second call in the same process reuses the group (e.g. `run_experiment` called by a
    command that already joined)."""
    world_size = _env_int("WORLD_SIZE", 1)
    ranks = Ranks(rank=_env_int("RANK", 0), world_size=world_size, local_rank=_env_int("LOCAL_RANK", 0))
    if not ranks.active:
        return ranks
    import torch
    import torch.distributed as dist

    gpu = device.startswith("cuda")
    if gpu:
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device} under torchrun, but this process sees no GPU")
        torch.cuda.set_device(ranks.local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if gpu else "gloo", timeout=BARRIER_TIMEOUT,
                                **({"device_id": torch.device("cuda", ranks.local_rank)} if gpu else {}))
    ranks.backend = dist.get_backend()
    return ranks
