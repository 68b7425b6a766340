#!/usr/bin/env bash
# Salut's CUDA backend against llama.cpp's, side by side, on one GPU machine.
#
# Run from the repo root on the GPU machine, with third_party_bench (the stripped llama.cpp
# source) and .whl (the gguf wheel) carried:
#
#   bash bench/cuda_side_by_side.sh                 # everything (the build is skipped when done)
#   bash bench/cuda_side_by_side.sh --build-only    # only configure + build llama-bench (CUDA)
#   bash bench/cuda_side_by_side.sh --no-build      # fail instead of building llama-bench
#   bash bench/cuda_side_by_side.sh --skip-llamacpp # models + salut only
#
# Phases (each one timed):
#   1. gguf wheel -> /tmp/site (PYTHONPATH)
#   2. random Llama-3-8B-shaped models by tools/make_random_llama.py, both in the background
#      while llama.cpp builds:
#        $WORK/rl8b-mlx        MLX 4-bit affine, group 64 (for salut)
#        $WORK/rl8b-q4_0.gguf  GGUF, Q4_0 everywhere (for llama.cpp)
#      both ~4.5 bits per weight, ~4.3 GB each. Skipped when made before with the same
#      script and MODEL_ARGS (stamp files in $WORK).
#   3. llama-bench built with CUDA (arch 90 only, no all-quants flash attention, static) into
#      $LLAMA_BUILD; skipped when $LLAMA_BUILD/bin/llama-bench exists, or unpacked from
#      third_party_bench/prebuilt/llama-bench.xz when that exists (see save_prebuilt).
#   4. llama-bench pp2048 + tg128 (-ngl 99 -fa 1), then tg128 at depth 4096
#      -> $OUT/llamacpp.json (one JSON array of llama-bench's records)
#   5. salut (placeholder: the "SALUT BENCH" block below)
#
# Environment (all optional):
#   OUT               results folder (default bench/work/out)
#   WORK              where the models go (default /tmp/salut-bench); ~9 GB
#   LLAMA_BUILD       llama.cpp build folder (default /tmp/llama-cuda-build)
#   JOBS              build parallelism (default: nproc)
#   CUDA_ARCH         CMAKE_CUDA_ARCHITECTURES (default 90: H100/H200)
#   MODEL_ARGS        extra shape arguments for make_random_llama.py ("--layers 4": quick try)
#   LLAMA_BENCH_ARGS  extra llama-bench arguments for both runs (e.g. "-r 3")
#   SALUT_BENCH_CMD   a command run in the salut phase (MLX_DIR and OUT are exported to it)
set -euo pipefail

BUILD_ONLY=0 NO_BUILD=0 SKIP_LLAMACPP=0
for arg in "$@"; do
  case "$arg" in
    --build-only) BUILD_ONLY=1 ;;
    --no-build) NO_BUILD=1 ;;
    --skip-llamacpp) SKIP_LLAMACPP=1 ;;
    -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-$ROOT/bench/work/out}
WORK=${WORK:-/tmp/salut-bench}
LLAMA_SRC=$ROOT/third_party_bench/llama.cpp
PREBUILT=$ROOT/third_party_bench/prebuilt/llama-bench.xz
LLAMA_BUILD=${LLAMA_BUILD:-/tmp/llama-cuda-build}
JOBS=${JOBS:-$(nproc)}
CUDA_ARCH=${CUDA_ARCH:-90}
MODEL_ARGS=${MODEL_ARGS:-}
LLAMA_BENCH_ARGS=${LLAMA_BENCH_ARGS:-}
MLX_DIR=$WORK/rl8b-mlx
GGUF=$WORK/rl8b-q4_0.gguf
LLAMA_BENCH=$LLAMA_BUILD/bin/llama-bench
export PATH=/usr/local/cuda/bin:$PATH
mkdir -p "$OUT" "$WORK"

gpu_name() { local n; n=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | paste -sd, -) || true; echo "${n:-none}"; }
secs_since() { local ms=$(( ($(date +%s%N) - $1) / 1000000 )); printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)); }
T_ALL=$(date +%s%N)
phase() { PHASE=$1; T0=$(date +%s%N); echo "=== [$PHASE] start $(date +%T)"; }
done_phase() { echo "=== [$PHASE] done in $(secs_since "$T0")"; }

echo "=== GPU: $(gpu_name)"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>/dev/null || true

# --------------------------------------------------------------------------- llama.cpp build
build_llama() {
  if [[ -x $LLAMA_BENCH ]]; then echo "=== llama-bench already built: $LLAMA_BENCH"; return; fi
  if [[ -f $PREBUILT && $BUILD_ONLY == 0 ]]; then
    mkdir -p "$(dirname "$LLAMA_BENCH")"
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
      "$PREBUILT" "$LLAMA_BENCH"
    chmod +x "$LLAMA_BENCH"
    echo "=== llama-bench unpacked from $PREBUILT"
    return
  fi
  if [[ $NO_BUILD == 1 ]]; then echo "llama-bench is not built ($LLAMA_BENCH) and --no-build was given" >&2; exit 1; fi
  [[ -f $LLAMA_SRC/CMakeLists.txt ]] || { echo "no $LLAMA_SRC: carry third_party_bench" >&2; exit 1; }
  phase "llama.cpp configure"
  cmake -S "$LLAMA_SRC" -B "$LLAMA_BUILD" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$CUDA_ARCH" \
    -DGGML_CUDA_FA=ON -DGGML_CUDA_FA_ALL_QUANTS=OFF -DGGML_CUDA_NCCL=OFF \
    -DGGML_NATIVE=OFF -DGGML_CCACHE=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF >"$OUT/llamacpp_build.log" 2>&1 \
    || { tail -40 "$OUT/llamacpp_build.log"; exit 1; }
  done_phase
  phase "llama.cpp build (-j$JOBS, target llama-bench)"
  ninja -C "$LLAMA_BUILD" -j"$JOBS" llama-bench >>"$OUT/llamacpp_build.log" 2>&1 \
    || { tail -60 "$OUT/llamacpp_build.log"; exit 1; }
  done_phase
  ls -la "$LLAMA_BENCH"
}

# The built binary, stripped and xz-compressed into $OUT when it fits what comes back
# (16 MiB a file): put it at third_party_bench/prebuilt/llama-bench.xz to skip the build.
save_prebuilt() {
  python3 - "$LLAMA_BENCH" "$OUT/llama-bench.xz" <<'PY'
import lzma, os, shutil, subprocess, sys, tempfile
src, dst = sys.argv[1:3]
with tempfile.TemporaryDirectory() as d:
    tmp = os.path.join(d, "llama-bench")
    shutil.copy(src, tmp)
    subprocess.run(["strip", tmp], check=False)
    data = open(tmp, "rb").read()
packed = lzma.compress(data, preset=6)
print(f"llama-bench: {len(data) / 2**20:.1f} MiB, xz {len(packed) / 2**20:.1f} MiB")
if len(packed) < 16 * 2**20:
    open(dst, "wb").write(packed)
    print(f"saved {dst}: copy it to third_party_bench/prebuilt/llama-bench.xz to skip the build next time")
else:
    print("too big to come back through $OUT: not saved")
PY
}

if [[ $BUILD_ONLY == 1 ]]; then
  build_llama
  save_prebuilt
  echo "=== total $(secs_since "$T_ALL")"
  exit 0
fi

# --------------------------------------------------------------------------- models
phase "gguf wheel"
if ! python3 -c 'import gguf' 2>/dev/null; then
  ls .whl/gguf-*.whl >/dev/null 2>&1 || { echo "no .whl/gguf-*.whl: carry .whl" >&2; exit 1; }
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/gguf-*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
python3 -c 'import gguf, numpy; print("gguf", gguf.__file__, "numpy", numpy.__version__)'
done_phase

phase "model generation (MLX + GGUF, in the background)"
GEN_T0=$T0
STAMP="v1 $MODEL_ARGS $(sha256sum tools/make_random_llama.py | cut -c1-16)"
gen() {  # gen <what> <dest> <flag>
  local stamp=$WORK/.$1.stamp
  if [[ -f $stamp && "$(cat "$stamp")" == "$STAMP" ]]; then echo "$1: up to date ($2)"; return; fi
  rm -f "$stamp"
  # shellcheck disable=SC2086
  python3 tools/make_random_llama.py $MODEL_ARGS "$3" "$2" && echo "$STAMP" >"$stamp"
}
gen mlx "$MLX_DIR" --mlx & P1=$!
gen gguf "$GGUF" --gguf & P2=$!
MODELS_READY=0
wait_models() {
  [[ $MODELS_READY == 1 ]] && return
  wait $P1; wait $P2
  MODELS_READY=1
  du -sh "$MLX_DIR" "$GGUF"
  echo "=== [model generation] done, $(secs_since "$GEN_T0") after it started"
}

# --------------------------------------------------------------------------- llama.cpp
if [[ $SKIP_LLAMACPP == 0 ]]; then
  build_llama
  wait_models
  phase "llama-bench pp2048 + tg128"
  # shellcheck disable=SC2086
  "$LLAMA_BENCH" -m "$GGUF" -p 2048 -n 128 -ngl 99 -fa 1 $LLAMA_BENCH_ARGS -o json \
    >"$WORK/llamacpp_pp_tg.json" 2>"$OUT/llamacpp_bench.log" || { tail -40 "$OUT/llamacpp_bench.log"; exit 1; }
  done_phase
  phase "llama-bench tg128 at depth 4096"
  # shellcheck disable=SC2086
  "$LLAMA_BENCH" -m "$GGUF" -p 0 -n 128 -d 4096 -ngl 99 -fa 1 $LLAMA_BENCH_ARGS -o json \
    >"$WORK/llamacpp_tg_d4096.json" 2>>"$OUT/llamacpp_bench.log" || { tail -40 "$OUT/llamacpp_bench.log"; exit 1; }
  done_phase
  # one JSON array with the records of both runs, and a summary table
  python3 - "$WORK/llamacpp_pp_tg.json" "$WORK/llamacpp_tg_d4096.json" "$OUT/llamacpp.json" <<'PY'
import json, sys
rows = [r for f in sys.argv[1:3] for r in json.load(open(f))]
json.dump(rows, open(sys.argv[3], "w"), indent=2)
if rows:
    print(f"llama.cpp {rows[0].get('build_commit')} on {rows[0].get('gpu_info')}, {rows[0].get('model_type')}")
print(f"{'test':<16} {'tok/s':>10} {'+-':>8}")
for r in rows:
    name = f"pp{r['n_prompt']}" if r["n_prompt"] else f"tg{r['n_gen']}"
    if r.get("n_depth"):
        name += f" @ d{r['n_depth']}"
    print(f"{name:<16} {r['avg_ts']:>10.2f} {r['stddev_ts']:>8.2f}")
PY
fi

# --------------------------------------------------------------------------- salut
wait_models
# ##########################################################################################
# ### SALUT BENCH: add the salut CUDA benchmark command here.                            ###
# ### The MLX model of the same shape is $MLX_DIR; write results to $OUT/salut.json.     ###
# ### Same tests as llama.cpp: a 2048-token prompt + 128 decoded tokens, and 128 decoded ###
# ### tokens after 4096 tokens of context.                                               ###
# ##########################################################################################
if [[ -n ${SALUT_BENCH_CMD:-} ]]; then
  phase "salut"
  MLX_DIR=$MLX_DIR OUT=$OUT bash -c "$SALUT_BENCH_CMD"
  done_phase
else
  echo "=== [salut] not wired yet (set SALUT_BENCH_CMD or edit the SALUT BENCH block); model: $MLX_DIR"
fi

echo "=== GPU: $(gpu_name)"
echo "=== total $(secs_since "$T_ALL")"
