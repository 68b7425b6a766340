#!/usr/bin/env python3
"""A tiny Qwen 3 chat model: random weights in MLX 4-bit (made by mlx-lm, as tools/fixtures/tiny.py
makes the fidelity fixtures) with Qwen 3's real tokenizer and chat template (tests/data/tokenizers).
Its answers are noise, but it is a genuine Qwen 3 as salut sees one: the server tests drive its
tool calls (tool_choice) and structured output through it.

Run: .venv/bin/python tools/make_chat_fixture.py [--out models/fixtures-chat/qwen3-tiny-4bit]
"""

import argparse
import gzip
import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from fixtures import specs, tiny  # noqa: E402

TOKENIZER = ROOT / "tests" / "data" / "tokenizers" / "qwen3"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "models" / "fixtures-chat" / "qwen3-tiny-4bit"))
    out = Path(ap.parse_args().out)
    stamp = out / ".made-by"
    me = Path(__file__).read_bytes() + (TOKENIZER / "tokenizer_config.json.gz").read_bytes()
    digest = hashlib.sha256(me).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        print(f"chat fixture: {out} is up to date")
        return 0
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    config = {**specs.BASES["qwen3"], "hidden_act": "silu", "vocab_size": 151936, "bos_token_id": None,
              "eos_token_id": [151645, 151643]}
    spec = {"base": "qwen3-chat", "config": config, "dtype": "bfloat16",
            "quant": {"mode": "affine", "bits": 4, "group_size": 64, "recipe": None}}
    tiny.build(spec, out)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (out / name).write_bytes(gzip.open(TOKENIZER / f"{name}.gz").read())
    (out / "generation_config.json").write_text(json.dumps({"eos_token_id": [151645, 151643]}) + "\n")
    stamp.write_text(digest)
    print(f"chat fixture: wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
