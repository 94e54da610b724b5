"""Full-size end-to-end check of the model zoo, and its per-sound CPU cost.

For each model, writes a FULL-SIZE checkpoint with random weights in the model's real format
(YAMNet Keras h5; a ClapModel and the transformers models from their real configurations, with
save_pretrained), then runs the real command on the embedded set:

    audioprobe-eval --model NAME --model-args checkpoint=PATH --tasks all --output-dir OUT --no-cache

and reports the extraction time per sound read from the result files (timing.extract_s /
dataset.n_sounds). Random weights: the scores it prints are meaningless; this checks that every
model runs the whole pipeline at full size, and what it costs.

    python benchmarks/bench_zoo.py [--models yamnet,clap,...] [--ckpt-dir /tmp/zoo-ckpt] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch


def whisper_base_config():
    """openai/whisper-base architecture (its config.json: d_model 512, 6+6 layers, 8 heads, 80 mels)."""
    from transformers import WhisperConfig

    return WhisperConfig(d_model=512, encoder_layers=6, encoder_attention_heads=8, encoder_ffn_dim=2048,
                         decoder_layers=6, decoder_attention_heads=8, decoder_ffn_dim=2048, num_mel_bins=80,
                         vocab_size=51865, max_source_positions=1500, max_target_positions=448)


def write_checkpoint(name: str, folder: Path) -> Path:
    """A full-size random checkpoint of `name` in its real format; returns the checkpoint= path."""
    import transformers as tf

    from audioprobe.models import yamnet

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    if name == "yamnet":
        path = folder / "yamnet.h5"
        yamnet.write_h5(path, yamnet.random_weights(seed=0))
        return path
    # transformers' default configs of these families are the base models' architectures
    if name == "clap":
        net, fe = tf.ClapModel(tf.ClapConfig()), tf.ClapFeatureExtractor(truncation="rand_trunc")
    elif name == "wav2vec2-base":
        net, fe = tf.Wav2Vec2ForPreTraining(tf.Wav2Vec2Config()), tf.Wav2Vec2FeatureExtractor(return_attention_mask=False)
    elif name == "hubert-base":
        net, fe = tf.HubertModel(tf.HubertConfig()), tf.Wav2Vec2FeatureExtractor(return_attention_mask=False)
    elif name == "wavlm-base-plus":
        net, fe = tf.WavLMModel(tf.WavLMConfig()), tf.Wav2Vec2FeatureExtractor(return_attention_mask=True)
    elif name == "data2vec-audio-base":
        net, fe = tf.Data2VecAudioModel(tf.Data2VecAudioConfig()), tf.Wav2Vec2FeatureExtractor(return_attention_mask=True)
    elif name == "ast-audioset":
        net, fe = tf.ASTForAudioClassification(tf.ASTConfig(num_labels=527)), tf.ASTFeatureExtractor()
    elif name == "whisper-base-encoder":
        net, fe = tf.WhisperForConditionalGeneration(whisper_base_config()), tf.WhisperFeatureExtractor()
    else:
        raise ValueError(name)
    net.save_pretrained(folder)
    fe.save_pretrained(folder)
    return folder


MODELS = ["yamnet", "clap", "wav2vec2-base", "hubert-base", "wavlm-base-plus", "data2vec-audio-base",
          "ast-audioset", "whisper-base-encoder", "hear:hear_toy"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--ckpt-dir", type=Path, default=Path("/tmp/zoo-ckpt"))
    ap.add_argument("--output-dir", type=Path, default=Path("/tmp/zoo-results"))
    ap.add_argument("--tasks", default="all")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = ap.parse_args()
    from audioprobe.results import safe_name

    rows = []
    for name in args.models.split(","):
        env = dict(os.environ)
        if name.startswith("hear:"):  # the toy HEAR module of the test suite, as an installed package
            env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "tests") + os.pathsep + env.get("PYTHONPATH", "")
            model_args = []
        else:
            t = time.perf_counter()
            ckpt = write_checkpoint(name, args.ckpt_dir / name)
            print(f"{name}: wrote {ckpt} in {time.perf_counter() - t:.1f} s", flush=True)
            model_args = ["--model-args", f"checkpoint={ckpt}"]
        load = os.getloadavg()
        t = time.perf_counter()
        cli = [sys.executable, "-c", "import sys; from audioprobe.cli import main; sys.exit(main())"]  # audioprobe-eval, any venv
        proc = subprocess.run([*cli, "--model", name, *model_args, "--tasks", args.tasks, "--device", args.device,
                               "--output-dir", str(args.output_dir), "--no-cache", "--overwrite"],
                              env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            print(f"{name}: FAILED (exit {proc.returncode})\n{proc.stderr[-2000:]}", flush=True)
            rows.append((name, None, None, wall, load[0]))
            continue
        results = [json.loads(p.read_text()) for p in args.output_dir.glob(f"*/{safe_name(name)}/*.json")]  # DIR/<set>-<fp8>/<model>/
        computed = [r for r in results if not r["timing"]["activations_cached"]]
        r = computed[0] if computed else results[0]
        per_sound = r["timing"]["extract_s"] / r["dataset"]["n_sounds"]
        rows.append((name, len(results), per_sound, wall, load[0]))
        print(f"{name}: {len(results)} results, {per_sound:.3f} s/sound extraction, {wall:.0f} s wall, "
              f"load {load[0]:.2f}", flush=True)
    print("\n| model | results | extraction s/sound | wall s | load (1 min) |\n| --- | --- | --- | --- | --- |")
    for name, n, ps, wall, load in rows:
        print(f"| {name} | {n if n is not None else 'FAILED'} | {'' if ps is None else f'{ps:.3f}'} | {wall:.0f} | {load:.2f} |")
    print(f"\ntorch threads {torch.get_num_threads()}, cpu count {os.cpu_count()}, python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
