#!/usr/bin/env python3
"""Renders conversations through every real chat template in tests/data/chat/templates/ the way
transformers' tokenizer.apply_chat_template(..., tokenize=False) does, and writes the prompts (or
the errors) as goldens for tests/chat/template_test.cpp.

    .venv/bin/python tests/chat/make_template_goldens.py   # writes tests/data/chat/template_goldens.json.gz

The path is transformers' own: _normalize_chat_messages, then render_jinja_template with the
special tokens and keyword arguments. strftime_now sees a fixed clock (the C++ test sets the same
instant and TZ=UTC).
"""
import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import transformers  # noqa: E402
from fixed_clock import FIXED_NOW, ctu  # noqa: E402

TEMPLATES = Path(__file__).resolve().parents[1] / "data" / "chat" / "templates"
OUT = Path(__file__).resolve().parents[1] / "data" / "chat" / "template_goldens.json.gz"

# Special tokens as the families' tokenizer_config.json files set them (first matching prefix wins).
SPECIAL_TOKENS = [
    (("llama-3", "ollama-llama3", "hermes-2-pro", "ollama-hermes3", "ollama-llama4", "ollama-llama-guard3",
      "llama-guard", "ollama-dolphin-llama3", "ollama-deepseek-r1-8b", "ollama-cogito"),
     {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}),
    (("qwen", "ollama-qwen", "ollama-qwq", "ollama-deepcoder", "ollama-smallthinker", "hammer"),
     {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}),
    (("deepseek-r1", "ollama-deepseek"), {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"}),
    (("gemma", "ollama-gemma", "ollama-shieldgemma", "zephyr-7b-gemma"),
     {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"}),
    (("ollama-phi4", "ollama-phi3", "ollama-llava-phi3"), {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"}),
    (("ollama-smollm2", "smollm3"), {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>"}),
    (("", ), {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}),
]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the local time in a time zone",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
        "return": {"type": "string", "description": "HH:MM"},
    },
}

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
CALL_DICT = {"id": "call12345", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}
CALL_STR = {"id": "abc123XYZ", "type": "function", "function": {"name": "get_time", "arguments": "{\"tz\": \"Europe/Paris\"}"}}

REQUESTS = [
    {"messages": [{"role": "user", "content": "Hi there"}], "add_generation_prompt": True},
    {"messages": [SYSTEM, {"role": "user", "content": "What is 2+2?"}], "add_generation_prompt": True},
    {"messages": [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi! How can I help?"},
                  {"role": "user", "content": "Tell me a joke."}], "add_generation_prompt": True},
    {"messages": [SYSTEM, {"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi!"}],
     "add_generation_prompt": False},
    {"messages": [{"role": "user", "content": "  padded content with ünïcødé 中文 😀 and \"quotes\" \n"}],
     "add_generation_prompt": True},
    {"messages": [{"role": "user", "content": "Think briefly."}], "add_generation_prompt": True, "enable_thinking": False},
    {"messages": [{"role": "user", "content": "Think hard."}], "add_generation_prompt": True, "enable_thinking": True},
    {"messages": [{"role": "user", "content": "What's 3*7?"},
                  {"role": "assistant", "content": "<think>\n3 times 7 is 21.\n</think>\n\n21"},
                  {"role": "user", "content": "And 3*8?"}], "add_generation_prompt": True},
    {"messages": [{"role": "user", "content": "What's 3*7?"},
                  {"role": "assistant", "content": "21", "reasoning_content": "Multiply: 21."}],
     "add_generation_prompt": False},
    {"messages": [{"role": "user", "content": "What's the weather in Paris?"}], "add_generation_prompt": True,
     "tools": [WEATHER_TOOL, TIME_TOOL]},
    {"messages": [SYSTEM, {"role": "user", "content": "What's the weather in Paris?"},
                  {"role": "assistant", "content": None, "tool_calls": [CALL_DICT]},
                  {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"temp\": 21}"},
                  {"role": "assistant", "content": "It is 21 °C in Paris."},
                  {"role": "user", "content": "Thanks!"}],
     "add_generation_prompt": True, "tools": [WEATHER_TOOL]},
    {"messages": [{"role": "user", "content": "Weather and time in Paris?"},
                  {"role": "assistant", "content": "", "tool_calls": [CALL_DICT, CALL_STR]},
                  {"role": "tool", "tool_call_id": "call12345", "content": "sunny"},
                  {"role": "tool", "tool_call_id": "abc123XYZ", "content": "14:05"}],
     "add_generation_prompt": True, "tools": [WEATHER_TOOL, TIME_TOOL]},
    {"messages": [{"role": "user", "content": "Time?"},
                  {"role": "assistant", "content": "Let me check.", "tool_calls": [CALL_STR]},
                  {"role": "tool", "tool_call_id": "abc123XYZ", "content": "14:05"}],
     "add_generation_prompt": False, "tools": [TIME_TOOL]},
    {"messages": [{"role": "system", "content": [{"type": "text", "text": "Be terse."}]},
                  {"role": "user", "content": [{"type": "text", "text": "Describe"}, {"type": "text", "text": "this."}]}],
     "add_generation_prompt": True},
    {"messages": [{"role": "user", "content": "Why?"},
                  {"role": "assistant", "content": "Because.", "thinking": "own thinking", "reasoning_content": "reasons",
                   "tool_calls": None},
                  {"role": "user", "content": "OK"}], "add_generation_prompt": True, "enable_thinking": True},
    {"messages": [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}], "add_generation_prompt": True},
    {"messages": [{"role": "assistant", "content": "I start."}, {"role": "user", "content": "ok"}],
     "add_generation_prompt": True},
    {"messages": [SYSTEM, {"role": "user", "content": "Date?"}], "add_generation_prompt": True, "date_string": "09 Mar 2025"},
    {"messages": [{"role": "user", "content": "Use the documents."}], "add_generation_prompt": True,
     "documents": [{"title": "Doc A", "text": "Alpha."}, {"title": "Doc B", "text": "Beta."}]},
]


def special_tokens_for(name):
    for prefixes, tokens in SPECIAL_TOKENS:
        if any(name.startswith(p) for p in prefixes):
            return tokens
    raise AssertionError(name)


def apply_chat_template(template, special_tokens, request):
    """transformers' apply_chat_template(tokenize=False), minus picking the template."""
    request = json.loads(json.dumps(request))  # a fresh copy, like a JSON request
    messages = ctu._normalize_chat_messages(request.pop("messages"))
    tools = request.pop("tools", None)
    documents = request.pop("documents", None)
    add_generation_prompt = request.pop("add_generation_prompt", False)
    rendered, _ = ctu.render_jinja_template(
        conversations=[messages], tools=tools, documents=documents, chat_template=template,
        add_generation_prompt=add_generation_prompt, **{**special_tokens, **request})
    return rendered[0]


def main():
    templates = []
    for path in sorted(TEMPLATES.glob("*.jinja")):
        source = path.read_text(encoding="utf-8")
        tokens = special_tokens_for(path.stem)
        entry = {"file": path.name, "special_tokens": tokens, "cases": []}
        try:
            ctu._cached_compile_jinja_template(source)
        except Exception as e:  # noqa: BLE001
            entry["parse_error"] = {"type": type(e).__name__, "message": str(e)}
            templates.append(entry)
            continue
        for request in REQUESTS:
            case = {"request": request}
            try:
                case["prompt"] = apply_chat_template(source, tokens, request)
            except Exception as e:  # noqa: BLE001
                case["error"] = {"type": type(e).__name__, "message": str(e)}
            entry["cases"].append(case)
        templates.append(entry)
    doc = {"generator": "tests/chat/make_template_goldens.py", "transformers": transformers.__version__,
           "jinja2": __import__("jinja2").__version__, "now": FIXED_NOW, "timezone": "UTC", "templates": templates}
    with gzip.GzipFile(OUT, "wb", mtime=0) as f:
        f.write(json.dumps(doc, ensure_ascii=False, indent=1).encode())
    cases = sum(len(t["cases"]) for t in templates)
    errors = sum("error" in c for t in templates for c in t["cases"])
    parse_errors = [t["file"] for t in templates if "parse_error" in t]
    print(f"{OUT}: {len(templates)} templates, {cases} renders ({errors} errors); jinja2 cannot parse: {parse_errors}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
