"""Throughput of full-size BEATs (random weights) on the embedded `impacts` set: one JSON line.

Measures, in the same run and on the same batches:
- `harness`: the harness path (`audioprobe.extract.run_model`: batch assembly, forward, pooling);
- `bare`: the wrapper's forward alone on pre-assembled batches already on the device;
- the achieved useful FLOP rate of the bare forward (FLOPs counted analytically per sound, padding
  excluded; cross-checked on the first batch with torch.utils.flop_counter) and a large fp32
  matmul's rate on the same device, and their ratio.

    python benchmarks/bench_beats.py [--device cpu|cuda] [--batch-size 16] [--precision fp32|fp16|bf16]

Timings are the best of `--repeats` interleaved runs in alternating order, and the matmul rate the
best measured between them (the machine may be shared: the load average is reported).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from audioprobe.extract import PRECISIONS, batches_by_length, prepare_waveforms, run_model
from audioprobe.frontend import FrontEnd
from audioprobe.models.beats import FBANK
from audioprobe.models.fbank import num_frames
from audioprobe.models.registry import create_model
from audioprobe.runner import resolve_device
from audioprobe.stimuli import resolve_dataset


def beats_flops(cfg: dict, n_tokens: int) -> float:
    """Multiply-adds x 2 of one sound with n_tokens tokens (matmuls and convolutions only)."""
    n, e, d, f, p = n_tokens, cfg["embed_dim"], cfg["encoder_embed_dim"], cfg["encoder_ffn_embed_dim"], cfg["input_patch_size"]
    total = 2 * n * e * p * p  # patch embedding
    total += 2 * n * e * d if e != d else 0  # post_extract_proj
    total += 2 * n * d * (d // cfg["conv_pos_groups"]) * cfg["conv_pos"]  # conv positional embedding
    per_layer = 2 * n * (4 * d * d + 2 * d * f)  # q, k, v, out projections and the feed-forward
    per_layer += 2 * 2 * n * n * d  # q k^T and attention x v
    per_layer += 2 * n * d * 8 if cfg["gru_rel_pos"] else 0  # grep_linear, 8 outputs per head
    total += cfg["encoder_layers"] * per_layer
    if cfg["finetuned_model"]:
        total += 2 * n * d * cfg["predictor_class"]
    return float(total)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matmul_gflops(device: str, n: int = 4096, repeats: int = 3) -> float:
    """Best rate of an n x n fp32 matmul (2 n^3 FLOPs) on the device."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--precision", default="fp32", choices=list(PRECISIONS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N sounds")
    args = ap.parse_args()
    device = resolve_device(args.device)

    model = create_model("random-beats", {}, device)
    model.load()
    stimset = resolve_dataset("impacts")
    if args.limit:
        stimset = stimset.head(args.limit)
    waves = prepare_waveforms(stimset, FrontEnd(model.meta.sample_rate))
    lengths = [len(w) for w in waves]
    batches = []
    for idx in batches_by_length(lengths, args.batch_size):
        batch = torch.zeros(len(idx), max(lengths[i] for i in idx))
        for row, i in enumerate(idx):
            batch[row, : lengths[i]] = torch.from_numpy(waves[i])
        batches.append((batch.to(device), torch.tensor([lengths[i] for i in idx], device=device)))

    cfg = model.net.cfg
    tokens = num_frames(torch.tensor(lengths), FBANK) // cfg["input_patch_size"] * (FBANK.num_mel_bins // cfg["input_patch_size"])
    flops = sum(beats_flops(cfg, int(t)) for t in tokens)
    dtype = PRECISIONS[args.precision]

    def bare() -> None:
        with torch.inference_mode(), torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None):
            for batch, lens in batches:
                model.forward(batch, lens)
        sync(device)

    def harness() -> None:
        run_model(model, waves, ["mean"], args.batch_size, progress=False, precision=args.precision)

    with torch.inference_mode():  # warm-up, and the FLOP counter's view of the first batch
        with FlopCounterMode(display=False) as counter:
            model.forward(*batches[0])
    first_counted = counter.get_total_flops()
    first_analytic = sum(beats_flops(cfg, int(t)) for t in tokens[batches_by_length(lengths, args.batch_size)[0]])
    bare()

    best = {"harness": float("inf"), "bare": float("inf")}
    cpu = {"harness": float("inf"), "bare": float("inf")}  # process CPU time: less sensitive to other users
    matmul = 0.0
    order = [("harness", harness), ("bare", bare)]
    for r in range(args.repeats):  # interleaved, order alternating, so load changes hit both alike
        for name, fn in order if r % 2 == 0 else order[::-1]:
            start, cpu0 = time.perf_counter(), time.process_time()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
            cpu[name] = min(cpu[name], time.process_time() - cpu0)
        matmul = max(matmul, matmul_gflops(device))
    n = len(waves)
    achieved = flops / best["bare"] / 1e9
    print(json.dumps({
        "benchmark": "beats-random-full-size", "dataset": stimset.name, "n_sounds": n,
        "clip_s": round(sum(lengths) / n / model.meta.sample_rate, 4), "device": device,
        "device_name": torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(), "batch_size": args.batch_size, "precision": args.precision,
        "harness_sounds_per_s": round(n / best["harness"], 2), "bare_sounds_per_s": round(n / best["bare"], 2),
        "harness_over_bare": round(best["harness"] / best["bare"], 4),
        "gflop_per_sound": round(flops / n / 1e9, 3),
        "flop_counter_vs_analytic_first_batch": round(first_counted / first_analytic, 4),
        "achieved_gflops": round(achieved, 1), "matmul_gflops": round(matmul, 1),
        "fraction_of_matmul": round(achieved / matmul, 3),
        "harness_over_bare_cpu_time": round(cpu["harness"] / cpu["bare"], 4),
        "cpu_s_per_sound_bare": round(cpu["bare"] / n, 4), "wall_s_per_sound_bare": round(best["bare"] / n, 4),
        "loadavg_1m": round(os.getloadavg()[0], 2), "repeats": args.repeats,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
