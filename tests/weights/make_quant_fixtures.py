#!/usr/bin/env python3
"""Reference data for tests/weights, made by the real MLX and mlx-lm (mlx[cpu] on Linux).

Writes into tests/weights/data/ (or the folder given as the first argument):
  quant.safetensors        for every quantization (affine bits 2,3,4,5,6,8 x groups 32,64,128 x
                           scales F32/F16/BF16; mxfp4; nvfp4 with and without a global scale;
                           mxfp8): the packed weight, scales, biases and mx.dequantize's output,
                           once from mx.quantize of a random matrix and once from random bits.
                           __metadata__["cases"] lists them as JSON.
  conversions.safetensors  f32 bit patterns with MLX's bf16 and f16 casts of them; every E4M3
                           byte with mx.from_fp8 of it.
  tiny_llama_mixed/        a llama made by mlx-lm and quantized with its mixed_3_6 recipe (per
                           module overrides), saved with mlx_lm.utils.save_model/save_config.
  tiny_llama_mixed_expected.safetensors  mx.dequantize of some of its layers.
  tiny_qwen3_mxfp4/        a qwen3 quantized mxfp4 by mlx-lm, split by hand into two shards with
                           an index, the way save_model writes larger models.
  tiny_mlx.safetensors     a small file written by mx.save_safetensors (unpadded header).

Run: .venv/bin/python tests/weights/make_quant_fixtures.py
"""

import json
import sys
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import numpy as np
from mlx.utils import tree_flatten
from mlx_lm.convert import mixed_quant_predicate_builder
from mlx_lm.utils import quantize_model, save_config, save_model

OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "data"
ROWS, COLS = 8, 256


def quant_cases():
    rng = np.random.default_rng(1234)
    tensors, cases = {}, []

    def add(name, mode, bits, group, packed, scales, biases=None, global_scale=None):
        kw = dict(group_size=group, bits=bits, mode=mode)
        if global_scale is not None:
            kw["global_scale"] = global_scale
        if mode == "affine":
            expected = mx.dequantize(packed, scales, biases, **kw)  # in the scales' dtype
        else:
            expected = mx.dequantize(packed, scales, dtype=mx.float32, **kw)
        tensors[f"{name}.weight"] = packed
        tensors[f"{name}.scales"] = scales
        if biases is not None:
            tensors[f"{name}.biases"] = biases
        if global_scale is not None:
            tensors[f"{name}.global_scale"] = global_scale
        tensors[f"{name}.expected"] = expected
        cases.append({"name": name, "mode": mode, "bits": bits, "group_size": group})

    dtypes = {"f32": mx.float32, "f16": mx.float16, "bf16": mx.bfloat16}
    for bits in (2, 3, 4, 5, 6, 8):
        for group in (32, 64, 128):
            for dname, dtype in dtypes.items():
                w = mx.array(rng.standard_normal((ROWS, COLS)).astype(np.float32)).astype(dtype)
                packed, scales, biases = mx.quantize(w, group_size=group, bits=bits)
                add(f"affine_b{bits}_g{group}_{dname}", "affine", bits, group, packed, scales, biases)
                # random bits: every code, scales and biases of both signs
                packed = mx.array(rng.integers(0, 2**32, (ROWS, COLS * bits // 32), dtype=np.uint32))
                scales = mx.array(rng.standard_normal((ROWS, COLS // group)).astype(np.float32)).astype(dtype)
                biases = mx.array(rng.standard_normal((ROWS, COLS // group)).astype(np.float32) * 4).astype(dtype)
                add(f"affine_b{bits}_g{group}_{dname}_bits", "affine", bits, group, packed, scales, biases)

    for mode, bits, group in (("mxfp4", 4, 32), ("nvfp4", 4, 16), ("mxfp8", 8, 32)):
        for dname, dtype in dtypes.items():
            w = mx.array(rng.standard_normal((ROWS, COLS)).astype(np.float32)).astype(dtype)
            packed, scales = mx.quantize(w, group_size=group, bits=bits, mode=mode)
            add(f"{mode}_{dname}", mode, bits, group, packed, scales)
        # random bits with every scale byte (rows chosen so that all 256 occur)
        rows = 256 * group // COLS
        packed = mx.array(rng.integers(0, 2**32, (rows, COLS * bits // 32), dtype=np.uint32))
        scales = mx.array(rng.permutation(256).astype(np.uint8).reshape(rows, COLS // group))
        add(f"{mode}_bits", mode, bits, group, packed, scales)
        if mode == "nvfp4":
            w = mx.array(rng.standard_normal((ROWS, COLS)).astype(np.float32) * 100)
            g = mx.array(np.float32(1000.0 / (448 * 6)) * 7)
            packed, scales = mx.quantize(w, group_size=group, bits=bits, mode=mode, global_scale=g)
            add("nvfp4_global", mode, bits, group, packed, scales, global_scale=g)
            packed = mx.array(rng.integers(0, 2**32, (ROWS, COLS * bits // 32), dtype=np.uint32))
            scales = mx.array(rng.integers(0, 256, (ROWS, COLS // group), dtype=np.uint8))
            add("nvfp4_global_bits", mode, bits, group, packed, scales, global_scale=mx.array(np.float32(0.3)))

    mx.save_safetensors(str(OUT / "quant.safetensors"), tensors, metadata={"cases": json.dumps(cases)})


def conversions():
    rng = np.random.default_rng(99)
    special = np.array(
        [0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0xFFFFFFFF, 1, 0x807FFFFF,
         0x00800000, 0x33000000, 0x33000001, 0x33800000, 0x387FE000, 0x387FF000, 0x38800000, 0x477FE000,
         0x477FEFFF, 0x477FF000, 0x477FFFFF, 0x47800000, 0x3F808000, 0x3F818000, 0x3F80FFFF, 0x7F7FFFFF,
         0x7F7F8000, 0x3F800FFF, 0x3F801000, 0x3F803000, 0x3F801001],
        dtype=np.uint32)
    bits = np.concatenate([special, rng.integers(0, 2**32, 4000, dtype=np.uint32),
                           # near the f16 range and its subnormals
                           rng.integers(0x32000000, 0x48000000, 4000, dtype=np.uint32)])
    x = mx.array(bits.view(np.float32))
    tensors = {
        "f32_bits": mx.array(bits),
        "bf16_bits": mx.array(np.array(x.astype(mx.bfloat16).view(mx.uint16))),
        "f16_bits": mx.array(np.array(x.astype(mx.float16).view(mx.uint16))),
        "e4m3_in": mx.arange(256, dtype=mx.uint8),
        "e4m3_out": mx.from_fp8(mx.arange(256, dtype=mx.uint8), dtype=mx.float32),
    }
    mx.save_safetensors(str(OUT / "conversions.safetensors"), tensors)


def build(model_type, config):
    from importlib import import_module

    arch = import_module(f"mlx_lm.models.{model_type}")
    model = arch.Model(arch.ModelArgs.from_dict(config))
    mx.eval(model.parameters())
    return model


def tiny_llama_mixed():
    mx.random.seed(7)
    config = {
        "model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-5, "vocab_size": 256,
        "tie_word_embeddings": False, "rope_theta": 10000.0, "eos_token_id": 2, "bos_token_id": 1,
    }
    model = build("llama", config)
    predicate = mixed_quant_predicate_builder("mixed_3_6", model, group_size=64)
    model, qconfig = quantize_model(model, config, group_size=64, bits=3, mode="affine", quant_predicate=predicate)
    path = OUT / "tiny_llama_mixed"
    save_model(path, model)
    save_config(qconfig, path / "config.json")
    (path / "generation_config.json").write_text(json.dumps({"eos_token_id": [2, 5]}))

    params = dict(tree_flatten(model.parameters()))
    expected = {}
    for module in ("model.embed_tokens", "model.layers.0.self_attn.v_proj", "model.layers.1.mlp.down_proj",
                   "lm_head"):
        m = dict(model.named_modules())[module]
        expected[module] = mx.dequantize(params[f"{module}.weight"], params[f"{module}.scales"],
                                         params[f"{module}.biases"], group_size=m.group_size, bits=m.bits)
    mx.save_safetensors(str(OUT / "tiny_llama_mixed_expected.safetensors"), expected)


def tiny_qwen3_mxfp4():
    mx.random.seed(8)
    config = {
        "model_type": "qwen3", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32, "rms_norm_eps": 1e-6,
        "vocab_size": 128, "max_position_embeddings": 4096, "tie_word_embeddings": True,
        "rope_theta": 1000000.0,
    }
    model = build("qwen3", config)
    model, qconfig = quantize_model(model, config, group_size=32, bits=4, mode="mxfp4")
    path = OUT / "tiny_qwen3_mxfp4"
    path.mkdir(parents=True, exist_ok=True)
    weights = dict(tree_flatten(model.parameters()))
    names = sorted(weights)
    shards = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for i, shard in enumerate(shards):
        file = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        mx.save_safetensors(str(path / file), {k: weights[k] for k in shard}, metadata={"format": "mlx"})
        weight_map.update({k: file for k in shard})
    index = {"metadata": {"total_size": sum(v.nbytes for v in weights.values())}, "weight_map": weight_map}
    (path / "model.safetensors.index.json").write_text(json.dumps(index, indent=4))
    save_config(qconfig, path / "config.json")


def tiny_mlx_file():
    # Odd-sized tensors make the data of the later ones unaligned.
    tensors = {
        "a.weight": mx.arange(6, dtype=mx.float32).reshape(2, 3),
        "b.bias": mx.array([1.5, -2.0, 3.25], dtype=mx.bfloat16),
        "c.codes": mx.arange(5, dtype=mx.uint8),
        "d.weight": mx.array([[1, 2], [3, 4]], dtype=mx.uint32),
        "e.half": mx.array([0.5, 65504.0, -1e-7], dtype=mx.float16),
        "f.scalar": mx.array(7, dtype=mx.int32),
    }
    mx.save_safetensors(str(OUT / "tiny_mlx.safetensors"), tensors, metadata={"format": "mlx"})


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    quant_cases()
    conversions()
    tiny_llama_mixed()
    tiny_qwen3_mxfp4()
    tiny_mlx_file()
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")
