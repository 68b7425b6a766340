#!/usr/bin/env python3
"""Load on salut serve: N concurrent streaming chat clients for a fixed time on one model.

Each client loops: one streamed chat completion (a short question, max_tokens tokens), read to
[DONE], then the next. Requests are served one after another for now (continuous batching comes
later), so most of the time to first token is queueing. Reports requests/s, time to first token
p50/p99, generated tokens/s, errors and dropped streams (a stream without [DONE]), and the
server's resident memory sampled every second. Writes bench/results/load.json.

Run: .venv/bin/python bench/load_test.py [--clients 64] [--seconds 60] [--max-tokens 32]
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import statistics
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "SmolLM2-135M-Instruct-4bit"
QUESTIONS = ["What is the capital of France?", "Name three colours.", "Say hello in Spanish.",
             "What is 2 + 2?", "Give me a short tip for sleeping well."]


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def rss_of(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--salut", default=str(ROOT / "build" / "salut"))
    parser.add_argument("--port", type=int, default=7391)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "load.json"))
    args = parser.parse_args()

    server = subprocess.Popen([args.salut, "serve", "--port", str(args.port), "--model", str(MODEL),
                               "--max-queue", str(args.clients * 2)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/health", timeout=1) as r:
                    if json.loads(r.read())["model"]["state"] == "ready":
                        break
            except OSError:
                pass
            time.sleep(0.1)
        rss = [rss_of(server.pid)]
        lock = threading.Lock()
        ttfts, done, tokens, errors, dropped = [], [0], [0], [], [0]
        stop_at = time.monotonic() + args.seconds

        def client(index):
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=600)
            n = 0
            while time.monotonic() < stop_at:
                body = {"model": str(MODEL), "stream": True, "max_tokens": args.max_tokens, "temperature": 0.7,
                        "seed": index * 1000 + n, "stream_options": {"include_usage": True},
                        "messages": [{"role": "user", "content": QUESTIONS[(index + n) % len(QUESTIONS)]}]}
                n += 1
                start = time.monotonic()
                try:
                    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    if resp.status != 200:
                        with lock:
                            errors.append(f"HTTP {resp.status}: {resp.read()[:200]!r}")
                        continue
                    first, finished, usage = None, False, None
                    for line in resp:
                        line = line.strip()
                        if not line.startswith(b"data: "):
                            continue
                        data = line[6:]
                        if data == b"[DONE]":
                            finished = True
                            continue
                        event = json.loads(data)
                        if event.get("usage"):
                            usage = event["usage"]
                        if first is None and event["choices"] and event["choices"][0]["delta"].get("content"):
                            first = time.monotonic() - start
                    with lock:
                        if not finished:
                            dropped[0] += 1
                        else:
                            done[0] += 1
                            tokens[0] += usage["completion_tokens"] if usage else 0
                            if first is not None:
                                ttfts.append(first)
                except Exception as e:  # noqa: BLE001 - every failure is counted, none stops the run
                    with lock:
                        errors.append(repr(e))
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=600)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        began = time.monotonic()
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            rss.append(rss_of(server.pid))
        elapsed = time.monotonic() - began
    finally:
        server.terminate()
        server.wait(timeout=30)

    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip(),
        "machine": {"platform": platform.platform(), "cores": os.cpu_count()},
        "command": "bench/load_test.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                                                    if k in ("clients", "seconds", "max_tokens")),
        "model": MODEL.name,
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "requests_completed": done[0],
        "requests_per_s": done[0] / elapsed,
        "generated_tokens_per_s": tokens[0] / elapsed,
        "ttft_p50_s": percentile(ttfts, 50),
        "ttft_p99_s": percentile(ttfts, 99),
        "errors": len(errors),
        "dropped_streams": dropped[0],
        "error_samples": errors[:5],
        "rss_start_mb": rss[0] / 1e6,
        "rss_max_mb": max(rss) / 1e6,
        "rss_end_mb": rss[-1] / 1e6,
    }
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
