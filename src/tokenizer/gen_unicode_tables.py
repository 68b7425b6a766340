#!/usr/bin/env python3
"""Generates unicode_tables.inc: character sets as Hugging Face `tokenizers` sees them.

`tokenizers` takes its Unicode data from several Rust crates and from Oniguruma, each of its
own Unicode version; ours come from utf8proc and PCRE2 (older versions on Debian 12). This
script asks the Python `tokenizers` package itself, code point by code point, and writes:

  * for regex properties (\\p{L}, \\s, \\d, \\w, ...), the PCRE2 class body that matches exactly
    Oniguruma's set (the PCRE2 property plus the code points PCRE2's tables lack);
  * the exact sets behind Digits, Punctuation, StripAccents, BertNormalizer and the
    Whitespace pre-tokenizer (the regex crate's \\w);
  * the code points where Lowercase or NFC/NFD/NFKC/NFKD give another result than utf8proc,
    and the marks utf8proc reorders that `tokenizers` treats as starters (unassigned in its
    Unicode version).

It needs the project's venv (tokenizers) and the system libpcre2-8 and libutf8proc:

    .venv/bin/python src/tokenizer/gen_unicode_tables.py > src/tokenizer/unicode_tables.inc
"""

import ctypes
import ctypes.util
import sys

import tokenizers
from tokenizers import Regex, normalizers, pre_tokenizers

CODE_POINTS = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
ALL = "".join(map(chr, CODE_POINTS))

# --- Oniguruma (through tokenizers) -------------------------------------------------------


def gaps_to_set(kept, length):
    """Code points not covered by the kept pieces (char offsets into ALL)."""
    out, prev = set(), 0
    for _, (a, b) in kept:
        out.update(CODE_POINTS[i] for i in range(prev, a))
        prev = b
    out.update(CODE_POINTS[i] for i in range(prev, length))
    return out


def onig_set(pattern):
    try:
        split = pre_tokenizers.Split(Regex(pattern), "removed")
    except Exception:
        return None
    return gaps_to_set(split.pre_tokenize_str(ALL), len(ALL))


# --- PCRE2 ---------------------------------------------------------------------------------

PCRE2 = ctypes.CDLL(ctypes.util.find_library("pcre2-8") or "libpcre2-8.so.0")
PCRE2.pcre2_compile_8.restype = ctypes.c_void_p
PCRE2.pcre2_compile_8.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32, ctypes.POINTER(ctypes.c_int),
                                  ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p]
PCRE2.pcre2_match_data_create_8.restype = ctypes.c_void_p
PCRE2.pcre2_match_data_create_8.argtypes = [ctypes.c_uint32, ctypes.c_void_p]
PCRE2.pcre2_match_8.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_uint32,
                                ctypes.c_void_p, ctypes.c_void_p]
PCRE2.pcre2_get_ovector_pointer_8.restype = ctypes.POINTER(ctypes.c_size_t)
PCRE2.pcre2_get_ovector_pointer_8.argtypes = [ctypes.c_void_p]
PCRE2_UTF, PCRE2_UCP, PCRE2_NO_UTF_CHECK = 0x00080000, 0x00020000, 0x40000000

ALL_UTF8 = ALL.encode("utf-8")
BYTE_TO_INDEX = {}
_offset = 0
for _i, _c in enumerate(CODE_POINTS):
    BYTE_TO_INDEX[_offset] = _i
    _offset += len(chr(_c).encode("utf-8"))
BYTE_TO_INDEX[_offset] = len(CODE_POINTS)


def pcre2_set(class_body):
    pattern = f"[{class_body}]+".encode("utf-8")
    err, off = ctypes.c_int(), ctypes.c_size_t()
    code = PCRE2.pcre2_compile_8(pattern, len(pattern), PCRE2_UTF | PCRE2_UCP, ctypes.byref(err), ctypes.byref(off), None)
    if not code:
        return None
    data = PCRE2.pcre2_match_data_create_8(1, None)
    out, start = set(), 0
    while PCRE2.pcre2_match_8(code, ALL_UTF8, len(ALL_UTF8), start, PCRE2_NO_UTF_CHECK, data, None) >= 0:
        ov = PCRE2.pcre2_get_ovector_pointer_8(data)
        a, b = ov[0], ov[1]
        out.update(CODE_POINTS[i] for i in range(BYTE_TO_INDEX[a], BYTE_TO_INDEX[b]))
        start = b
    return out


# --- utf8proc ------------------------------------------------------------------------------

UTF8PROC = ctypes.CDLL(ctypes.util.find_library("utf8proc") or "libutf8proc.so.2")
UTF8PROC.utf8proc_tolower.restype = ctypes.c_int32
UTF8PROC.utf8proc_tolower.argtypes = [ctypes.c_int32]
UTF8PROC.utf8proc_get_property.restype = ctypes.POINTER(ctypes.c_int16 * 2)  # category, combining class
UTF8PROC.utf8proc_get_property.argtypes = [ctypes.c_int32]
UTF8PROC.utf8proc_map.restype = ctypes.c_ssize_t
UTF8PROC.utf8proc_map.argtypes = [ctypes.c_char_p, ctypes.c_ssize_t, ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]
LIBC = ctypes.CDLL(None)
LIBC.free.argtypes = [ctypes.c_void_p]
STABLE, COMPAT, COMPOSE, DECOMPOSE = 1 << 1, 1 << 2, 1 << 3, 1 << 4


def utf8proc_map(text, options):
    data = text.encode("utf-8")
    out = ctypes.c_void_p()
    n = UTF8PROC.utf8proc_map(data, len(data), ctypes.byref(out), options)
    assert n >= 0, n
    result = ctypes.string_at(out.value, n).decode("utf-8")
    LIBC.free(out)
    return result


# --- helpers -------------------------------------------------------------------------------


def ranges(points):
    out = []
    for c in sorted(points):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def class_ranges(points):
    return "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges(points))


def c_string(text):
    return '"' + "".join(f"\\x{b:02X}" for b in text.encode("utf-8")) + '"'


def per_char(normalize, separator="\x00"):
    """normalize() applied to every code point, each on its own between separators."""
    chars = [c for c in CODE_POINTS if chr(c) != separator]
    parts = normalize(separator.join(map(chr, chars))).split(separator)
    assert len(parts) == len(chars), (len(parts), len(chars))
    return dict(zip(chars, parts))


def emit_ranges(name, points, comment):
    print(f"// {comment}")
    print(f"inline constexpr Range {name}[] = {{")
    line = "   "
    for a, b in ranges(points):
        item = f" {{0x{a:X}, 0x{b:X}}},"
        if len(line) + len(item) > 110:
            print(line)
            line = "   "
        line += item
    print(line)
    print("};")


def emit_mappings(name, mapping, comment):
    print(f"// {comment}")
    print(f"inline constexpr Mapping {name}[] = {{")
    for c in sorted(mapping):
        print(f"    {{0x{c:X}, {c_string(mapping[c])}}},")
    if not mapping:
        print("    {0x110000, \"\"},  // none")
    print("};")


# --- the tables ----------------------------------------------------------------------------

CATEGORIES = ["L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc", "Pd",
              "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So", "Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Co"]
LONG_NAMES = {"Letter": "L", "Uppercase_Letter": "Lu", "Lowercase_Letter": "Ll", "Titlecase_Letter": "Lt",
              "Modifier_Letter": "Lm", "Other_Letter": "Lo", "Mark": "M", "Nonspacing_Mark": "Mn",
              "Spacing_Mark": "Mc", "Enclosing_Mark": "Me", "Number": "N", "Decimal_Number": "Nd",
              "Letter_Number": "Nl", "Other_Number": "No", "Punctuation": "P", "Connector_Punctuation": "Pc",
              "Dash_Punctuation": "Pd", "Open_Punctuation": "Ps", "Close_Punctuation": "Pe",
              "Initial_Punctuation": "Pi", "Final_Punctuation": "Pf", "Other_Punctuation": "Po", "Symbol": "S",
              "Math_Symbol": "Sm", "Currency_Symbol": "Sc", "Modifier_Symbol": "Sk", "Other_Symbol": "So",
              "Separator": "Z", "Space_Separator": "Zs", "Line_Separator": "Zl", "Paragraph_Separator": "Zp",
              "Other": "C", "Control": "Cc", "Format": "Cf", "Private_Use": "Co"}
SCRIPTS = ["Han", "Hiragana", "Katakana", "Hangul", "Latin", "Greek", "Cyrillic", "Arabic", "Hebrew", "Thai",
           "Devanagari", "Bengali", "Tamil", "Armenian", "Georgian", "Ethiopic", "Common", "Inherited"]


def property_body(name, onig, bases):
    """A PCRE2 class body matching exactly `onig`: a PCRE2 base plus the code points it lacks."""
    for base in bases:
        pcre = pcre2_set(base)
        if pcre is not None and pcre <= onig:
            return base + class_ranges(onig - pcre)
    return class_ranges(onig)


def main():
    out = sys.stdout
    print(f"// Generated by gen_unicode_tables.py from tokenizers {tokenizers.__version__}; do not edit.")
    print("namespace salut::tokenizer::tables {")
    print()

    # Regex class bodies.
    bodies = {}
    for name in CATEGORIES + SCRIPTS:
        onig = onig_set(f"\\p{{{name}}}")
        if onig is None:
            continue
        bodies[name] = property_body(name, onig, [f"\\p{{{name}}}"])
    bodies["s"] = class_ranges(onig_set(r"\s"))
    bodies["d"] = property_body("d", onig_set(r"\d"), [r"\p{Nd}"])
    bodies["w"] = property_body("w", onig_set(r"\w"), [r"\p{L}\p{M}\p{Nd}\p{Pc}", r"\p{L}\p{M}\p{Pc}"])
    for long_name, short in LONG_NAMES.items():
        if short in bodies:
            bodies[long_name] = bodies[short]
    # Every body must give Oniguruma's set under PCRE2.
    for name in CATEGORIES + SCRIPTS + ["s", "d", "w"]:
        if name not in bodies:
            continue
        pattern = {"s": r"\s", "d": r"\d", "w": r"\w"}.get(name, f"\\p{{{name}}}")
        got = pcre2_set(bodies[name])
        assert got == onig_set(pattern), f"class body for {name} does not match"
    print("// Class bodies that give PCRE2 Oniguruma's sets (regex.cpp).")
    print("inline constexpr PropertyExtra kPropertyExtras[] = {")
    for name, body in bodies.items():
        escaped = body.replace("\\", "\\\\")
        print(f'    {{"{name}", "{escaped}"}},')
    print("};")
    print()

    # Digits: runs of numeric and non-numeric code points alternate (U+0000 is not numeric).
    pieces = pre_tokenizers.Digits(individual_digits=False).pre_tokenize_str(ALL)
    numeric = set()
    for k, (_, (a, b)) in enumerate(pieces):
        if k % 2 == 1:
            numeric.update(CODE_POINTS[i] for i in range(a, b))
    emit_ranges("kNumeric", numeric, "char::is_numeric (the Digits pre-tokenizer).")
    punctuation = gaps_to_set(pre_tokenizers.Punctuation(behavior="removed").pre_tokenize_str(ALL), len(ALL))
    emit_ranges("kPunctuation", punctuation, "The Punctuation and BertPreTokenizer test.")
    accents = per_char(normalizers.StripAccents().normalize_str)
    emit_ranges("kCombiningMark", {c for c, r in accents.items() if r == ""}, "StripAccents' combining marks.")
    nfd = per_char(normalizers.NFD().normalize_str)
    bert_strip = per_char(normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True,
                                                     lowercase=False).normalize_str)
    emit_ranges("kNonspacingMark", {c for c, r in bert_strip.items() if r == "" and nfd[c] == chr(c)},
                "BertNormalizer's strip_accents (nonspacing marks, as far as NFD output can hold them).")

    # The regex crate's \w: "a" + c is one piece if c is a word character, two if it is other.
    probe = "".join("a" + chr(c) + " " for c in CODE_POINTS)
    word = set()
    pieces = pre_tokenizers.Whitespace().pre_tokenize_str(probe)
    for _, (a, b) in pieces:
        if b - a == 2 and a % 3 == 0:
            word.add(CODE_POINTS[a // 3])
    word.add(ord("a"))
    emit_ranges("kWord", word, "The regex crate's \\w (Whitespace pre-tokenizer, added tokens' single_word).")

    # BertNormalizer's clean_text drops control characters ("a" separates the probes).
    clean = per_char(normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False,
                                                lowercase=False).normalize_str, separator="a")
    emit_ranges("kBertControl", {c for c, r in clean.items() if r == "" and c not in (0, 0xFFFD)},
                "BertNormalizer's control characters (removed by clean_text).")

    # Lowercase: where tokenizers differs from utf8proc's simple mapping.
    lower = per_char(normalizers.Lowercase().normalize_str)
    exceptions = {c: r for c, r in lower.items() if r != chr(UTF8PROC.utf8proc_tolower(c))}
    emit_mappings("kLowercase", exceptions, "Lowercase results that utf8proc's tolower does not give.")

    # Marks that utf8proc reorders (a combining class) but tokenizers' older tables do not know:
    # after "a" and U+0345 (class 240) a mark of class 1..239 moves first, a starter stays.
    marks = [c for c in CODE_POINTS if UTF8PROC.utf8proc_get_property(c).contents[1] != 0 and c != 0x345]
    probes = normalizers.NFD().normalize_str("\x00".join("a\u0345" + chr(c) for c in marks)).split("\x00")
    starters = {c for c, out in zip(marks, probes) if out.endswith(chr(c)) and "\u0345" in out and out.index("\u0345") < out.index(chr(c))}

    for name, normalizer, options in [("kNfc", normalizers.NFC(), STABLE | COMPOSE),
                                      ("kNfd", normalizers.NFD(), STABLE | DECOMPOSE),
                                      ("kNfkc", normalizers.NFKC(), STABLE | COMPOSE | COMPAT),
                                      ("kNfkd", normalizers.NFKD(), STABLE | DECOMPOSE | COMPAT)]:
        theirs = per_char(normalizer.normalize_str)
        ours = per_char(lambda text: utf8proc_map(text, options))
        diff = {c: theirs[c] for c in theirs if theirs[c] != ours[c] or c in starters}
        emit_mappings(name, diff, f"{name[1:].upper()} results that differ from utf8proc's.")
    print()
    print("}  // namespace salut::tokenizer::tables")
    out.flush()


if __name__ == "__main__":
    main()
