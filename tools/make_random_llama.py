#!/usr/bin/env python3
"""Random-weight Llama-3-shaped models for speed benchmarks: MLX format and/or GGUF (Q4_0).

The weights are random (nothing sensible comes out), but the files are genuine:

--mlx DIR   the layout `mlx_lm.convert -q` writes: config.json (model_type llama,
            "quantization" and "quantization_config" {group_size, bits, mode: affine}),
            model.safetensors or model-0000X-of-0000N.safetensors shards (split at
            --shard-gb GiB like mlx_lm's make_shards) and model.safetensors.index.json.
            Every linear layer, the token embedding and the untied lm_head are quantized:
            `<name>.weight` U32 [out, in*bits/32], `<name>.scales` / `<name>.biases` BF16
            [out, in/group_size]; the norms are BF16 ones. No tokenizer: `salut bench`
            does not read one (it feeds random token IDs).
--gguf FILE llama.cpp's layout for the same shape: architecture llama, blk.N.attn_q/k/v/
            output, ffn_gate/up/down in Q4_0 (token_embd / output in Q4_0 by default,
            --gguf-embd-type / --gguf-output-type q8_0 or q6_k otherwise), F32 norms, and
            tokenizer.ggml.model = "no_vocab" with llama.vocab_size (llama.cpp then adds
            that many dummy tokens; llama-bench only needs n_vocab for its random tokens).
            Needs the `gguf` Python package; MLX output needs only numpy.

Values: weights are zero-mean-ish with std 0.5/sqrt(in) (embedding: 0.02) so activations
stay finite through all layers; MLX scales are jittered +-25% around that, biases =
-scale * (2^bits - 1) / 2; Q4_0 d likewise (value = (q - 8) * d).

Speed: data come from numpy's PCG64 (about 2 GB/s on one core) and are streamed tensor by
tensor to the file, so the 8B defaults (~4.5 GB per format) take seconds plus disk time
and need little memory.

Examples:
  # Llama-3-8B shape, 4-bit group 64, both formats
  python3 tools/make_random_llama.py --mlx /tmp/rl8b-mlx --gguf /tmp/rl8b-q4_0.gguf
  # tiny, for a quick check
  python3 tools/make_random_llama.py --layers 2 --hidden 256 --heads 4 --kv-heads 2 \\
      --head-dim 64 --ffn 512 --vocab 1000 --mlx /tmp/tiny-mlx --gguf /tmp/tiny.gguf
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Shape:
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int


@dataclass
class Matrix:
    """A weight matrix [out, in] (numpy / PyTorch order) or a norm vector (inp == 0)."""

    mlx: str  # MLX module name, without the .weight/.scales/.biases suffix
    gguf: str  # GGUF tensor name, with .weight
    out: int
    inp: int = 0
    std: float = 0.0  # target std of the weights
    role: str = "linear"  # linear | embed | output | norm


def model_matrices(s: Shape) -> list[Matrix]:
    q, kv = s.heads * s.head_dim, s.kv_heads * s.head_dim
    lin = lambda n: 0.5 / math.sqrt(n)  # noqa: E731
    m = [Matrix("model.embed_tokens", "token_embd.weight", s.vocab, s.hidden, 0.02, "embed")]
    for i in range(s.layers):
        p, b = f"model.layers.{i}", f"blk.{i}"
        m += [
            Matrix(f"{p}.input_layernorm", f"{b}.attn_norm.weight", s.hidden, role="norm"),
            Matrix(f"{p}.self_attn.q_proj", f"{b}.attn_q.weight", q, s.hidden, lin(s.hidden)),
            Matrix(f"{p}.self_attn.k_proj", f"{b}.attn_k.weight", kv, s.hidden, lin(s.hidden)),
            Matrix(f"{p}.self_attn.v_proj", f"{b}.attn_v.weight", kv, s.hidden, lin(s.hidden)),
            Matrix(f"{p}.self_attn.o_proj", f"{b}.attn_output.weight", s.hidden, q, lin(q)),
            Matrix(f"{p}.post_attention_layernorm", f"{b}.ffn_norm.weight", s.hidden, role="norm"),
            Matrix(f"{p}.mlp.gate_proj", f"{b}.ffn_gate.weight", s.ffn, s.hidden, lin(s.hidden)),
            Matrix(f"{p}.mlp.up_proj", f"{b}.ffn_up.weight", s.ffn, s.hidden, lin(s.hidden)),
            Matrix(f"{p}.mlp.down_proj", f"{b}.ffn_down.weight", s.hidden, s.ffn, lin(s.ffn)),
        ]
    m += [
        Matrix("model.norm", "output_norm.weight", s.hidden, role="norm"),
        Matrix("lm_head", "output.weight", s.vocab, s.hidden, lin(s.hidden), "output"),
    ]
    return m


# --------------------------------------------------------------------------- random data


def random_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    """n uniformly random bytes (uint8 array), at PCG64's full speed."""
    words = rng.integers(0, 2**64 - 1, size=(n + 7) // 8, dtype=np.uint64, endpoint=True)
    return words.view(np.uint8)[:n]


def jittered(rng: np.random.Generator, base: float, n: int) -> np.ndarray:
    """n float32 values base * U(0.75, 1.25), tiled from a pool of 4096 (cheap for huge n)."""
    pool = (base * (0.75 + 0.5 * rng.random(min(n, 4096)))).astype(np.float32)
    return np.resize(pool, n)


def to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits (uint16), round to nearest even."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    return ((u + (np.uint32(0x7FFF) + ((u >> 16) & 1))) >> 16).astype(np.uint16)


def bf16_to_f32(b: np.ndarray) -> np.ndarray:
    return (b.astype(np.uint32) << 16).view(np.float32)


# --------------------------------------------------------------------------- MLX


def mlx_tensors(m: Matrix, bits: int, group: int):
    """[(name, safetensors dtype, shape, nbytes, make)] for one module."""
    if m.role == "norm":
        return [(f"{m.mlx}.weight", "BF16", [m.out], 2 * m.out, lambda rng: to_bf16(np.ones(m.out, np.float32)))]
    words, groups = m.inp * bits // 32, m.inp // group
    levels = (1 << bits) - 1
    q_std = math.sqrt(((levels + 1) ** 2 - 1) / 12)  # std of a uniform integer in [0, levels]
    cache = {}

    def scales(rng):
        cache["s"] = to_bf16(jittered(rng, m.std / q_std, m.out * groups)).reshape(m.out, groups)
        return cache["s"]

    def biases(rng):  # zero-mean weights: bias = -scale * mean(q)
        return to_bf16(-bf16_to_f32(cache.pop("s")) * (levels / 2))

    return [
        (f"{m.mlx}.weight", "U32", [m.out, words], 4 * m.out * words,
         lambda rng: random_bytes(rng, 4 * m.out * words)),
        (f"{m.mlx}.scales", "BF16", [m.out, groups], 2 * m.out * groups, scales),
        (f"{m.mlx}.biases", "BF16", [m.out, groups], 2 * m.out * groups, biases),
    ]


def write_safetensors(path: Path, tensors, rng) -> None:
    # Largest alignment first (U32 before BF16), as the safetensors library orders them, so
    # every tensor starts at a multiple of its element size.
    order = sorted(range(len(tensors)), key=lambda i: (-{"U32": 4, "BF16": 2}[tensors[i][1]], tensors[i][0]))
    header: dict = {"__metadata__": {"format": "mlx"}}
    offset = 0
    for i in order:
        name, dtype, shape, nbytes, _ = tensors[i]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    # Scales are generated before their biases (the biases are derived from them): make
    # them in model order, write them in file order.
    data = {}
    for name, _, _, nbytes, make in tensors:
        if name.endswith(".weight"):
            continue  # big ones: generated while writing
        data[name] = make(rng)
        assert data[name].nbytes == nbytes, name
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for i in order:
            name, _, _, nbytes, make = tensors[i]
            arr = data.pop(name) if name in data else make(rng)
            assert arr.nbytes == nbytes, name
            f.write(memoryview(np.ascontiguousarray(arr)).cast("B"))


def write_mlx(out: Path, s: Shape, a, rng) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("model*.safetensors*"):
        old.unlink()
    quant = {"group_size": a.group_size, "bits": a.bits, "mode": "affine"}
    config = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 128000 if s.vocab > 128009 else 1,
        "eos_token_id": [128001, 128008, 128009] if s.vocab > 128009 else 2,
        "head_dim": s.head_dim,
        "hidden_act": "silu",
        "hidden_size": s.hidden,
        "initializer_range": 0.02,
        "intermediate_size": s.ffn,
        "max_position_embeddings": a.context_length,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": s.heads,
        "num_hidden_layers": s.layers,
        "num_key_value_heads": s.kv_heads,
        "pretraining_tp": 1,
        "quantization": quant,
        "quantization_config": dict(quant),
        "rms_norm_eps": a.rms_norm_eps,
        "rope_scaling": None,
        "rope_theta": a.rope_theta,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "use_cache": True,
        "vocab_size": s.vocab,
    }
    (out / "config.json").write_text(json.dumps(config, indent=4) + "\n")

    # Shards as mlx_lm's make_shards: in model order, a new shard when the next tensor
    # would take the current one over the limit.
    limit = int(a.shard_gb * (1 << 30))
    shards: list[list] = [[]]
    size = 0
    total_params = 0
    for m in model_matrices(s):
        total_params += m.out * max(m.inp, 1)
        for t in mlx_tensors(m, a.bits, a.group_size):
            if shards[-1] and size + t[3] > limit and not t[0].endswith((".scales", ".biases")):
                shards.append([])
                size = 0
            shards[-1].append(t)
            size += t[3]
    n = len(shards)
    names = ["model.safetensors"] if n == 1 else [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]
    weight_map, total = {}, 0
    for name, tensors in zip(names, shards):
        write_safetensors(out / name, tensors, rng)
        for t in tensors:
            weight_map[t[0]] = name
            total += t[3]
    index = {"metadata": {"total_size": total, "total_parameters": total_params},
             "weight_map": dict(sorted(weight_map.items()))}
    (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=4) + "\n")
    return total


# --------------------------------------------------------------------------- GGUF

# name: (block elements, block dtype, std of the quantized integer, field holding the integers)
GGUF_TYPES = {
    "q4_0": (32, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), math.sqrt(255 / 12)),
    "q8_0": (32, np.dtype([("d", "<f2"), ("qs", "i1", 32)]), math.sqrt((256**2 - 1) / 12)),
    # value = d * scales[j] * (q - 32), q 6 bits; scales are set to 8..15 (mean 11.5)
    "q6_k": (256, np.dtype([("ql", "u1", 128), ("qh", "u1", 64), ("scales", "i1", 16), ("d", "<f2")]),
             math.sqrt((64**2 - 1) / 12) * 11.5),
}


def gguf_block_data(rng, m: Matrix, kind: str) -> np.ndarray:
    qk, dtype, q_std = GGUF_TYPES[kind]
    nblocks = m.out * m.inp // qk
    blocks = random_bytes(rng, nblocks * dtype.itemsize).view(dtype)
    blocks["d"] = jittered(rng, m.std / q_std, nblocks).astype(np.float16)
    if kind == "q6_k":
        blocks["scales"] = np.resize(rng.integers(8, 16, size=4096, dtype=np.int8), (nblocks, 16))
    return blocks.view(np.uint8).reshape(m.out, m.inp // qk * dtype.itemsize)


def write_gguf(path: Path, s: Shape, a, rng) -> int:
    try:
        import gguf
    except ImportError as e:
        sys.exit(f"make_random_llama: --gguf needs the gguf package ({e}); pip install gguf, or put the wheel "
                 "in PYTHONPATH (bench/cuda_side_by_side.sh installs .whl/*.whl into /tmp/site)")
    qtype = {"q4_0": gguf.GGMLQuantizationType.Q4_0, "q8_0": gguf.GGMLQuantizationType.Q8_0,
             "q6_k": gguf.GGMLQuantizationType.Q6_K}
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(path, "llama")
    w.add_name(f"random-llama-{s.layers}L-{s.hidden}")
    w.add_context_length(a.context_length)
    w.add_embedding_length(s.hidden)
    w.add_block_count(s.layers)
    w.add_feed_forward_length(s.ffn)
    w.add_head_count(s.heads)
    w.add_head_count_kv(s.kv_heads)
    w.add_key_length(s.head_dim)
    w.add_value_length(s.head_dim)
    w.add_rope_dimension_count(s.head_dim)
    w.add_rope_freq_base(a.rope_theta)
    w.add_layer_norm_rms_eps(a.rms_norm_eps)
    w.add_vocab_size(s.vocab)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    # No vocabulary: llama.cpp's LLAMA_VOCAB_TYPE_NONE, sized from llama.vocab_size.
    w.add_tokenizer_model("no_vocab")

    plan = []
    for m in model_matrices(s):
        if m.role == "norm":
            plan.append((m, None))
            w.add_tensor_info(m.gguf, (m.out,), np.dtype(np.float32), 4 * m.out)
            continue
        kind = {"embed": a.gguf_embd_type, "output": a.gguf_output_type}.get(m.role, "q4_0")
        qk, dtype, _ = GGUF_TYPES[kind]
        if m.inp % qk:
            sys.exit(f"make_random_llama: {m.gguf}: row length {m.inp} is not a multiple of {qk} ({kind})")
        nbytes = m.out * m.inp // qk * dtype.itemsize
        w.add_tensor_info(m.gguf, (m.out, m.inp // qk * dtype.itemsize), np.dtype(np.uint8), nbytes,
                          raw_dtype=qtype[kind])
        plan.append((m, kind))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    total = 0
    for m, kind in plan:
        arr = np.ones(m.out, np.float32) if kind is None else gguf_block_data(rng, m, kind)
        w.write_tensor_data(arr)
        total += arr.nbytes
    w.close()
    return total


# --------------------------------------------------------------------------- main


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mlx", type=Path, metavar="DIR", help="write the MLX model folder here")
    p.add_argument("--gguf", type=Path, metavar="FILE", help="write the GGUF file here")
    g = p.add_argument_group("shape (defaults: Llama-3-8B)")
    g.add_argument("--layers", type=int, default=32)
    g.add_argument("--hidden", type=int, default=4096)
    g.add_argument("--heads", type=int, default=32)
    g.add_argument("--kv-heads", type=int, default=8)
    g.add_argument("--head-dim", type=int, default=128)
    g.add_argument("--ffn", type=int, default=14336)
    g.add_argument("--vocab", type=int, default=128256)
    g.add_argument("--rope-theta", type=float, default=500000.0)
    g.add_argument("--rms-norm-eps", type=float, default=1e-5)
    g.add_argument("--context-length", type=int, default=131072,
                   help="max_position_embeddings / llama.context_length (default 131072)")
    q = p.add_argument_group("quantization")
    q.add_argument("--bits", type=int, default=4, choices=[2, 3, 4, 5, 6, 8], help="MLX affine bits (default 4)")
    q.add_argument("--group-size", type=int, default=64, choices=[32, 64, 128], help="MLX group size (default 64)")
    q.add_argument("--shard-gb", type=float, default=2.0,
                   help="MLX shard size limit in GiB (default 2: the 8B gets 3 shards; mlx_lm's own default "
                        "is 5, which would give one model.safetensors)")
    q.add_argument("--gguf-embd-type", default="q4_0", choices=list(GGUF_TYPES), help="token_embd type (q4_0)")
    q.add_argument("--gguf-output-type", default="q4_0", choices=list(GGUF_TYPES),
                   help="output (lm_head) type (q4_0; llama-quantize's Q4_0 recipe would use q6_k)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if not a.mlx and not a.gguf:
        p.error("nothing to do: give --mlx DIR and/or --gguf FILE")
    s = Shape(a.layers, a.hidden, a.heads, a.kv_heads, a.head_dim, a.ffn, a.vocab)
    if s.heads % s.kv_heads:
        p.error("--heads must be a multiple of --kv-heads")
    for n, v in (("--hidden", s.hidden), ("--ffn", s.ffn), ("heads*head-dim", s.heads * s.head_dim)):
        if v % a.group_size or v * a.bits % 32 or v % 32:
            p.error(f"{n} = {v} must be a multiple of the group size {a.group_size} and of 32")

    params = sum(m.out * max(m.inp, 1) for m in model_matrices(s))
    print(f"[make_random_llama] {s}, {params / 1e9:.2f} B parameters", flush=True)
    for what, dest, fn in (("mlx", a.mlx, write_mlx), ("gguf", a.gguf, write_gguf)):
        if dest is None:
            continue
        t0 = time.perf_counter()
        nbytes = fn(dest, s, a, np.random.default_rng([a.seed, 0 if what == "mlx" else 1]))
        dt = time.perf_counter() - t0
        print(f"[make_random_llama] {what}: {dest}  {nbytes / 1e9:.2f} GB in {dt:.1f} s "
              f"({nbytes / 1e9 / max(dt, 1e-9):.2f} GB/s)", flush=True)


if __name__ == "__main__":
    main()
