#!/usr/bin/env python3
"""Differential test of salut's Jinja interpreter against jinja2 (as transformers sets it up):
random templates built from the constructs chat templates use are rendered by both, and every
difference is reported. A development tool, not part of the test suite (it needs a build).

    ninja -C build salut_jinja_render
    .venv/bin/python tests/chat/differential.py [COUNT] [SEED]

Known, accepted differences are summed up, not listed: the repr of generators and iterators
(jinja2 prints a memory address), and jinja2's compile-time constant folding of expressions made
only of literals (e.g. `1[1:]` prints nothing there, and is an error here).
"""
import datetime as _dt
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ["TZ"] = "UTC"
time.tzset()
from transformers.utils import chat_template_utils as ctu  # noqa: E402

NOW = 1735787045
ROOT = Path(__file__).resolve().parents[2]


class _FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return _dt.datetime.fromtimestamp(NOW, tz)


ctu.datetime = _FixedDatetime
warnings.filterwarnings("ignore", category=SyntaxWarning)  # jinja2's generated code for literals like 1[0]

REQUEST = {
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What's the weather in Köln? 😀"},
        {"role": "assistant", "content": None, "reasoning_content": "Use the tool.",
         "tool_calls": [{"id": "call12345", "type": "function",
                         "function": {"name": "get_weather", "arguments": {"city": "Köln", "days": 2}}}]},
        {"role": "tool", "tool_call_id": "call12345", "content": "{\"temp\": 21.5}"},
        {"role": "assistant", "content": "<think>\nok\n</think>\n\nIt is 21.5 °C."},
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
    "add_generation_prompt": True, "n": 42, "f": -2.5, "xs": [3, 1, 2], "flag": False, "nothing": None,
    "d": {"b": 1, "a": [True, None, 1.5e300, "x"]}, "s": "  Héllo\tWörld\n",
}

VARS = ["messages", "tools", "n", "f", "xs", "flag", "nothing", "d", "s", "missing", "messages[0]", "messages[-1]",
        "messages[2].tool_calls", "messages[2].tool_calls[0].function", "d.a", "add_generation_prompt", "ns.v", "x"]
LITERALS = ["0", "1", "-3", "2.5", "1e16", "0.1", '"abc"', "'Hé llo'", '""', '"a,b,,c"', '"  pad  "', "true", "none",
            "[1, 2, 3]", "[]", "['b', 'A', 'c']", '{"k": 1, "a": [2]}', "(1, 't')", '"%s-%d"', '"{}:{}"', '"é😀中"']
FILTERS = ["length", "trim", "tojson", "tojson(indent=2)", "tojson(sort_keys=true)", "items|list", "list", "join(', ')",
           "upper", "lower", "capitalize", "title", "replace('a', 'b')", "default('D')", "default('D', true)", "first",
           "last", "map(attribute='role')|list", "map('upper')|list", "select|list", "reject('odd')|list",
           "selectattr('role', 'equalto', 'user')|list", "rejectattr('content')|list", "string", "int", "float", "abs",
           "round(1)", "unique|list", "sort", "sort(attribute='role')", "dictsort", "indent(2)", "e", "wordcount", "sum",
           "min", "max", "reverse|list", "batch(2)|list", "center(9)", "format(1, 2)", "truncate(5)", "count"]
TESTS = ["defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "iterable", "sequence",
         "boolean", "true", "false", "odd", "even", "divisibleby 3", "eq 1", "in [1, 2]", "lower", "upper"]
METHODS = [".startswith('a')", ".endswith('c')", ".split(',')", ".split()", ".strip()", ".lstrip('x')", ".upper()",
           ".title()", ".replace('b', 'B')", ".find('b')", ".count('a')", ".format(1, 2)", ".get('k')", ".get('a', 0)",
           ".items()|list", ".keys()|list", ".values()|list", ".index(2)", ".splitlines()", ".partition('b')"]
SUBSCRIPTS = ["0", "-1", "1:", "::-1", ":2", "'role'"]
OPERATORS = ["+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", ">=", "and", "or", "in", "not in"]


def expression(rnd, depth=0):
    r = rnd.random()
    if depth > 3 or r < 0.3:
        return rnd.choice(VARS if rnd.random() < 0.5 else LITERALS)
    sub = lambda: expression(rnd, depth + 1)  # noqa: E731
    if r < 0.45:
        return f"{sub()}|{rnd.choice(FILTERS)}"
    if r < 0.55:
        return f"{sub()} is {'not ' if rnd.random() < 0.3 else ''}{rnd.choice(TESTS)}"
    if r < 0.65:
        return f"{sub()}{rnd.choice(METHODS)}"
    if r < 0.8:
        return f"({sub()} {rnd.choice(OPERATORS)} {sub()})"
    if r < 0.85:
        return f"{sub()}[{rnd.choice(SUBSCRIPTS)}]"
    if r < 0.9:
        return f"({sub()} if {sub()} else {sub()})"
    if r < 0.95:
        return f"not {sub()}"
    return f"[{sub()}, {sub()}]"


def statement(rnd, depth=0):
    r = rnd.random()
    body = lambda: "".join(statement(rnd, depth + 1) for _ in range(rnd.randint(1, 3)))  # noqa: E731
    if depth > 2 or r < 0.35:
        return "{{ " + expression(rnd) + " }}" + rnd.choice(["", "\n", " ", "|"])
    if r < 0.5:
        return f"{{% if {expression(rnd)} %}}{body()}{{% else %}}{body()}{{% endif %}}"
    if r < 0.65:
        source = rnd.choice(["messages", "xs", "d.items()", "tools", "s", "range(3)", expression(rnd)])
        condition = f" if {expression(rnd)}" if rnd.random() < 0.2 else ""
        return f"{{% for x in {source}{condition} %}}{{{{ loop.index }}}}{body()}{{% else %}}E{{% endfor %}}"
    if r < 0.75:
        return f"{{% set x = {expression(rnd)} %}}"
    if r < 0.85:
        return f"{{% set ns.v = {expression(rnd)} %}}"
    if r < 0.9:
        return f"{{%- set y -%}}\n  {body()}  \n{{%- endset %}}[{{{{ y }}}}]"
    return (f"{{% macro m(a, b=2) %}}{body()}{{{{ a }}}}{{{{ b }}}}{{% endmacro %}}"
            f"{{{{ m({expression(rnd)}) }}}}{{{{ m(1, b={expression(rnd)}) }}}}")


def render_with_jinja2(source):
    request = json.loads(json.dumps(REQUEST))
    messages = ctu._normalize_chat_messages(request.pop("messages"))
    rendered, _ = ctu.render_jinja_template(
        conversations=[messages], tools=request.pop("tools"), chat_template=source,
        add_generation_prompt=request.pop("add_generation_prompt"), bos_token="<s>", eos_token="</s>", **request)
    return rendered[0]


def jinja2_result(source):
    def timeout(*_):
        raise TimeoutError

    signal.signal(signal.SIGALRM, timeout)
    signal.alarm(3)
    try:
        return {"out": render_with_jinja2(source)}
    except TimeoutError:
        return {"timeout": True}
    except Exception as e:  # noqa: BLE001 - any failure is a result
        return {"raised": str(e)} if type(e).__name__ == "TemplateError" else {"error": f"{type(e).__name__}: {e}"}
    finally:
        signal.alarm(0)


ADDRESS = re.compile(r"<([a-z_]+) object( [a-z_]+)?( at 0x[0-9a-f]+)?>")


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rnd = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    tool = ROOT / "build" / "tests" / "chat" / "salut_jinja_render"
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i in range(count):
            path = Path(tmp) / f"{i:05d}.jinja"
            path.write_text("{% set ns = namespace(v=0) %}" + statement(rnd), encoding="utf-8")
            files.append(path)
        (Path(tmp) / "request.json").write_text(json.dumps(REQUEST))
        ours = subprocess.run([str(tool), str(Path(tmp) / "request.json"), str(NOW)], check=True, text=True,
                              input="\n".join(map(str, files)) + "\n", capture_output=True).stdout.splitlines()
        tally, shown = {}, 0
        for path, line in zip(files, ours):
            mine, theirs = json.loads(line), jinja2_result(path.read_text(encoding="utf-8"))
            if "out" in mine and "out" in theirs:
                same = ADDRESS.sub("<object>", mine["out"]) == ADDRESS.sub("<object>", theirs["out"])
                kind = "same output" if same else "DIFFERENT OUTPUT"
                if not same and "<" in theirs["out"] and " object" in theirs["out"]:
                    kind = "iterator repr"
            elif "timeout" in theirs:
                kind = "jinja2 timeout"
            elif "out" in theirs or "out" in mine:
                kind = "ONLY JINJA2 RENDERS" if "out" in theirs else "ONLY SALUT RENDERS"
            else:
                kind = "both refuse" if mine.get("raised") == theirs.get("raised") else "DIFFERENT RAISE"
            tally[kind] = tally.get(kind, 0) + 1
            if kind.isupper() and shown < 20:
                shown += 1
                print(f"--- {kind}\n{path.read_text(encoding='utf-8')}\n  jinja2: {theirs}\n  salut:  {mine}\n")
        print(json.dumps(tally, indent=1))


if __name__ == "__main__":
    main()
