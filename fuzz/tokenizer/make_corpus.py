#!/usr/bin/env python3
"""Writes the tokenizer fuzzers' seeds to fuzz/corpus/tokenizer/ (small, deterministic):

  json/  tiny tokenizer.json files trained here with the `tokenizers` package, one per kind of
         model, normalizer, pre-tokenizer, post-processor and decoder;
  text/  nasty strings (and bytes that are not UTF-8) for tokenizer_encode_fuzzer;
  ids/   little-endian int32 arrays (byte tokens, special tokens, strays) for the decode fuzzer.

    .venv/bin/python fuzz/tokenizer/make_corpus.py
"""

import json
import struct
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "fuzz" / "corpus" / "tokenizer"
TRAIN = ["Hello world, hello tokenizer!", "naïve café 你好世界 😀", "def f(x):\n    return x + 1",
         "The quick brown fox jumps over the lazy dog 1234567890", "  spaces   and\ttabs\n\n"] * 4


def trained(model, trainer, **parts):
    tok = Tokenizer(model)
    for key, value in parts.items():
        setattr(tok, key, value)
    tok.train_from_iterator(TRAIN, trainer)
    return json.loads(tok.to_str())


def seeds():
    bl = trained(models.BPE(), trainers.BpeTrainer(vocab_size=300, show_progress=False,
                                                   initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                   special_tokens=["<|endoftext|>"]),
                 pre_tokenizer=pre_tokenizers.ByteLevel(add_prefix_space=False), decoder=decoders.ByteLevel())
    yield "bytelevel_bpe", bl
    qwen_like = json.loads(json.dumps(bl))
    qwen_like["normalizer"] = {"type": "NFC"}
    qwen_like["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": r"(?i:'s|'t|'re)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"},
         "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]}
    qwen_like["model"]["ignore_merges"] = True
    qwen_like["added_tokens"].append({"id": 0, "content": "<x>", "single_word": True, "lstrip": True, "rstrip": True,
                                      "normalized": False, "special": True})
    yield "qwen_like", qwen_like
    sp = trained(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True),
                 trainers.BpeTrainer(vocab_size=200, show_progress=False, special_tokens=["<unk>", "<s>", "</s>"]),
                 normalizer=normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]),
                 decoder=decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                            decoders.Strip(" ", 1, 0)]))
    for b in range(256):
        sp["model"]["vocab"].setdefault(f"<0x{b:02X}>", len(sp["model"]["vocab"]))
    sp["post_processor"] = json.loads(processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)]).__getstate__())
    yield "sentencepiece_bpe", sp
    meta = json.loads(json.dumps(sp))
    meta["normalizer"] = None
    meta["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": True}
    meta["decoder"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": True}
    yield "metaspace", meta
    yield "wordpiece", trained(models.WordPiece(unk_token="[UNK]"),
                               trainers.WordPieceTrainer(vocab_size=200, show_progress=False, special_tokens=["[UNK]", "[CLS]", "[SEP]"]),
                               normalizer=normalizers.BertNormalizer(), pre_tokenizer=pre_tokenizers.BertPreTokenizer(),
                               decoder=decoders.WordPiece(), post_processor=processors.BertProcessing(("[SEP]", 2), ("[CLS]", 1)))
    yield "wordlevel", trained(models.WordLevel(unk_token="<unk>"),
                               trainers.WordLevelTrainer(vocab_size=100, show_progress=False, special_tokens=["<unk>"]),
                               pre_tokenizer=pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Digits(True),
                                                                      pre_tokenizers.Punctuation()]))
    yield "suffix_bpe", trained(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"),
                                trainers.BpeTrainer(vocab_size=200, show_progress=False, special_tokens=["[UNK]"],
                                                    continuing_subword_prefix="##", end_of_word_suffix="</w>"),
                                normalizer=normalizers.Sequence([normalizers.NFKD(), normalizers.StripAccents(), normalizers.Lowercase()]),
                                pre_tokenizer=pre_tokenizers.WhitespaceSplit(), decoder=decoders.BPEDecoder())
    # Merges as "a b" strings, and the smallest tokenizer that loads.
    legacy = json.loads(json.dumps(bl))
    legacy["model"]["merges"] = [" ".join(m) for m in legacy["model"]["merges"]]
    yield "legacy_merges", legacy
    yield "minimal", {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}


TEXTS = ["", "Hello, world!", "  two  spaces\n\ttab", "naïve café 你好 😀 123", "<|im_start|>user\nhi<|im_end|>",
         "<s>[INST] hi [/INST]</s>", "e\u0301 ﬁ Ⅻ ２", "👨‍👩‍👧‍👦 🇫🇷", "def f(x):\n    return x ** 2\n", "a" * 300]
BYTES = [b"\xff\xfe", b"\xe4\xbd", b"ok\xed\xa0\x80ok", b"\xc0\x80\xf4\x90\x80\x80"]
IDS = [[9707, 1879, 0], [151644, 872, 198, 13048, 151645], [28705, 231, 180, 163, 13], [1, 2, 0, -1, 999999],
       [3, 4, 5, 6, 7, 8, 259, 260], [151643, 151643, 220, 220]]


def main():
    for sub in ("json", "text", "ids"):
        (OUT / sub).mkdir(parents=True, exist_ok=True)
    for name, config in seeds():
        (OUT / "json" / f"{name}.json").write_text(json.dumps(config, ensure_ascii=False))
    for i, text in enumerate(TEXTS):
        (OUT / "text" / f"text{i:02d}").write_bytes(text.encode())
    for i, data in enumerate(BYTES):
        (OUT / "text" / f"bytes{i:02d}").write_bytes(data)
    for i, ids in enumerate(IDS):
        (OUT / "ids" / f"ids{i:02d}").write_bytes(struct.pack(f"<{len(ids)}i", *ids))


if __name__ == "__main__":
    main()
