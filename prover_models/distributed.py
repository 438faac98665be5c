"""Several processes training one model: torchrun's environment, and the few collectives a trainer needs.

``torchrun --nproc_per_node N -m prover_data train-sft NAME`` starts N copies of the
command with ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` set. ``join`` reads them and
opens the process group (gloo on CPU, NCCL on CUDA, one GPU per local rank); a plain
``prover-data train-sft`` is a world of one, with no process group and no collective.

Every rank computes the same plan of steps (``batching.StepPlan``) and takes its share
of each step's micro-batches, so ranks exchange numbers, never data. Only rank 0
(``primary``) writes files and talks to the user.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.distributed as dist

from prover_data.errors import InputError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this World opened the process group, so closes it

    @property
    def primary(self) -> bool:
        return self.rank == 0

    def sum(self, values: list[float], device: str = "cpu") -> list[float]:
        """Element-wise sum of ``values`` over the ranks (float64, so the order of ranks hardly matters)."""
        if self.size == 1:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order (on every rank)."""
        if self.size == 1:
            return [obj]
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def together(self, fn: Callable[[], Any]) -> Any:
        """``fn()``; when it raises ``InputError`` on any rank, every rank raises it.

        Without this a rank that finds bad input would exit while the others wait at
        their first collective for one that never comes.
        """
        try:
            value, problems = fn(), None
        except InputError as e:
            if self.size == 1:
                raise
            value, problems = None, e.problems
        for found in self.gather(problems):
            if found is not None:
                raise InputError(list(found))
        return value

    def barrier(self) -> None:
        """Every rank reaches this point before any goes on.

        A finished run passes it before the group closes: a rank that tore the group
        down while rank 0 was still writing its results aborted in gloo's threads at
        exit ("terminate called without an active exception"), failing the run.
        """
        if self.size > 1:
            dist.barrier()

    def close(self) -> None:
        if self.owns_group:
            dist.destroy_process_group()


def launched_rank() -> int:
    """This process's rank as torchrun set it (0 outside torchrun): who may print, before ``join``."""
    return int(os.environ.get("RANK", "0"))


def join(device: str) -> tuple[World, str]:
    """The world torchrun started this process in, and this rank's device (``cuda:LOCAL_RANK``)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World(), device
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return World(rank, size, local_rank, owns), device


def wrap(model, world: World, device: str):
    """``model`` under DistributedDataParallel (gradients averaged over ranks), or itself in a world of one."""
    if world.size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [torch.device(device).index] if device.startswith("cuda") else None
    return DistributedDataParallel(model, device_ids=ids)
