#!/usr/bin/env python3
"""Tokenizer speed: salut's encoder against Hugging Face's (the `tokenizers` package, Rust) on
the same ~10 MB of mixed text with the Qwen 3 tokenizer, both single-threaded, in the same run.

The corpus is built deterministically: English prose (the package descriptions and READMEs in the
venv, then the standard library's docstrings), Python code (the standard library), and generated
Chinese / Japanese / Korean, numbers and JSON, and emoji text (fixed seed). It is cut at line breaks into
chunks of 1 to 4 KB (sizes drawn from the seed), the way a server sees prompts, and both sides
encode the chunks one by one with add_special_tokens=False:

  * Hugging Face: Tokenizer.from_file(...).encode(chunk).ids in a loop, with RAYON_NUM_THREADS=1
    and TOKENIZERS_PARALLELISM=false;
  * salut: build/salut_tokenizer_bench (bench/tokenizer_bench.cpp), Tokenizer::encode in a loop.

Load time is Tokenizer.from_file / Tokenizer::from_file on the 11 MB tokenizer.json. Each side
runs `--repeats` passes (the first warms each side's word cache) and the median is reported. A
checksum of all IDs (sum over chunks k of (k+1) * sum over positions j of (j+1) * id, modulo 2^64)
shows both produced the same tokens. Writes bench/results/tokenizer.json.

    .venv/bin/python bench/tokenizer_bench.py [--size-mb 10] [--repeats 3]
"""

import argparse
import ast
import datetime
import gzip
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import numpy as np  # noqa: E402
import tokenizers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work" / "tokenizer"
RESULT = ROOT / "bench" / "results" / "tokenizer.json"
SHARE = {"prose": 0.40, "code": 0.30, "cjk": 0.15, "numbers": 0.10, "emoji": 0.05}  # code fills what prose lacks


def read_files(paths, budget):
    out, size = [], 0
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        out.append(text)
        size += len(text.encode())
        if size >= budget:
            break
    return "\n".join(out)


def docstrings(path):
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
        return []
    nodes = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    return [d for d in (ast.get_docstring(n) for n in nodes) if d]


def prose(budget):
    """Package descriptions and READMEs in the venv, then the standard library's docstrings."""
    site = Path(sysconfig.get_paths()["purelib"])
    files = sorted(site.glob("*.dist-info/METADATA")) + sorted(site.glob("**/*.md")) + sorted(site.glob("**/*.txt"))
    text = read_files(files, budget)
    parts, size = [text], len(text.encode())
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts):
        if size >= budget:
            break
        for doc in docstrings(path):
            parts.append(doc)
            size += len(doc.encode()) + 2
    return "\n\n".join(parts)


def code(budget):
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return read_files(sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts), budget)


def zipf_pool(rng, chars, size):
    """`size` characters drawn from `chars` with Zipf-like weights (a few are very common)."""
    chars = list(chars)
    rng.shuffle(chars)
    weights = [1.0 / (rank + 1) for rank in range(len(chars))]
    return rng.choices(chars, weights, k=size)


def cjk(rng, budget):
    han = zipf_pool(rng, map(chr, range(0x4E00, 0x9FA6)), 200_000)
    kana = zipf_pool(rng, [chr(c) for c in range(0x3041, 0x3097)] + [chr(c) for c in range(0x30A1, 0x30FB)], 100_000)
    hangul = zipf_pool(rng, map(chr, range(0xAC00, 0xD7A4)), 100_000)
    lines, size = [], 0
    while size < budget:
        kind = rng.random()
        words = []
        for _ in range(rng.randint(4, 20)):
            if kind < 0.6:
                words.append("".join(rng.choice(han) for _ in range(rng.randint(1, 4))))
            elif kind < 0.8:
                words.append("".join(rng.choice(han if rng.random() < 0.4 else kana) for _ in range(rng.randint(1, 5))))
            else:
                words.append("".join(rng.choice(hangul) for _ in range(rng.randint(1, 4))) + " ")
        line = "".join(words) + rng.choice(["。", "，", "！", "？", "、", ".", ""])
        lines.append(line)
        size += len(line.encode()) + 1
    return "\n".join(lines)


def numbers(rng, budget):
    lines, size = [], 0
    while size < budget:
        record = {"id": rng.randrange(10**9), "price": round(rng.uniform(0, 10**5), rng.randint(0, 4)),
                  "ratio": rng.random(), "date": f"20{rng.randint(10, 30)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                  "hex": f"0x{rng.getrandbits(32):08x}", "values": [rng.randint(-1000, 1000) for _ in range(rng.randint(0, 8))],
                  "uuid": "-".join(f"{rng.getrandbits(b * 4):0{b}x}" for b in (8, 4, 4, 4, 12))}
        line = json.dumps(record) if rng.random() < 0.7 else f"{rng.randint(0, 10**12):,} + {rng.random():.6f} = ?"
        lines.append(line)
        size += len(line.encode()) + 1
    return "\n".join(lines)


def emoji(rng, budget):
    faces = [chr(c) for c in range(0x1F600, 0x1F650)] + [chr(c) for c in range(0x1F300, 0x1F400)]
    tones = ["", "\U0001F3FB", "\U0001F3FD", "\U0001F3FF"]
    words = ["great", "love", "this", "so", "much", "lol", "ok", "thanks", "wow", "yes", "no", "party"]
    lines, size = [], 0
    while size < budget:
        parts = []
        for _ in range(rng.randint(3, 15)):
            r = rng.random()
            if r < 0.5:
                parts.append(rng.choice(faces) + rng.choice(tones))
            elif r < 0.6:
                parts.append("\U0001F468\u200D\U0001F469\u200D\U0001F467")
            else:
                parts.append(rng.choice(words))
        line = " ".join(parts)
        lines.append(line)
        size += len(line.encode()) + 1
    return "\n".join(lines)


def chunks_of(text, rng):
    """Cuts at line breaks into chunks of 1 to 4 KB."""
    chunks, current, target = [], [], rng.randint(1024, 4096)
    size = 0
    for line in text.splitlines(keepends=True):
        current.append(line)
        size += len(line.encode())
        if size >= target:
            chunks.append("".join(current))
            current, size, target = [], 0, rng.randint(1024, 4096)
    if current:
        chunks.append("".join(current))
    return chunks


def build_corpus(total_bytes):
    rng = random.Random(20261126)
    budgets = {name: int(total_bytes * share) for name, share in SHARE.items()}
    parts = {"prose": prose(budgets["prose"])}
    budgets["prose"] = min(budgets["prose"], len(parts["prose"].encode()))
    budgets["code"] = total_bytes - sum(b for name, b in budgets.items() if name != "code")  # code fills any gap
    parts["code"] = code(budgets["code"])
    parts["cjk"] = cjk(rng, budgets["cjk"])
    parts["numbers"] = numbers(rng, budgets["numbers"])
    parts["emoji"] = emoji(rng, budgets["emoji"])
    chunks = []
    for name, text in parts.items():
        budget = budgets[name]
        taken = 0
        for chunk in chunks_of(text, rng):
            if taken >= budget:
                break
            chunks.append(chunk)
            taken += len(chunk.encode())
    rng.shuffle(chunks)
    return chunks, budgets


def checksum(id_lists):
    total = 0
    for k, ids in enumerate(id_lists):
        a = np.asarray(ids, dtype=np.int64)
        s = int(np.dot(np.arange(1, len(a) + 1, dtype=np.int64), a)) if len(a) else 0
        total = (total + (k + 1) * s) % (1 << 64)
    return f"{total:016x}"


def run_hf(path, chunks, repeats):
    load_ms = []
    for _ in range(5):
        start = time.perf_counter()
        tok = tokenizers.Tokenizer.from_file(str(path))
        load_ms.append((time.perf_counter() - start) * 1000)
    encode_s, ids = [], None
    for r in range(repeats):
        start = time.perf_counter()
        out = [tok.encode(c, add_special_tokens=False).ids for c in chunks]
        encode_s.append(time.perf_counter() - start)
        if r == 0:
            ids = out
    return {"load_ms": load_ms, "encode_s": encode_s, "tokens": sum(map(len, ids)), "checksum": checksum(ids)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=float, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--binary", default=str(ROOT / "build" / "salut_tokenizer_bench"))
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    tokenizer_json = WORK / "qwen3_tokenizer.json"
    tokenizer_json.write_bytes(gzip.decompress((ROOT / "tests/data/tokenizers/qwen3/tokenizer.json.gz").read_bytes()))
    chunks, sources = build_corpus(int(args.size_mb * 1_000_000))
    blob = b"".join(len(c.encode()).to_bytes(4, "little") + c.encode() for c in chunks)
    (WORK / "chunks.bin").write_bytes(blob)
    corpus_bytes = sum(len(c.encode()) for c in chunks)
    print(f"corpus: {corpus_bytes} bytes in {len(chunks)} chunks", flush=True)

    binary = Path(args.binary)
    if not binary.exists():
        found = list((ROOT / "build").rglob("salut_tokenizer_bench"))
        binary = found[0] if found else binary
    ours_raw = subprocess.run([str(binary), str(tokenizer_json), str(WORK / "chunks.bin"), str(args.repeats)],
                              check=True, capture_output=True, text=True).stdout
    ours = json.loads(ours_raw)
    hf = run_hf(tokenizer_json, chunks, args.repeats)

    def summary(side):
        load, encode = statistics.median(side["load_ms"]), statistics.median(side["encode_s"])
        return {"load_ms": [round(x, 1) for x in side["load_ms"]], "load_ms_median": round(load, 1),
                "encode_s": [round(x, 3) for x in side["encode_s"]], "encode_s_median": round(encode, 3),
                "encode_MB_s": round(corpus_bytes / encode / 1e6, 2), "tokens": side["tokens"]}

    result = {
        "benchmark": "encode (add_special_tokens=False) of ~10 MB mixed text in 1-4 KB chunks, single thread, "
                     "Qwen 3 tokenizer.json; load = from_file of the 11 MB tokenizer.json",
        "corpus": {"bytes": corpus_bytes, "chunks": len(chunks), "shares": SHARE, "bytes_by_kind": sources,
                   "sha256": hashlib.sha256(blob).hexdigest()},
        "huggingface": {"package": f"tokenizers {tokenizers.__version__}", **summary(hf)},
        "salut": {"binary": str(binary.relative_to(ROOT)) if binary.is_relative_to(ROOT) else str(binary), **summary(ours)},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {cpu_model()}",
        "date": datetime.date.today().isoformat(),
        "command": "bench/tokenizer_bench.py " + " ".join(sys.argv[1:]),
    }
    result["same_tokens"] = hf["checksum"] == ours["checksum"] and hf["tokens"] == ours["tokens"]
    result["encode_speedup_salut_over_hf"] = round(result["salut"]["encode_MB_s"] / result["huggingface"]["encode_MB_s"], 2)
    result["goals"] = {"encode_at_least_hf": result["encode_speedup_salut_over_hf"] >= 1.0,
                       "load_at_most_300_ms": result["salut"]["load_ms_median"] <= 300}
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["same_tokens"] else 1


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
