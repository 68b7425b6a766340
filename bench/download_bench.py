#!/usr/bin/env python3
"""Download speed: `salut pull` against `curl` on the same stand-in Hub, in the same run.

Serves a 1 GB model file from tests/integration/fake_hub.py on 127.0.0.1 (with the Hub's LFS
redirect to a second "CDN" port), then alternates curl (-L, to a file) and `salut pull` (into a
fresh HF cache: API calls, HEAD, transfer, sha256 and rename included) a few times. Prints the
median rates and their ratio and writes them to bench/results/download.json.

    .venv/bin/python bench/download_bench.py [--size-mb 1000] [--runs 3]
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work" / "download"


def make_model(folder: Path, size: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"model_type": "llama"}')
    weights = folder / "model.safetensors"
    if weights.exists() and weights.stat().st_size == size:
        return
    block = os.urandom(16 << 20)
    with open(weights, "wb") as out:
        left = size
        while left > 0:
            out.write(block[: min(left, len(block))])
            left -= len(block)


def timed(cmd, env=None) -> float:
    os.sync()  # the previous run's dirty pages must not throttle this one's writes
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--salut", default=str(ROOT / "build" / "salut"))
    args = parser.parse_args()
    size = args.size_mb * 1_000_000

    model = WORK / "repo"
    make_model(model, size)
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "integration" / "fake_hub.py"), "--repo", f"bench/model={model}"],
        stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        file_url = f"{url}/bench/model/resolve/main/model.safetensors"
        curl_out = WORK / "curl.out"
        cache = WORK / "hf-cache"
        env = dict(os.environ, HF_ENDPOINT=url, HF_HUB_CACHE=str(cache), SALUT_HOME=str(WORK / "salut-home"))
        env.pop("HF_HUB_OFFLINE", None)
        # One unmeasured transfer brings the file into the page cache for both clients.
        timed(["curl", "-sS", "-L", "-o", str(curl_out), file_url])
        curl_times, salut_times = [], []
        for _ in range(args.runs):
            curl_out.unlink(missing_ok=True)
            curl_times.append(timed(["curl", "-sS", "-L", "-o", str(curl_out), file_url]))
            shutil.rmtree(cache, ignore_errors=True)
            salut_times.append(timed([args.salut, "pull", "-q", "bench/model"], env=env))
        curl_out.unlink(missing_ok=True)
        shutil.rmtree(cache, ignore_errors=True)
    finally:
        server.terminate()
        server.wait()

    curl_rate = size / statistics.median(curl_times) / 1e6
    salut_rate = size / statistics.median(salut_times) / 1e6
    result = {
        "benchmark": "download, 1 file over loopback from the stand-in Hub (LFS redirect to a second port)",
        "size_bytes": size,
        "runs": args.runs,
        "curl_seconds": curl_times,
        "salut_seconds": salut_times,
        "curl_MB_s": round(curl_rate, 1),
        "salut_MB_s": round(salut_rate, 1),
        "ratio_salut_over_curl": round(salut_rate / curl_rate, 3),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d"),
        "command": "bench/download_bench.py " + " ".join(sys.argv[1:]),
    }
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "download.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
