#!/usr/bin/env python3
"""The reference for bench/chat_template_bench.cpp: transformers (jinja2) rendering the same
templates and conversations, median µs per render (the template compiled once, like salut).

    .venv/bin/python bench/chat_template_bench.py [renders]
"""
import json
import statistics
import sys
import time
from pathlib import Path

from transformers.utils import chat_template_utils as ctu

TEMPLATES = Path(__file__).resolve().parents[1] / "tests" / "data" / "chat" / "templates"
SPECIAL = {
    "qwen3-0.6b.jinja": {"eos_token": "<|im_end|>"},
    "qwen2.5-7b-instruct.jinja": {"eos_token": "<|im_end|>"},
    "llama-3.1-8b-instruct.jinja": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "mistral-7b-instruct-v0.3.jinja": {"bos_token": "<s>", "eos_token": "</s>"},
    "ollama-smollm2-135m.jinja": {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"},
    "deepseek-r1.jinja": {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"},
    "ollama-phi4-mini-3.8b.jinja": {"eos_token": "<|endoftext|>"},
}


def tool(name):
    return {"type": "function", "function": {"name": name, "description": "Look something up", "parameters": {
        "type": "object", "properties": {"query": {"type": "string", "description": "What to look up"},
                                         "limit": {"type": "integer"}}, "required": ["query"]}}}


def conversations():
    system = {"role": "system", "content": "You are a helpful assistant."}
    short = {"messages": [system, {"role": "user", "content": "What is the capital of France?"}], "add_generation_prompt": True}
    agent = {"messages": [system, {"role": "user", "content": "Find the weather in Paris and the time in Tokyo."},
                          {"role": "assistant", "content": "", "tool_calls": [{"id": "call12345", "type": "function",
                           "function": {"name": "search", "arguments": "{\"query\": \"weather Paris\"}"}}]},
                          {"role": "tool", "tool_call_id": "call12345", "content": "Sunny, 21 °C"},
                          {"role": "assistant", "content": "It is sunny and 21 °C in Paris."},
                          {"role": "user", "content": "And Tokyo?"}],
             "add_generation_prompt": True, "tools": [tool("search"), tool("lookup")]}
    messages = [system] + [{"role": "assistant" if i % 2 else "user", "content": f"Message {i}: " + "x" * 180}
                           for i in range(100)]
    messages[-1]["role"] = "user"
    del messages[-2]
    return [("short (2 messages)", short), ("agent (6 messages, 2 tools)", agent),
            ("long (100 messages)", {"messages": messages, "add_generation_prompt": True})]


def render(template, special, request):
    request = dict(request)
    messages = ctu._normalize_chat_messages(request.pop("messages"))
    out, _ = ctu.render_jinja_template(conversations=[messages], tools=request.pop("tools", None),
                                       chat_template=template, **{**special, **request})
    return out[0]


def main():
    renders = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    print(f"{'template':32} {'conversation':28} {'render µs':>12} {'bytes':>10}")
    for name, special in SPECIAL.items():
        template = (TEMPLATES / name).read_text()
        for label, request in conversations():
            try:
                prompt = render(template, special, request)
            except Exception:  # noqa: BLE001
                print(f"{name:32} {label:28} {'refused':>12} {'-':>10}")
                continue
            times = []
            for _ in range(renders):
                t0 = time.perf_counter()
                render(template, special, request)
                times.append((time.perf_counter() - t0) * 1e6)
            print(f"{name:32} {label:28} {statistics.median(times):12.1f} {len(prompt.encode()):10}")


if __name__ == "__main__":
    main()
