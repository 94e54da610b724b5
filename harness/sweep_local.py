"""A sweep's local launcher: its jobs in worker processes on this machine (`--launcher local --max-parallel N`).

Beside `sweep_slurm`, the SLURM side; `launch` plans the sweep and waits for its jobs either way. Each worker
gets one GPU (round robin, where there are GPUs) and ends itself when the sweep's process is gone: it holds a
model and its activations, and would otherwise finish its job for nobody.
"""

from __future__ import annotations

import os
import time

#: Seconds between a local sweep worker's checks that the sweep's process still runs.
WATCH_PARENT_S = 2.0


def _init_worker(gpus) -> None:
    """A worker's start: its GPU (one from the queue `gpus`, where there are GPUs), and the watch on its parent."""
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpus.get())
    _watch_parent(os.getppid())


def _watch_parent(parent: int) -> None:
    """End this worker when the sweep's process is gone (killed, even with SIGKILL, which runs no clean-up): a
    worker holds a model and its activations (hundreds of MB) and would otherwise finish its job for nobody."""
    import threading

    def watch():
        while True:
            time.sleep(WATCH_PARENT_S)
            if os.getppid() != parent:  # re-parented: the sweep's process has died
                os._exit(3)

    threading.Thread(target=watch, name="audioprobe-watch-parent", daemon=True).start()


def _visible_gpus() -> list[str]:
    """The GPUs this process may hand out to workers (CUDA_VISIBLE_DEVICES, else all torch sees); none without CUDA."""
    try:
        import torch

        n = torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no torch CUDA: no GPUs to hand out
        n = 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [g.strip() for g in visible.split(",") if g.strip()] if visible else [str(i) for i in range(n)]
    return ids[:n]


def start_local_pool(job, indices: list[int], max_parallel: int):
    """(pool, futures by job index, GPUs handed out): `job(index)` for every index, in `max_parallel` spawned worker
    processes that share the GPUs this process sees round robin, one each."""
    import concurrent.futures
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    gpus = _visible_gpus()
    queue = None
    if gpus:
        queue = ctx.Queue()
        for k in range(max_parallel):
            queue.put(gpus[k % len(gpus)])
    pool = concurrent.futures.ProcessPoolExecutor(max_parallel, mp_context=ctx, initializer=_init_worker,
                                                  initargs=(queue,))
    futures = {index: pool.submit(job, index) for index in indices}
    return pool, futures, gpus
