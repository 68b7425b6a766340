#!/usr/bin/env python3
"""Writes tests/data/tokenizers/extra_goldens.json.gz: what Hugging Face returns for a large,
nasty corpus, to test salut's tokenizer against (extra_golden_test.cpp).

    .venv/bin/python tests/tokenizer/make_extra_goldens.py

Everything is deterministic (fixed seeds). Four sections:

real      The four real tokenizers of tests/data/tokenizers on the whole corpus, as the
          `tokenizers` package loads tokenizer.json ("tokenizer_json") and as transformers'
          AutoTokenizer loads the folder ("transformers", stored only where it differs). Inputs
          that are not valid UTF-8 are stored as base64 bytes; Hugging Face sees them decoded
          with errors="replace", as Python would read them.
sweeps    Every Unicode code point, 4096 at a time, through each real tokenizer (digests).
variants  Small tokenizers trained here ("bases"), with every normalizer, pre-tokenizer, model
          option, added-token option, post-processor and decoder swapped in ("changes": top-level
          keys replaced, "model" fields updated, "added_tokens" appended); digests per text.
decode    Digests of decoding pseudo-random ID lists (the generator is shared with the C++ test).

A digest is FNV-1a 64 (hex) over: the IDs of encode(text, False) as little-endian int32, four
0xFF bytes, the IDs of encode(text, True), four 0xFF bytes, decode(those, False) in UTF-8, a
zero byte, decode(those, True).
"""

import base64
import copy
import gzip
import json
import os
import random
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import tokenizers  # noqa: E402
import transformers  # noqa: E402
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "tokenizers"
OUT = DATA / "extra_goldens.json.gz"
REAL = ["qwen3", "llama3_1", "llama2", "deepseek_v3"]

# --- digests and the shared pseudo-random ID generator --------------------------------------

FNV_START, FNV_PRIME, MASK = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1


def fnv(data, h=FNV_START):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK
    return h


def ids_bytes(ids):
    return b"".join((i & 0xFFFFFFFF).to_bytes(4, "little") for i in ids)


def digest(ids, ids_special, decoded, decoded_skip):
    h = fnv(ids_bytes(ids))
    h = fnv(b"\xff" * 4, h)
    h = fnv(ids_bytes(ids_special), h)
    h = fnv(b"\xff" * 4, h)
    h = fnv(decoded.encode("utf-8"), h)
    h = fnv(b"\x00", h)
    h = fnv(decoded_skip.encode("utf-8"), h)
    return f"{h:016x}"


def lcg_id_lists(seed, bound, count=40, max_length=24):
    """ID lists from a 64-bit LCG; extra_golden_test.cpp has the same generator."""
    x = seed & MASK
    lists = []

    def step():
        nonlocal x
        x = (x * 6364136223846793005 + 1442695040888963407) & MASK
        return x >> 33

    for _ in range(count):
        length = 1 + step() % max_length
        lists.append([int(step() % (bound + 8)) - 4 for _ in range(length)])
    return lists


def decode_digest(tok, bound, seed):
    """None when `tokenizers` panics on one of the lists (its Strip decoder does on empty text)."""
    h = FNV_START
    for ids in lcg_id_lists(seed, bound):
        ids = [i for i in ids if i >= 0]  # tokenizers takes unsigned IDs; the C++ side skips negatives itself
        try:
            h = fnv(tok.decode(ids, skip_special_tokens=False).encode("utf-8") + b"\x00", h)
            h = fnv(tok.decode(ids, skip_special_tokens=True).encode("utf-8") + b"\x00", h)
        except BaseException:  # pyo3's PanicException derives from BaseException
            return None
    return f"{h:016x}"


# --- the corpus ------------------------------------------------------------------------------

SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|begin_of_text|>", "<|eot_id|>",
            "<|start_header_id|>", "<|end_header_id|>", "<s>", "</s>", "<unk>", "[INST]", "[/INST]",
            "<think>", "</think>", "<tool_call>", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>",
            "<｜User｜>", "<｜Assistant｜>", "<|reserved_special_token_5|>", "<|fim_prefix|>"]

HANDWRITTEN = [
    "", " ", "  ", "\t", "\n", "\r\n", "\n\n\n", " \n ", "\u3000", "\u00a0", "\u2028", "\u2029", "\u0085",
    "\u200b", "\u200d", "\ufeff", "\x00", "\x01\x02\x7f", "\u180e", "\u2000\u2001\u2002\u200a",
    "a\u00a0b\u3000c\u2003d", "tab\tsep\t\tx", "  leading", "trailing   ", "   \n\t  \r\n  ", " \t \n \r ",
    "0", "00", "007", "1234567890123", "3.14159", "-12,345.67e-8", "1,000,000", "١٢٣٤٥", "०१२३", "０１２３",
    "½ ¼ ² ³ ⅓ Ⅻ ⑫", "𝟘𝟙𝟚", "v1.2.3-beta+exp.sha.5114f85", "0xDEADBEEF 0b1011 0o777",
    "I'm", "I'M", "you'LL", "it'S", "we'Ve", "they'd'nt", "'s 't 're 've 'm 'll 'd", "x'ſ", "rock'n'roll",
    "don't won't can't shan't", "O'Neill's", "ʼs ’s ‘quoted’",
    "def f(x):\n    return x ** 2  # square\n", "if (a && b || !c) { return *p++; }",
    "const x = () => { console.log(`t ${y}`); };", "SELECT * FROM t WHERE a >= 1 AND b <> 'x';",
    "<div class=\"a\"><span>&amp;&lt;&gt;</span></div>", "#!/bin/bash\necho \"$HOME\" | grep -v '^#'",
    "fn main() { let v: Vec<u8> = vec![1, 2]; println!(\"{:?}\", v); }", "x = {'a': [1, 2.5, None, True]}",
    "    indented\n\tmixed\n  \n", "a\\nb\\tc\\\\d", "@decorator\nclass C(Base):\n    pass",
    "```python\nprint('hi')\n```", "| a | b |\n|---|---|\n| 1 | 2 |", "- [ ] todo\n- [x] done",
    "https://example.com/a/b?c=d&e=f#g", "user@example.co.uk", "C:\\Windows\\System32", "~/.config/x.yaml",
    "😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵🇺🇸", "1️⃣#️⃣", "❤️‍🔥", "🧑🏿‍🚀", "😀😃😄😁😆😅🤣😂",
    "e\u0301", "a\u0300\u0301\u0302\u0303\u0304", "Z̷̢̛̛̗̪̹̦̞͎̤̲͉͙͕̤̖̀͌̿̂̈́̈́̇̅͆̀̆̚͝a̵̢̧͉̦͎͚̬̜̥͇̓̄̈́̀ͅl̴̡̨̛̜̘̲̼̟̘̮̣̀̌̇̈́̀g̷o̷",
    "ﬁ ﬂ ﬃ", "Å Å Å", "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ", "ﾊﾝｶｸ ｶﾀｶﾅ", "𝐁𝐨𝐥𝐝 𝑰𝒕𝒂𝒍𝒊𝒄", "Ⓐⓑⓒ",
    "İstanbul ıi", "STRASSE Straße ẞ", "ΣΊΣΥΦΟΣ σίσυφος ς", "ǅ ǈ ǋ", "Ⅷ ⅷ", "ﬀ", "ŉ",
    "你好世界", "𠀀𠀁𪚥", "日本語とカタカナとひらがな", "한국어 텍스트", "한", "中文，标点。！？",
    "العربية النص", "עברית", "हिन्दी पाठ", "தமிழ்", "বাংলা", "ไทยภาษา", "ລາວ", "ქართული", "Հայերեն",
    "አማርኛ", "ᐃᓄᒃᑎᑐᑦ", "ꦗꦮ", "𐌰𐌱𐌲", "ᚠᚢᚦ", "Ελληνικά", "Кириллица ёЁ", "Tiếng Việt có dấu",
    "مرحبا123abc", "abc你好123", "русский123english", "混合mixed混合", "日本語123テスト",
    "\ue000\uf8ff", "\U000f0000", "\ufffe\uffff", "\ufffd", "\U0010ffff", "\u0378", "\U0002ebf0\U00031350",
    "\U00010d40\U00010d50\U00011f50", "\u1c89\ua7cb",
    "a" * 300, "ab" * 200, " " * 300, "\n" * 100, "!" * 100, "1" * 100, "你" * 100, "😀" * 60,
    "word " * 60, "x" * 5000,
]

for s in SPECIALS:
    HANDWRITTEN += [s, s + s, " " + s + " ", "x" + s + "y", "\n" + s + "\n", s[:-1], s[1:], s.upper(),
                    f"{s}user\nhello{s}\n", f"a {s} b  {s}  c"]


def random_texts(rng, count):
    pools = [
        [chr(c) for c in range(0x20, 0x7F)],
        list(" \t\n\r\u00a0\u3000\u2009\u200b\u2028"),
        [chr(c) for c in range(0xA0, 0x250)],
        [chr(c) for c in range(0x300, 0x370)],
        [chr(c) for c in range(0x4E00, 0x4F00)],
        [chr(c) for c in range(0xAC00, 0xAD00)] + [chr(c) for c in range(0x1100, 0x1200)],
        [chr(c) for c in range(0x1F300, 0x1F700)] + ["\u200d", "\ufe0f", "\U0001f3fd"],
        [chr(c) for c in range(0x600, 0x700)] + [chr(c) for c in range(0x900, 0x980)],
        SPECIALS,
    ]
    texts = []
    for _ in range(count):
        weights = [rng.random() for _ in pools]
        n = rng.choice([1, 2, 3, 5, 8, 13, 21, 40, 80, 150])
        parts = []
        for _ in range(n):
            r = rng.random()
            if r < 0.02:
                c = rng.randrange(0x110000)
                parts.append(chr(c) if not 0xD800 <= c <= 0xDFFF else "?")
            else:
                pool = rng.choices(pools, weights)[0]
                parts.append(rng.choice(pool))
        texts.append("".join(parts))
    return texts


def garbage(rng, count):
    pieces = [b"\xff", b"\xfe", b"\xc0\x80", b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf4\x90\x80\x80",
              b"\xf8\x88\x80\x80\x80", b"\x80", b"\xbf", b"\xe4\xbd", b"\xf0\x9f\x98", b"\xc3", b"\xe2\x82",
              "ok".encode(), "你好".encode(), "😀".encode(), b" ", b"\n", "<|im_end|>".encode(), b"\x00"]
    out = []
    for _ in range(count):
        if rng.random() < 0.3:
            out.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))))
        else:
            out.append(b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12))))
    return out


def build_corpus():
    rng = random.Random(20261126)
    corpus = list(HANDWRITTEN)
    for name in REAL:  # the chat prompts of the shared goldens
        goldens = json.loads(gzip.decompress((DATA / name / "goldens.json.gz").read_bytes()))
        corpus += [c["prompt"] for c in goldens["chat"] if "prompt" in c]
    corpus += random_texts(rng, 360)
    corpus += garbage(rng, 80)
    prose = " ".join(rng.choice(["the", "of", "tokenizer", "model", "Rust", "C++", "fast", "exact", "Hugging",
                                 "Face", "token", "merge", "rank", "byte", "UTF-8", "naïve", "café", "数据",
                                 "テスト", "🙂", "42", "3.14", "\n", "\n\n", "  "]) for _ in range(4000))
    corpus.append(prose)
    return corpus


def as_text(item):
    return item.decode("utf-8", errors="replace") if isinstance(item, bytes) else item


def as_json(item):
    return {"b64": base64.b64encode(item).decode()} if isinstance(item, bytes) else item


# --- the real tokenizers -----------------------------------------------------------------------


def real_folder(name, tmp):
    folder = Path(tmp) / name
    folder.mkdir()
    for file in ("tokenizer.json", "tokenizer_config.json"):
        (folder / file).write_bytes(gzip.decompress((DATA / name / (file + ".gz")).read_bytes()))
    return folder


def results(encode, decode, corpus):
    out = []
    for item in corpus:
        text = as_text(item)
        ids = encode(text, False)
        special = encode(text, True)
        decoded = decode(special, False)
        decoded_skip = decode(special, True)
        entry = {"ids": ids}
        if special != ids:
            entry["ids_special"] = special
        if decoded != text:
            entry["decoded"] = decoded
        if decoded_skip != decoded:
            entry["decoded_skip"] = decoded_skip
        out.append(entry)
    return out


def sweep_text(chunk):
    """4096 code points as words of 8, a line break every 64."""
    out = []
    for i, c in enumerate(chunk):
        if i and i % 64 == 0:
            out.append("\n")
        elif i and i % 8 == 0:
            out.append(" ")
        out.append(chr(c))
    return "".join(out)


SWEEP_CODE_POINTS = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


def sweep(tok):
    digests = []
    for start in range(0, len(SWEEP_CODE_POINTS), 4096):
        text = sweep_text(SWEEP_CODE_POINTS[start:start + 4096])
        ids = tok.encode(text, add_special_tokens=False).ids
        special = tok.encode(text, add_special_tokens=True).ids
        digests.append(digest(ids, special, tok.decode(special, skip_special_tokens=False),
                              tok.decode(special, skip_special_tokens=True)))
    return digests


# --- small tokenizers and their variants ---------------------------------------------------------

def training_text():
    rng = random.Random(7)
    words = HANDWRITTEN[:200] + random_texts(rng, 300)
    return [w for w in words if w] * 3


def train(model, trainer, pre_tokenizer=None, normalizer=None, decoder=None):
    tok = Tokenizer(model)
    if normalizer:
        tok.normalizer = normalizer
    if pre_tokenizer:
        tok.pre_tokenizer = pre_tokenizer
    if decoder:
        tok.decoder = decoder
    tok.train_from_iterator(training_text(), trainer)
    return json.loads(tok.to_str())


def base_tokenizers():
    bases = {}
    bases["bl"] = train(models.BPE(), trainers.BpeTrainer(vocab_size=900, show_progress=False,
                                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                          special_tokens=["<|endoftext|>", "<|im_start|>"]),
                        pre_tokenizer=pre_tokenizers.ByteLevel(add_prefix_space=False), decoder=decoders.ByteLevel())
    sp = train(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True),
               trainers.BpeTrainer(vocab_size=700, show_progress=False, special_tokens=["<unk>", "<s>", "</s>"]),
               pre_tokenizer=pre_tokenizers.Metaspace(), decoder=decoders.Metaspace())
    vocab = sp["model"]["vocab"]
    for b in range(256):  # byte fallback tokens, as SentencePiece vocabularies have
        vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    bases["sp"] = sp
    bases["cs"] = train(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"),
                        trainers.BpeTrainer(vocab_size=600, show_progress=False, special_tokens=["[UNK]"],
                                            continuing_subword_prefix="##", end_of_word_suffix="</w>"),
                        pre_tokenizer=pre_tokenizers.Whitespace(), decoder=decoders.BPEDecoder(suffix="</w>"))
    bases["wp"] = train(models.WordPiece(unk_token="[UNK]"),
                        trainers.WordPieceTrainer(vocab_size=600, show_progress=False,
                                                  special_tokens=["[UNK]", "[CLS]", "[SEP]", "[PAD]"]),
                        normalizer=normalizers.BertNormalizer(), pre_tokenizer=pre_tokenizers.BertPreTokenizer(),
                        decoder=decoders.WordPiece())
    bases["wl"] = train(models.WordLevel(unk_token="<unk>"),
                        trainers.WordLevelTrainer(vocab_size=400, show_progress=False, special_tokens=["<unk>"]),
                        pre_tokenizer=pre_tokenizers.Whitespace())
    return bases


def added(content, **kw):
    token = {"id": 0, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": False}
    token.update(kw)
    return token


def js(component):
    """The tokenizer.json form of a tokenizers component."""
    return json.loads(component.__getstate__())


def bl_after(pre):
    return {"type": "Sequence", "pretokenizers": [pre, {"type": "ByteLevel", "add_prefix_space": False,
                                                          "trim_offsets": False, "use_regex": False}]}


def split(pattern, behavior, invert=False):
    return {"type": "Split", "pattern": pattern, "behavior": behavior, "invert": invert}


def variant_specs():
    specs = []
    norm = lambda n: {"normalizer": js(n)}  # noqa: E731
    for name, n in [("nfc", normalizers.NFC()), ("nfd", normalizers.NFD()), ("nfkc", normalizers.NFKC()),
                    ("nfkd", normalizers.NFKD()), ("lowercase", normalizers.Lowercase()),
                    ("strip", normalizers.Strip()), ("lstrip", normalizers.Strip(left=True, right=False)),
                    ("rstrip", normalizers.Strip(left=False, right=True)),
                    ("strip_accents", normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents()])),
                    ("replace_string", normalizers.Replace("a", "bb")),
                    ("replace_regex", normalizers.Replace(tokenizers.Regex(r"\s+"), " ")),
                    ("prepend", normalizers.Prepend("▁")), ("nmt", normalizers.Nmt()),
                    ("bert_default", normalizers.BertNormalizer()),
                    ("bert_plain", normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False,
                                                              strip_accents=False, lowercase=False)),
                    ("bert_accents", normalizers.BertNormalizer(lowercase=False, strip_accents=True)),
                    ("sequence", normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(),
                                                       normalizers.Strip()]))]:
        specs.append(("bl", "norm_" + name, norm(n)))
    specs.append(("bl", "norm_bytelevel", {"normalizer": {"type": "ByteLevel"}, "pre_tokenizer": None}))

    regex = {"Regex": r"\s+"}
    for behavior in ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]:
        for invert in (False, True):
            specs.append(("bl", f"split_{behavior}_{invert}", {"pre_tokenizer": bl_after(split(regex, behavior, invert))}))
        specs.append(("bl", f"split_string_{behavior}", {"pre_tokenizer": bl_after(split({"String": " "}, behavior))}))
    for name, pattern in [("anchors", r"^\s*\w+|\w+$"), ("boundary", r"\b\w+\b"), ("hex", r"\h+"),
                          ("word", r"\w+|\W"), ("digit", r"\d{1,3}|\D+"), ("upto", r"a{,2}|[^a]+"),
                          ("negated", r"[^\S\n]+|\P{L}+|\p{L}+"), ("caseless", r"(?i:'s|'t|the)"),
                          ("unicode_uhex", r"[\u4e00-\u9fa5]+"), ("classes", r"[\p{Lu}\p{Lt}][\p{Ll}\p{M}]*|\p{N}+"),
                          ("dot", r"."), ("empty", r"x*"), ("lookbehind", r"(?<=a)b|(?<!c)d"),
                          ("qwen", r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")]:
        specs.append(("bl", "regex_" + name, {"pre_tokenizer": bl_after(split({"Regex": pattern}, "Isolated"))}))
    for name, p in [("digits", js(pre_tokenizers.Digits(individual_digits=False))),
                    ("digits_single", js(pre_tokenizers.Digits(individual_digits=True))),
                    ("whitespace", js(pre_tokenizers.Whitespace())),
                    ("whitespace_split", js(pre_tokenizers.WhitespaceSplit())),
                    ("punct", js(pre_tokenizers.Punctuation())),
                    ("punct_contiguous", js(pre_tokenizers.Punctuation("contiguous"))),
                    ("punct_next", js(pre_tokenizers.Punctuation("merged_with_next"))),
                    ("bert", js(pre_tokenizers.BertPreTokenizer())),
                    ("delimiter", js(pre_tokenizers.CharDelimiterSplit("-"))),
                    ("fixed", {"type": "FixedLength", "length": 3})]:
        specs.append(("bl", "pre_" + name, {"pre_tokenizer": bl_after(p)}))
    specs.append(("bl", "bytelevel_gpt2", {"pre_tokenizer": js(pre_tokenizers.ByteLevel(add_prefix_space=True))}))
    specs.append(("bl", "bytelevel_prefix_noregex",
                  {"pre_tokenizer": js(pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=False))}))
    specs.append(("bl", "bytelevel_not_last",
                  {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                      js(pre_tokenizers.ByteLevel(add_prefix_space=False)), split({"Regex": "Ġ"}, "MergedWithNext")]}}))
    specs.append(("bl", "ignore_merges", {"model": {"ignore_merges": True}}))
    specs.append(("bl", "no_pre_tokenizer", {"pre_tokenizer": None}))

    for scheme in ["always", "first", "never"]:
        for do_split in (True, False):
            meta = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": do_split}
            specs.append(("sp", f"metaspace_{scheme}_{do_split}", {"pre_tokenizer": meta, "decoder": meta}))
    specs.append(("sp", "no_byte_fallback", {"model": {"byte_fallback": False}}))
    specs.append(("sp", "no_fuse_unk", {"model": {"byte_fallback": False, "fuse_unk": False}}))
    specs.append(("sp", "no_unk", {"model": {"byte_fallback": False, "unk_token": None}}))
    specs.append(("sp", "llama_style", {
        "normalizer": js(normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])),
        "pre_tokenizer": None,
        "decoder": js(decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(" ", 1, 0)])),
        "post_processor": js(processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                           special_tokens=[("<s>", 1)]))}))
    specs.append(("cs", "prefix_suffix", {}))
    specs.append(("cs", "prefix_suffix_fuse", {"model": {"fuse_unk": True}}))
    specs.append(("wp", "wordpiece", {"post_processor": js(processors.BertProcessing(("[SEP]", 2), ("[CLS]", 1)))}))
    specs.append(("wp", "wordpiece_no_cleanup", {"decoder": js(decoders.WordPiece(cleanup=False))}))
    specs.append(("wl", "wordlevel", {}))

    tokens = [added("<x>", lstrip=True), added("<y>", rstrip=True), added("<z>", lstrip=True, rstrip=True),
              added("the", single_word=True), added("HELLO", normalized=True), added("<|im_start|>", special=True),
              added("<|im_end|>", special=True, rstrip=True), added("ab"), added("abc"), added("bcd"),
              added(" spaced ", normalized=False), added("é", normalized=True, special=True), added("\n\n")]
    specs.append(("bl", "added_tokens", {"added_tokens": tokens}))
    specs.append(("bl", "added_tokens_lowercase", {"added_tokens": tokens, "normalizer": js(normalizers.Lowercase())}))
    specs.append(("sp", "added_tokens_sp", {"added_tokens": tokens}))
    specs.append(("bl", "post_roberta", {"post_processor": js(processors.RobertaProcessing(("<|endoftext|>", 0),
                                                                                         ("<|im_start|>", 1)))}))
    specs.append(("bl", "post_template", {"post_processor": js(processors.TemplateProcessing(
        single="<|im_start|> $A <|endoftext|> <|endoftext|>", pair="$A $B",
        special_tokens=[("<|im_start|>", 1), ("<|endoftext|>", 0)]))}))
    specs.append(("bl", "post_sequence", {"post_processor": js(processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", 0)])]))}))
    for name, d in [("dec_metaspace_never", {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never",
                                             "split": True}),
                    ("dec_strip", js(decoders.Strip(" ", 2, 1))),
                    ("dec_replace_regex", {"type": "Replace", "pattern": {"Regex": "▁+"}, "content": "_"}),
                    ("dec_fuse_strip", js(decoders.Sequence([decoders.ByteFallback(), decoders.Fuse(),
                                                             decoders.Strip("▁", 1, 1)]))),
                    ("dec_ctc", js(decoders.CTC(pad_token="<unk>", word_delimiter_token="▁"))),
                    ("dec_wordpiece", js(decoders.WordPiece(prefix="▁"))),
                    ("dec_bpe", js(decoders.BPEDecoder(suffix="▁"))),
                    ("dec_none", None)]:
        specs.append(("sp", name, {"decoder": d}))
    return specs


def apply(base, changes):
    config = copy.deepcopy(base)
    for key, value in changes.items():
        if key == "model":
            config["model"].update(value)
        elif key == "added_tokens":
            config["added_tokens"] = config["added_tokens"] + value
        else:
            config[key] = value
    return config


def main():
    corpus = build_corpus()
    out = {"meta": {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__,
                    "python_note": "bytes inputs are decoded with errors='replace'"},
           "corpus": [as_json(item) for item in corpus], "real": {}, "sweeps": {}, "variants": [], "decode": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in REAL:
            folder = real_folder(name, tmp)
            raw = Tokenizer.from_file(str(folder / "tokenizer.json"))
            raw_results = results(lambda t, s: raw.encode(t, add_special_tokens=s).ids,
                                  lambda i, s: raw.decode(i, skip_special_tokens=s), corpus)
            auto = transformers.AutoTokenizer.from_pretrained(str(folder))
            auto_results = results(lambda t, s: auto(t, add_special_tokens=s)["input_ids"],
                                   lambda i, s: auto.decode(i, skip_special_tokens=s), corpus)
            # Only the texts where transformers differs from tokenizer.json alone: {index: result}.
            entry = {"tokenizer_json": raw_results,
                     "transformers": {str(i): a for i, (a, r) in enumerate(zip(auto_results, raw_results)) if a != r}}
            out["real"][name] = entry
            out["sweeps"][name] = sweep(raw)
            out["decode"][name] = decode_digest(raw, raw.get_vocab_size(), seed=len(name))
            print(name, len(entry["transformers"]), "texts differ under transformers", flush=True)
        shutil.rmtree(tmp, ignore_errors=True)

    bases = base_tokenizers()
    out["bases"] = bases
    subset = [item for i, item in enumerate(corpus) if i % 3 == 0 or isinstance(item, bytes)]
    out["variant_corpus"] = [as_json(item) for item in subset]
    for index, (base, name, changes) in enumerate(variant_specs()):
        config = apply(bases[base], changes)
        tok = Tokenizer.from_str(json.dumps(config))
        digests = []
        for item in subset:
            text = as_text(item)
            try:
                ids = tok.encode(text, add_special_tokens=False).ids
                special = tok.encode(text, add_special_tokens=True).ids
                digests.append(digest(ids, special, tok.decode(special, skip_special_tokens=False),
                                      tok.decode(special, skip_special_tokens=True)))
            except BaseException:  # a panic inside `tokenizers`: nothing to compare with
                digests.append(None)
        out["variants"].append({"name": name, "base": base, "changes": changes, "digests": digests,
                                "decode": decode_digest(tok, tok.get_vocab_size(), seed=1000 + index)})
        print(name, sum(d is None for d in digests), "panics", flush=True)
    data = gzip.compress(json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode(), 9, mtime=0)
    OUT.write_bytes(data)
    print(f"wrote {OUT} ({len(data)} bytes, {len(corpus)} texts, {len(out['variants'])} variants)")


if __name__ == "__main__":
    main()
