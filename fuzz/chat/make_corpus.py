#!/usr/bin/env python3
"""Seed corpus for chat_template_fuzzer: real chat templates of the families salut serves (from
tests/data/chat/templates, see SOURCE.md there) and every Jinja snippet of the interpreter's goldens.

Run: python3 fuzz/chat/make_corpus.py      (writes fuzz/corpus/chat/)
"""
import gzip
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "tests" / "data" / "chat" / "templates"
OUT = ROOT / "fuzz" / "corpus" / "chat"

REAL = [
    "qwen3-0.6b", "qwen2.5-7b-instruct", "qwen2.5-vl-7b-instruct", "qwen3.5-4b", "llama-3.1-8b-instruct",
    "ollama-llama3.2-3b", "llama-3.2-11b-vision-instruct", "ollama-phi4-mini-3.8b", "mistral-7b-instruct-v0.3",
    "mistral-nemo-instruct-2407", "ollama-mistral-small-24b", "ollama-gemma3-1b", "deepseek-r1",
    "ollama-deepseek-r1-latest", "ollama-smollm2-135m", "smollm3-3b", "hermes-2-pro-llama-3-8b-json-schema",
    "c4ai-command-r-v01", "functionary-medium-v2.2", "minicpm3-4b", "kimi-k2-thinking", "glm-5.1",
    "ollama-granite3.3-2b",
]


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    for name in REAL:
        shutil.copyfile(TEMPLATES / f"{name}.jinja", OUT / f"{name}.jinja")
    goldens = json.loads(gzip.open(ROOT / "tests" / "data" / "chat" / "jinja_goldens.json.gz").read())
    for i, case in enumerate(goldens["cases"]):
        (OUT / f"snippet_{i:03d}.jinja").write_text(case["template"], encoding="utf-8")
    print(f"{OUT}: {len(REAL)} templates, {len(goldens['cases'])} snippets")


if __name__ == "__main__":
    main()
