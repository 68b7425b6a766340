#!/usr/bin/env python3
"""Seed corpora for the weights fuzzers, written by the real MLX (mx.save_safetensors).

fuzz/corpus/weights/safetensors_header/  small valid files: every dtype, metadata, empty tensors
fuzz/corpus/weights/linear/              one small layer per quantization the linear fuzzer's
                                         config names (see weights_linear_fuzzer.cpp)
Run: .venv/bin/python fuzz/weights/make_corpus.py
"""

from pathlib import Path

import mlx.core as mx

ROOT = Path(__file__).resolve().parents[1] / "corpus" / "weights"


def save(folder, name, tensors, metadata=None):
    folder.mkdir(parents=True, exist_ok=True)
    mx.save_safetensors(str(folder / name), tensors, metadata=metadata)


def header_corpus():
    d = ROOT / "safetensors_header"
    mx.random.seed(3)
    save(d, "dtypes.safetensors", {
        "f32": mx.arange(3, dtype=mx.float32), "f16": mx.arange(3, dtype=mx.float16),
        "bf16": mx.arange(3, dtype=mx.bfloat16), "u8": mx.arange(3, dtype=mx.uint8),
        "u16": mx.arange(3, dtype=mx.uint16), "u32": mx.arange(3, dtype=mx.uint32),
        "u64": mx.arange(3, dtype=mx.uint64), "i8": mx.arange(3, dtype=mx.int8),
        "i16": mx.arange(3, dtype=mx.int16), "i32": mx.arange(3, dtype=mx.int32),
        "i64": mx.arange(3, dtype=mx.int64), "bool": mx.array([True, False]),
    })
    save(d, "metadata.safetensors", {"m.weight": mx.zeros((2, 2))}, metadata={"format": "mlx", "k": "v"})
    save(d, "empty_and_scalar.safetensors", {"e": mx.zeros((0, 4)), "s": mx.array(1.5)})
    save(d, "no_tensors.safetensors", {}, metadata={"format": "mlx"})


def linear_corpus():
    d = ROOT / "linear"
    mx.random.seed(4)
    w = mx.random.normal((2, 128))
    for name, kw, dtype in [
        ("a.proj", dict(group_size=64, bits=4), mx.float16),
        ("o.proj", dict(group_size=32, bits=3), mx.bfloat16),
        ("m.proj", dict(mode="mxfp4"), mx.float32),
        ("v.proj", dict(mode="nvfp4"), mx.float32),
        ("x.proj", dict(mode="mxfp8"), mx.float32),
    ]:
        q = mx.quantize(w.astype(dtype), **kw)
        tensors = {f"{name}.weight": q[0], f"{name}.scales": q[1]}
        if len(q) > 2:
            tensors[f"{name}.biases"] = q[2]
        save(d, f"{name}.safetensors", tensors)
    save(d, "n.proj.safetensors", {"n.proj.weight": w.astype(mx.bfloat16), "n.proj.bias": mx.zeros((2,))})
    q = mx.quantize(w, group_size=64, bits=6)
    save(d, "mixed.safetensors", {"d.proj.weight": q[0], "d.proj.scales": q[1], "d.proj.biases": q[2],
                                  "e.proj.weight": w.astype(mx.float16)})


if __name__ == "__main__":
    header_corpus()
    linear_corpus()
    print(sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.safetensors")))
