"""`salut tokenize`, `detokenize` and `template` (--jsonl) against Hugging Face: every case of the
goldens in tests/data/tokenizers through the real binary, byte for byte.

Token IDs are compared with what the `transformers` installed here returns for the same folder,
not with the recorded IDs: the goldens were recorded with transformers 5.17, which loaded DeepSeek
V3 (byte-level, but `tokenizer_class: LlamaTokenizerFast`) through a Metaspace pipeline that drops
its spaces; later releases load its tokenizer.json as it is, as salut does. The recorded goldens
themselves are checked byte for byte, that pipeline included, by tests/tokenizer/golden_test.cpp."""

import gzip
import json
import subprocess
from pathlib import Path

import pytest

from salut_util import REPO_ROOT, SALUT_BIN

DATA = REPO_ROOT / "tests" / "data" / "tokenizers"
TOKENIZERS = sorted(p.name for p in DATA.iterdir() if (p / "goldens.json.gz").exists())


@pytest.fixture(scope="module", params=TOKENIZERS)
def model(request, tmp_path_factory):
    """A model folder holding the tokenizer files, and the goldens."""
    folder = tmp_path_factory.mktemp(request.param)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_bytes(gzip.decompress((DATA / request.param / f"{name}.gz").read_bytes()))
    goldens = json.loads(gzip.decompress((DATA / request.param / "goldens.json.gz").read_bytes()))
    return folder, with_live_reference(folder, goldens)


def with_live_reference(folder, goldens):
    """The goldens with IDs and decodes from this machine's transformers (see the module note)."""
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(folder))
    for case in goldens["encode"]:
        case["ids"] = hf.encode(case["text"], add_special_tokens=False)
        case["ids_with_special"] = hf.encode(case["text"], add_special_tokens=True)
        case["decoded"] = hf.decode(case["ids"])
        case["decoded_skip_special"] = hf.decode(case["ids"], skip_special_tokens=True)
    for case in goldens["chat"]:
        if "prompt" in case:
            case["ids"] = hf.encode(case["prompt"], add_special_tokens=False)  # the template supplies BOS
    return goldens


def run_jsonl(args, inputs):
    text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in inputs)
    proc = subprocess.run([str(SALUT_BIN), *args, "--jsonl"], input=text.encode(), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == len(inputs)
    return [json.loads(line) for line in lines]


def test_tokenize(model):
    folder, goldens = model
    cases = goldens["encode"]
    texts = [case["text"] for case in cases]
    assert run_jsonl(["tokenize", str(folder)], texts) == [case["ids"] for case in cases]
    assert run_jsonl(["tokenize", str(folder), "--special"], texts) == [case["ids_with_special"] for case in cases]


def test_detokenize(model):
    folder, goldens = model
    cases = goldens["encode"]
    ids = [case["ids"] for case in cases]
    assert run_jsonl(["detokenize", str(folder)], ids) == [case["decoded"] for case in cases]
    assert run_jsonl(["detokenize", str(folder), "--skip-special"], ids) == [case["decoded_skip_special"] for case in cases]


def test_template(model):
    folder, goldens = model
    cases = goldens["chat"]
    requests = [case["request"] for case in cases]
    for case, result in zip(cases, run_jsonl(["template", str(folder)], requests)):
        if "error" in case:
            assert isinstance(result, dict) and "error" in result, case
        else:
            assert result == case["prompt"]
    for case, result in zip(cases, run_jsonl(["template", str(folder), "--ids"], requests)):
        if "error" not in case:
            assert result == case["ids"]


def test_single_shot_forms(model):
    folder, goldens = model
    case = goldens["encode"][0]
    proc = subprocess.run([str(SALUT_BIN), "tokenize", str(folder)], input=case["text"].encode(), capture_output=True)
    assert proc.returncode == 0 and json.loads(proc.stdout) == case["ids"]
    proc = subprocess.run([str(SALUT_BIN), "detokenize", str(folder)], input=json.dumps(case["ids"]).encode(),
                          capture_output=True)
    assert proc.returncode == 0 and proc.stdout.decode() == case["decoded"]
    chats = [c for c in goldens["chat"] if "prompt" in c]
    if chats:
        proc = subprocess.run([str(SALUT_BIN), "template", str(folder)], input=json.dumps(chats[0]["request"]).encode(),
                              capture_output=True)
        assert proc.returncode == 0 and proc.stdout.decode() == chats[0]["prompt"]  # exactly: no newline added


def test_bad_input_is_an_error_not_a_crash(model):
    folder, _ = model
    for args, stdin in ((["detokenize"], b"not json"), (["detokenize"], b'["a"]'), (["template"], b"[1]"),
                        (["template"], b'{"messages": 3}')):
        proc = subprocess.run([str(SALUT_BIN), args[0], str(folder)], input=stdin, capture_output=True, timeout=60)
        assert proc.returncode != 0
        assert len(proc.stderr.decode().strip().splitlines()) == 1
    results = run_jsonl(["detokenize", str(folder)], [[1, 2], "x", [-5], {"a": 1}])
    assert isinstance(results[0], str) and all("error" in r for r in results[1:])
    proc = subprocess.run([str(SALUT_BIN), "tokenize", str(folder)], input=b"\xff\xfe invalid \xc3", capture_output=True)
    assert proc.returncode == 0 and isinstance(json.loads(proc.stdout), list)
