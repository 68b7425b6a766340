#!/usr/bin/env python3
"""Salut's CPU backend against mlx-lm's CPU backend, side by side, on the same model files.

Models: the demo SmolLM2-135M-Instruct 4-bit (models/), and a 1B-parameter Llama-shaped model
with random weights, quantized 4-bit (group 64) and saved by mlx-lm's own classes as
`mlx_lm.convert` would write it (made once, cached in bench/work/, which git ignores).

For each model, in one run and alternating between the two so that both see the same machine:
  salut:  `salut bench <model> --json` (prefill of a 512-token random prompt, decode of 128
          tokens, the bytes each decode step reads (weights + the KV cache up to its position),
          and this machine's memory bandwidth, measured by it)
  mlx-lm: `mlx_lm.stream_generate` on the same random prompt, its own prompt_tps and
          generation_tps, on MLX's CPU device; once with the model as written (bf16/f16
          scales and activations) and once cast to float32 (MLX's CPU kernels are much faster
          in f32, so that is how one would run mlx-lm on a CPU).
Medians over --trials. Writes bench/results/cpu.json and prints the ratios.

mlx-lm's generation_tps counts n + 1 tokens over the n steps after the first token; salut
counts steps (n / time), which favours mlx-lm by one token in 128.

Run: .venv/bin/python bench/cpu_vs_mlx.py [--trials 3] [--salut build/salut] [--skip-1b]
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results" / "cpu.json"
SMOLLM = ROOT / "models" / "SmolLM2-135M-Instruct-4bit"
LLAMA_1B = WORK / "llama-1b-random-4bit"

LLAMA_1B_CONFIG = {
    "model_type": "llama",
    "hidden_size": 2048,
    "num_hidden_layers": 16,
    "intermediate_size": 8192,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 64,
    "rms_norm_eps": 1e-5,
    "vocab_size": 32000,
    "rope_theta": 500000.0,
    "max_position_embeddings": 4096,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "eos_token_id": 2,
    "bos_token_id": 1,
}


def make_llama_1b():
    """A random Llama of ~1.1B parameters, cast to bf16, quantized 4-bit g64, saved: what
    `mlx_lm.convert --quantize` does with a real checkpoint."""
    if (LLAMA_1B / "config.json").exists():
        return
    import mlx.core as mx
    from mlx.utils import tree_map_with_path
    from mlx_lm.models import llama
    from mlx_lm.utils import quantize_model, save_config, save_model

    print(f"making {LLAMA_1B} (once)", flush=True)
    mx.random.seed(0)
    config = dict(LLAMA_1B_CONFIG)
    model = llama.Model(llama.ModelArgs.from_dict(config))
    # as convert does: floating parameters to the config's dtype, then quantize
    model.update(tree_map_with_path(lambda _, v: v.astype(mx.bfloat16), model.parameters()))
    model, config = quantize_model(model, config, group_size=64, bits=4)
    tmp = LLAMA_1B.with_name(LLAMA_1B.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(tmp, model, donate_model=True)
    save_config(config, config_path=tmp / "config.json")
    # mlx_lm.load wants a tokenizer: borrow SmolLM2's (its IDs cover this vocabulary)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (SMOLLM / name).exists():
            shutil.copy(SMOLLM / name, tmp / name)
    tmp.rename(LLAMA_1B)


# Runs in a fresh interpreter per measurement, so MLX's memory and threads start clean.
MLX_RUN = r"""
import json, sys, time
import mlx.core as mx
from mlx_lm import load, stream_generate
path, prompt_len, tokens, as_f32 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
mx.set_default_device(mx.cpu)
model, tokenizer = load(path)
if as_f32:
    model.set_dtype(mx.float32)
tokenizer._eos_token_ids = set()
vocab = model.args.vocab_size
mx.random.seed(1234)
prompt = mx.random.randint(0, vocab, (prompt_len,)).tolist()
for _ in stream_generate(model, tokenizer, prompt[:16], max_tokens=4):  # warm up, page weights in
    pass
last = None
for last in stream_generate(model, tokenizer, prompt, max_tokens=tokens):
    pass
print(json.dumps({"prefill_tok_s": last.prompt_tps, "decode_tok_s": last.generation_tps,
                  "generated": last.generation_tokens, "peak_memory_gb": last.peak_memory}))
"""


def run_mlx(model: Path, prompt: int, tokens: int, as_f32: bool) -> dict:
    out = subprocess.run([sys.executable, "-c", MLX_RUN, str(model), str(prompt), str(tokens), "1" if as_f32 else "0"],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_salut(salut: Path, model: Path, prompt: int, tokens: int, threads: int) -> dict:
    cmd = [str(salut), "bench", str(model), "--json", "--prompt", str(prompt), "--tokens", str(tokens)]
    if threads:
        cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def median_of(runs: list, key: str) -> float:
    return statistics.median(r[key] for r in runs)


def machine() -> dict:
    info = {"platform": platform.platform(), "cores": os.cpu_count(), "python": platform.python_version()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        flags = next(l for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("flags"))
        info["simd"] = [f for f in ("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl") if f" {f}" in flags]
        mem = next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
        info["memory_gb"] = round(int(mem.split()[1]) / 1e6, 1)
        info["load_average_at_start"] = os.getloadavg()
    except (OSError, StopIteration):
        pass
    import mlx.core as mx
    import mlx_lm

    info["mlx"] = mx.__version__
    info["mlx_lm"] = mlx_lm.__version__
    return info


def git_commit() -> str:
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "src/backend"], capture_output=True,
                               text=True).stdout
        return commit.strip() + ("+uncommitted src/backend changes" if dirty.strip() else "")
    except OSError:
        return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--salut", default=str(ROOT / "build" / "salut"))
    parser.add_argument("--trials", type=int, default=3, help="alternating runs of each; medians reported")
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=0, help="salut's threads (default: all cores)")
    parser.add_argument("--skip-1b", action="store_true")
    parser.add_argument("--skip-mlx-f32", action="store_true")
    parser.add_argument("--skip-mlx-native", action="store_true",
                        help="skip mlx-lm in the model's own dtype (f16/bf16 on MLX's CPU backend is very slow)")
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()

    models = {"SmolLM2-135M-Instruct-4bit": SMOLLM}
    if not args.skip_1b:
        make_llama_1b()
        models["llama-1b-random-4bit"] = LLAMA_1B

    report = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "commit": git_commit(),
              "machine": machine(), "settings": vars(args), "models": {}}
    for name, path in models.items():
        runs = {"salut": [], "mlx": [], "mlx_f32": []}
        for trial in range(args.trials):
            print(f"{name}: trial {trial + 1}/{args.trials}", flush=True)
            runs["salut"].append(run_salut(Path(args.salut), path, args.prompt, args.tokens, args.threads))
            print(f"  salut   decode {runs['salut'][-1]['decode_tok_s']:.2f} tok/s", flush=True)
            if not args.skip_mlx_native:
                runs["mlx"].append(run_mlx(path, args.prompt, args.tokens, as_f32=False))
                print(f"  mlx     decode {runs['mlx'][-1]['decode_tok_s']:.2f} tok/s", flush=True)
            if not args.skip_mlx_f32:
                runs["mlx_f32"].append(run_mlx(path, args.prompt, args.tokens, as_f32=True))
                print(f"  mlx f32 decode {runs['mlx_f32'][-1]['decode_tok_s']:.2f} tok/s", flush=True)
        s = runs["salut"]
        summary = {
            "salut": {k: median_of(s, k) for k in ("prefill_tok_s", "decode_tok_s", "decode_gb_s", "copy_bandwidth_gb_s",
                                                   "read_bandwidth_gb_s", "fraction_of_copy_bandwidth",
                                                   "fraction_of_read_bandwidth")},
            "weight_bytes_per_token": s[0]["weight_bytes_per_token"],
            "kv_bytes_per_token": s[0].get("kv_bytes_per_token", 0),
            "backend": s[0]["backend"],
        }
        for variant in ("mlx", "mlx_f32"):
            if runs[variant]:
                summary[variant] = {k: median_of(runs[variant], k) for k in ("prefill_tok_s", "decode_tok_s")}
                summary[f"decode_vs_{variant}"] = summary["salut"]["decode_tok_s"] / summary[variant]["decode_tok_s"]
                summary[f"prefill_vs_{variant}"] = summary["salut"]["prefill_tok_s"] / summary[variant]["prefill_tok_s"]
        summary["runs"] = runs
        report["models"][name] = summary

    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")

    print(f"\n{'model':28} {'':8} {'prefill tok/s':>14} {'decode tok/s':>13} {'decode GB/s':>12}")
    for name, m in report["models"].items():
        sal = m["salut"]
        print(f"{name:28} {'salut':8} {sal['prefill_tok_s']:14.1f} {sal['decode_tok_s']:13.2f} {sal['decode_gb_s']:12.2f}")
        for variant in ("mlx", "mlx_f32"):
            if variant in m:
                print(f"{'':28} {variant:8} {m[variant]['prefill_tok_s']:14.1f} {m[variant]['decode_tok_s']:13.2f}")
        print(f"{'':28} decode {m.get('decode_vs_mlx', 0):.2f}x mlx-lm (as written), "
              f"{m.get('decode_vs_mlx_f32', float('nan')):.2f}x mlx-lm (f32); "
              f"{100 * sal['fraction_of_copy_bandwidth']:.0f}% of copy bandwidth "
              f"({sal['copy_bandwidth_gb_s']:.1f} GB/s), {100 * sal['fraction_of_read_bandwidth']:.0f}% of read "
              f"bandwidth ({sal['read_bandwidth_gb_s']:.1f} GB/s)")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
