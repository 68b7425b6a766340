#!/usr/bin/env python3
"""Renders Jinja snippets with jinja2 exactly as Hugging Face transformers sets it up for chat
templates, and writes the results as goldens for salut's interpreter (tests/chat/jinja_test.cpp).

    .venv/bin/python tests/chat/make_jinja_goldens.py     # writes tests/data/chat/jinja_goldens.json.gz

transformers' own compile function is used (ImmutableSandboxedEnvironment, trim_blocks,
lstrip_blocks, its tojson, raise_exception and strftime_now), with the clock fixed so that
strftime_now is reproducible: the C++ test sets the same instant and TZ=UTC.
"""
import datetime as _dt
import gzip
import json
import os
import sys
import time
from pathlib import Path

os.environ["TZ"] = "UTC"
time.tzset()

import transformers  # noqa: E402
from transformers.utils import chat_template_utils as ctu  # noqa: E402

FIXED_NOW = 1735787045.123456  # 2025-01-02 03:04:05.123456 UTC


class _FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return _dt.datetime.fromtimestamp(FIXED_NOW, tz)


ctu.datetime = _FixedDatetime


def render(template, context):
    compiled = ctu._cached_compile_jinja_template(template)
    return compiled.render(**context)


MSGS = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "Bye"},
]
DATA = {
    "s": "Hello World",
    "e": "",
    "u": "héllo wörld ÿ 中文 😀",
    "n": 42,
    "neg": -7,
    "f": 2.5,
    "z": 0,
    "t": True,
    "fl": False,
    "nil": None,
    "xs": [3, 1, 2],
    "words": ["b", "A", "c", "a"],
    "d": {"b": 1, "a": 2, "c": None},
    "nested": {"x": {"y": [10, 20, {"z": "deep"}]}},
    "people": [{"name": "Bo", "age": 30, "tags": ["x"]}, {"name": "al", "age": 25}, {"name": "Cy", "age": 30}],
    "messages": MSGS,
    "ws": "  padded \n\t",
    "multiline": "line one\nline two\n\nline four",
    "quote": "it's \"quoted\"",
    "big": 12345678901234,
    "fs": [1.0, 0.1, 1e16, 1e-5, 123.456, -0.0, 1e22, 3.14159],
}

# (template, extra context) — every case also sees DATA.
CASES = [
    # ---- text, whitespace control, comments ----
    ("plain text", {}),
    ("a {# comment #} b", {}),
    ("a\n{# comment #}\nb", {}),
    ("  {# c #}  x", {}),
    ("a\n  {% if true %}\n  yes\n  {% endif %}\nb", {}),
    ("a\n  {%+ if true %}\n  yes\n  {%+ endif %}\nb", {}),
    ("a\n  {% if true +%}\n  yes\n  {% endif +%}\nb", {}),
    ("a  {%- if true -%}  yes  {%- endif -%}  b", {}),
    ("a  {{- 'x' -}}  b", {}),
    ("a  {{ 'x' }}  b\n  {{ 'y' }}\n", {}),
    ("x {% if true %}y{% endif %}\n  z", {}),
    ("{% for i in xs %}\n  {{ i }}\n{% endfor %}\n", {}),
    ("{% for i in xs -%}\n  {{ i }}\n{%- endfor %}", {}),
    ("{{ 'a' }}\n{% if true %}\nb\n{% endif %}\n\nc\n", {}),
    ("line\r\nwith crlf\r\n{% if true %}\r\nx\r\n{% endif %}\r\n", {}),
    ("trailing newline kept once?\n\n", {}),
    ("\t{% if true %}tab{% endif %}", {}),
    ("x\n\t  {# comment #}\ny", {}),
    ("x\n  {#- comment -#}  \ny", {}),
    ("{% raw %}{{ not evaluated }}{% endraw %}", {}),
    ("a\n  {% raw %}\n{{ x }}\n  {% endraw %}\nb", {}),
    ("{%- raw -%}  {{ x }}  {%- endraw -%}", {}),
    ("{{ '{{' }} and {{ '}}' }}", {}),
    ("{{ {'a': {'b': 1}} }}", {}),
    ("{{ 1 }}{{ 2 }}\n{{ 3 }}", {}),
    ("{% if true %}a{% endif %}{% if true %}\nb{% endif %}", {}),
    # ---- literals and printing ----
    ("{{ 'single' }} {{ \"double\" }} {{ 'con' 'cat' }}", {}),
    (r"{{ 'a\nb\tc\\d\'e\"f' }}", {}),
    (r"{{ '\x41\u00e9\U0001F600\101' }} {{ '\q' }}", {}),
    ("{{ 42 }} {{ -3 }} {{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }}", {}),
    ("{{ 1.5 }} {{ 1e3 }} {{ 2.0 }} {{ 1_0.5 }} {{ 1E-7 }} {{ 12.5e20 }}", {}),
    ("{{ true }} {{ True }} {{ false }} {{ none }} {{ None }}", {}),
    ("{{ [1, 'a', none, true, 1.5] }}", {}),
    ("{{ (1, 2) }} {{ (1,) }} {{ () }} {{ 1, 2 }}", {}),
    ("{{ {'a': 1, 'b': [1, 2], 'c': {'d': none}} }}", {}),
    ("{{ {1: 'x', true: 'y', none: 'z'} }}", {}),
    ("{{ ['it\\'s', \"q\\\"\", 'both\\'\"', 'nl\\n', 'é', '\\x00\\x7f\\x85\\xa0'] }}", {}),
    ("{{ fs }}", {}),
    ("{% for f in fs %}{{ f }} {% endfor %}", {}),
    ("{{ 10 / 4 }} {{ 10 / 5 }} {{ 1 / 3 }} {{ 2 ** 0.5 }} {{ 1e16 + 1 }} {{ 0.1 + 0.2 }}", {}),
    ("{{ s }} {{ n }} {{ f }} {{ t }} {{ nil }} {{ xs }} {{ d }} {{ nested }}", {}),
    ("{{ u }} {{ [u] }}", {}),
    ("{{ quote }} {{ [quote] }}", {}),
    ("[{{ missing }}] [{{ missing is defined }}]", {}),
    ("{{ people }}", {}),
    # ---- operators ----
    ("{{ 7 + 3 }} {{ 7 - 10 }} {{ 7 * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 10 }}", {}),
    ("{{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ -7.5 // 2 }} {{ -7.5 % 2 }} {{ 7.5 % -2 }}", {}),
    ("{{ 2 ** -1 }} {{ 2.0 ** 3 }} {{ (-8) ** 2 }} {{ -2 ** 2 }} {{ 2 ** 3 ** 2 }}", {}),
    ("{{ 1 + 2 * 3 - 4 / 2 }} {{ (1 + 2) * 3 }} {{ 10 - 2 - 3 }} {{ 100 / 10 / 2 }}", {}),
    ("{{ 'a' + 'b' }} {{ 'ab' * 3 }} {{ 3 * 'x' }} {{ [1] + [2] }} {{ [0] * 3 }} {{ 'x' * 0 }} {{ 'x' * -1 }}", {}),
    ("{{ 1 ~ 2 ~ 'a' ~ none ~ true ~ missing ~ [1] }}", {}),
    ("{{ 1 + true }} {{ true + true }} {{ 1.5 + 1 }} {{ 3 * 1.0 }}", {}),
    ("{{ 1 == 1.0 }} {{ 1 == true }} {{ 'a' == 'a' }} {{ [1, 2] == [1, 2] }} {{ (1, 2) == [1, 2] }} {{ {'a': 1, 'b': 2} == {'b': 2, 'a': 1} }}", {}),
    ("{{ 1 != 2 }} {{ 1 < 2 }} {{ 2 <= 2 }} {{ 3 > 2 }} {{ 2 >= 3 }} {{ 'a' < 'b' }} {{ 'B' < 'a' }} {{ [1, 2] < [1, 3] }}", {}),
    ("{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 1 == 1 == 1 }}", {}),
    ("{{ 'a' in 'abc' }} {{ 'x' in 'abc' }} {{ 1 in xs }} {{ 9 in xs }} {{ 'a' in d }} {{ 'z' not in d }} {{ 'x' in missing }}", {}),
    ("{{ not true }} {{ not 0 }} {{ not '' }} {{ not [] }} {{ not none }} {{ not missing }} {{ not not 1 }}", {}),
    ("{{ 1 and 2 }} {{ 0 and 2 }} {{ 1 or 2 }} {{ 0 or 'x' }} {{ '' or [] }} {{ none and 1 }}", {}),
    ("{{ 'yes' if true else 'no' }} {{ 'yes' if false else 'no' }} [{{ 'yes' if false }}] {{ 1 if 0 else 2 if 0 else 3 }}", {}),
    ("{{ -n }} {{ +n }} {{ -f }} {{ - - 3 }} {{ -1|abs }} {{ -(xs|length) }}", {}),
    ("{{ -xs|length }}", {}),
    ("{{ missing == missing }} {{ missing != 1 }} {{ missing == none }}", {}),
    ("{{ n > 40 and n < 50 or false }} {{ not n == 42 }}", {}),
    ("{{ big * 1000 }} {{ big // 7 }} {{ big % 1000 }}", {}),
    # ---- variables, set, scoping ----
    ("{% set x = 5 %}{{ x }}{% set x = x + 1 %}{{ x }}", {}),
    ("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c, d = [3, 4] %}{{ c }}{{ d }}{% set e, f = 'xy' %}{{ e }}{{ f }}", {}),
    ("{% set t = 1, 2 %}{{ t }}", {}),
    ("{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}[{{ x }}]{% endfor %}{{ x }}", {}),
    ("{% set x = 0 %}{% for i in range(3) %}{{ x }}{% set x = i %}{% endfor %}|{{ x }}", {}),
    ("{% for i in range(3) %}{% if i == 1 %}{% set y = i %}{% endif %}{{ y }}{% endfor %}|{{ y }}", {}),
    ("{% if true %}{% set x = 'inner' %}{% endif %}{{ x }}", {}),
    ("{% set ns = namespace(count=0, items=[]) %}{% for i in xs %}{% set ns.count = ns.count + i %}{% set ns.items = ns.items + [i] %}{% endfor %}{{ ns.count }} {{ ns.items }}", {}),
    ("{% set ns = namespace() %}{% set ns.a = 1 %}{{ ns.a }} {{ ns.b is defined }} {{ ns }}", {}),
    ("{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}", {}),
    ("{% set ns = namespace(found=false) %}{% for m in messages %}{% if m.role == 'assistant' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}", {}),
    ("{% set x %}block {{ 1 + 1 }}{% endset %}[{{ x }}]", {}),
    ("{% set x | upper | trim %}  block  {% endset %}[{{ x }}]", {}),
    ("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", {}),
    ("{% set a = 5 %}{% with a = 1, b = a %}{{ a }}{{ b }}{% endwith %}{{ a }}", {}),
    ("{% set messages = messages[1:] %}{{ messages|length }}", {}),
    ("{% set s = s ~ '!' %}{{ s }}", {}),
    # ---- if ----
    ("{% if n > 50 %}big{% elif n > 40 %}mid{% elif n > 30 %}small{% else %}tiny{% endif %}", {}),
    ("{% if missing %}a{% elif missing is not defined %}b{% endif %}", {}),
    ("{% if xs %}nonempty{% endif %}{% if [] %}x{% else %}empty{% endif %}{% if {} %}{% else %}E{% endif %}", {}),
    ("{% if 0.0 %}a{% else %}b{% endif %}{% if 'False' %}c{% endif %}", {}),
    ("{% if 1, 2 %}tuple-true{% endif %}", {}),
    # ---- for ----
    ("{% for x in xs %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.length }}/{{ loop.first }}/{{ loop.last }} {% endfor %}", {}),
    ("{% for x in xs %}{{ loop.previtem }}>{{ x }}>{{ loop.nextitem }} {% endfor %}", {}),
    ("{% for x in xs %}{{ loop.previtem is defined }}{{ loop.nextitem is defined }} {% endfor %}", {}),
    ("{% for x in xs %}{{ loop.cycle('odd', 'even') }} {% endfor %}", {}),
    ("{% for x in [] %}no{% else %}empty{% endfor %}", {}),
    ("{% for p in people %}{% if loop.changed(p.age) %}[{{ p.age }}]{% endif %}{{ p.name }}{% endfor %}", {}),
    ("{% for x in xs if x > 1 %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% endfor %}", {}),
    ("{% for x in xs if x > 10 %}{{ x }}{% else %}none kept{% endfor %}", {}),
    ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {}),
    ("{% for k in d %}{{ k }}{% endfor %} {% for k, v in d|items %}{{ k }}{{ v }}{% endfor %}", {}),
    ("{% for c in 'héllo' %}[{{ c }}]{% endfor %}", {}),
    ("{% for x in missing %}never{% endfor %}ok", {}),
    ("{% for a, b in [[1, 2], [3, 4]] %}{{ a * b }} {% endfor %}", {}),
    ("{% for i in range(5) %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("{% for i in range(5) %}{% if i is odd %}{% continue %}{% endif %}{{ i }}{% endfor %}", {}),
    ("{% for row in [[1, 2], [3]] %}{% for x in row %}{{ loop.index }}{{ x }}{% endfor %}|{{ loop.index }} {% endfor %}", {}),
    ("{% for m in messages %}{{ loop.index0 }}{{ m.role[0] }}{% if not loop.last %},{% endif %}{% endfor %}", {}),
    ("{% for x in xs %}{% set outer = loop %}{% for y in [1] %}{{ outer.index }}{% endfor %}{% endfor %}", {}),
    ("{% for i in range(3) %}{{ i }}{% endfor %}|{% for i in range(1, 4) %}{{ i }}{% endfor %}|{% for i in range(10, 0, -3) %}{{ i }}{% endfor %}|{{ range(0)|list }}", {}),
    ("{{ range(3)|list }} {{ range(2, 8, 2)|list }} {{ range(5)[-1] }}", {}),
    ("{% for x in (1, 2) %}{{ x }}{% endfor %}{% for x in 1, 2 %}{{ x }}{% endfor %}", {}),
    # ---- subscripts, attributes, slices ----
    ("{{ messages[0].role }} {{ messages[0]['content'] }} {{ messages[-1].content }} {{ messages|last }}", {}),
    ("{{ nested.x.y[2].z }} {{ nested['x']['y'][-1]['z'] }} {{ nested.x.y.1 }}", {}),
    ("{{ xs[0] }}{{ xs[-1] }}{{ xs[1:] }}{{ xs[:1] }}{{ xs[::-1] }}{{ xs[::2] }}{{ xs[-2:] }}{{ xs[5:] }}{{ xs[1:-1] }}{{ xs[:] }}", {}),
    ("{{ s[0] }}{{ s[-1] }}{{ s[1:4] }}{{ s[::-1] }}{{ u[1] }}{{ u[-1] }}{{ u[::-1] }}{{ u[2:6] }}", {}),
    ("{{ (1, 2, 3)[1:] }} {{ messages[1:3]|map(attribute='role')|list }}", {}),
    ("[{{ xs[10] }}] [{{ d.missing }}] [{{ d['missing'] }}] [{{ s.nope }}] [{{ xs[10] is defined }}]", {}),
    ("{{ d.items is callable }} {{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 'dflt') }} {{ d['get'] is defined }}", {}),
    ("{{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }}", {}),
    ("{{ people[0].tags[0] }} {{ people[1].tags is defined }} {{ people[1]['tags'] is undefined }}", {}),
    ("{{ (messages|first).content }} {{ messages[0]['role'] == 'system' }}", {}),
    ("{{ 'abc'[5] is defined }} {{ nil.x is defined }} {{ n.real is defined }}", {}),
    # ---- tests ----
    ("{{ n is defined }} {{ missing is undefined }} {{ nil is none }} {{ n is not none }} {{ t is boolean }} {{ n is boolean }}", {}),
    ("{{ t is true }} {{ 1 is true }} {{ fl is false }} {{ 0 is false }} {{ n is integer }} {{ t is integer }} {{ f is float }} {{ n is float }}", {}),
    ("{{ n is number }} {{ f is number }} {{ t is number }} {{ s is number }} {{ s is string }} {{ n is string }}", {}),
    ("{{ d is mapping }} {{ xs is mapping }} {{ xs is sequence }} {{ s is sequence }} {{ d is sequence }} {{ n is sequence }} {{ missing is sequence }}", {}),
    ("{{ xs is iterable }} {{ s is iterable }} {{ d is iterable }} {{ n is iterable }} {{ missing is iterable }} {{ nil is iterable }}", {}),
    ("{{ n is odd }} {{ n is even }} {{ 7 is odd }} {{ n is divisibleby 7 }} {{ n is divisibleby(5) }} {{ -3 is odd }}", {}),
    ("{{ n is equalto 42 }} {{ n is eq 41 }} {{ n is ne 41 }} {{ n is gt 41 }} {{ n is lt 41 }} {{ n is ge 42 }} {{ n is le 41 }}", {}),
    ("{{ n is == 42 }}", {}),
    ("{{ 'a' is in 'abc' }} {{ 2 is in xs }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 'aB' is lower }} {{ '1' is upper }}", {}),
    ("{{ nil is sameas none }} {{ t is sameas true }} {{ 1 is sameas true }}", {}),
    ("{{ 'upper' is filter }} {{ 'nope' is filter }} {{ 'odd' is test }} {{ range is callable }} {{ s is callable }}", {}),
    ("{{ messages[0] is mapping and messages[0].content is string }}", {}),
    ("{{ xs|select('odd')|list }} {{ xs|reject('odd')|list }} {{ [0, 1, '', 'a', none]|select|list }}", {}),
    ("{{ xs|select('gt', 1)|list }} {{ xs|select('in', [1, 3])|list }} {{ xs|reject('equalto', 3)|list }}", {}),
    # ---- filters: strings ----
    ("{{ ws|trim }}|{{ ws|trim('\t\n ') }}|{{ 'xxhixx'|trim('x') }}|{{ s|upper }}|{{ s|lower }}|{{ u|upper }}", {}),
    ("{{ 'hello wORLD'|capitalize }} {{ 'hello wORLD-foo bar_baz(qux)'|title }} {{ \"it's ok\"|title }} {{ u|title }}", {}),
    ("{{ s|replace('o', '0') }} {{ s|replace('o', '0', 1) }} {{ 'abc'|replace('', '-') }} {{ s|replace('l', '') }}", {}),
    ("{{ s|length }} {{ u|length }} {{ xs|length }} {{ d|length }} {{ missing|length }} {{ xs|count }}", {}),
    ("{{ multiline|indent }}|{{ multiline|indent(2, true) }}|{{ multiline|indent('> ', blank=true) }}|{{ multiline|indent(first=true) }}", {}),
    ("{{ 'one two  three\tfour'|wordcount }} {{ u|wordcount }}", {}),
    ("{{ n|string }} {{ nil|string }} {{ xs|string }} {{ missing|string }}|{{ s|string|length }}", {}),
    ("{{ '<a href=\"x\">&\\'</a>'|e }} {{ '<b>'|escape }} {{ '<i>'|safe }} {{ none|e }}", {}),
    ("{{ 'abc'|center(9) }}|{{ 'abc'|center(8) }}|{{ '%s and %s'|format('a', 'b') }}|{{ '%05.1f|%-4d|%x|%r'|format(3.14159, 7, 255, 'q') }}", {}),
    ("{{ '%(a)s-%(b)d'|format(a='x', b=3) }} {{ '%s' % 'solo' }} {{ '%s-%s' % (1, 2) }} {{ '%d%%' % 50 }} {{ '%.2e' % 12345.678 }}", {}),
    ("{{ s|reverse }} {{ xs|reverse|list }} {{ u|reverse }}", {}),
    # ---- filters: numbers ----
    ("{{ '42'|int }} {{ '  -7 '|int }} {{ '4_2'|int }} {{ '3.9'|int }} {{ 'abc'|int }} {{ 'abc'|int(5) }} {{ 3.99|int }} {{ -3.99|int }} {{ true|int }} {{ nil|int }}", {}),
    ("{{ '2.5'|float }} {{ '1e3'|float }} {{ 'x'|float }} {{ 'x'|float(1.5) }} {{ 3|float }} {{ ' inf '|float }} {{ '1_0.5'|float }}", {}),
    ("{{ -5|abs }} {{ -2.5|abs }} {{ f|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 7|round }} {{ 1234|round(-2) }} {{ 1250|round(-2) }} {{ 1350|round(-2) }}", {}),
    ("{{ 2.1|round(method='ceil') }} {{ 2.9|round(method='floor') }} {{ 2.12345|round(3, 'ceil') }} {{ -0.5|round }} {{ 0.5|round }} {{ 1.5|round }}", {}),
    ("{{ xs|sum }} {{ people|sum(attribute='age') }} {{ [1.5, 2]|sum }} {{ xs|sum(start=10) }}", {}),
    ("{{ xs|min }} {{ xs|max }} {{ words|min }} {{ words|max }} {{ words|max(case_sensitive=true) }} {{ people|min(attribute='age') }}", {}),
    # ---- filters: sequences ----
    ("{{ xs|join }} {{ xs|join(', ') }} {{ words|join('-') }} {{ people|join(', ', attribute='name') }} {{ [1, none, 'a']|join('|') }}", {}),
    ("{{ xs|first }} {{ xs|last }} {{ s|first }} {{ d|first }} {{ d|last }} [{{ []|first }}] {{ ([]|first) is defined }}", {}),
    ("{{ xs|list }} {{ s|list }} {{ d|list }} {{ missing|list }} {{ (1, 2)|list }}", {}),
    ("{{ xs|sort }} {{ xs|sort(reverse=true) }} {{ words|sort }} {{ words|sort(case_sensitive=true) }} {{ words|sort(true) }}", {}),
    ("{{ people|sort(attribute='age')|map(attribute='name')|join(',') }} {{ people|sort(attribute='age,name')|map(attribute='name')|join(',') }} {{ people|sort(attribute='name', reverse=true)|map(attribute='name')|join(',') }}", {}),
    ("{{ [3, 1, 3, 2, 1]|unique|list }} {{ ['a', 'A', 'b']|unique|list }} {{ ['a', 'A', 'b']|unique(case_sensitive=true)|list }} {{ people|unique(attribute='age')|map(attribute='name')|list }}", {}),
    ("{{ d|dictsort }} {{ d|dictsort(reverse=true) }} {{ {'b': 1, 'A': 2, 'a': 3}|dictsort }} {{ {'x': 2, 'y': 1}|dictsort(by='value') }}", {}),
    ("{{ people|map(attribute='name')|list }} {{ people|map(attribute='tags.0', default='-')|list }} {{ words|map('upper')|list }} {{ ['1', '2']|map('int')|sum }}", {}),
    ("{{ people|selectattr('age', 'equalto', 30)|map(attribute='name')|list }} {{ people|rejectattr('tags')|map(attribute='name')|list }} {{ people|selectattr('tags')|list|length }}", {}),
    ("{{ messages|selectattr('role', 'eq', 'user')|map(attribute='content')|join(' / ') }} {{ messages|rejectattr('role', 'in', ['system', 'user'])|list|length }}", {}),
    ("{{ d|items|list }} {{ missing|items|list }}", {}),
    ("{{ xs|batch(2)|list }} {{ xs|batch(2, 0)|list }}", {}),
    ("{{ missing|default('dflt') }} {{ nil|default('dflt') }} {{ nil|default('dflt', true) }} {{ ''|d('empty', boolean=true) }} {{ n|d(1) }}", {}),
    ("{{ people[0]|attr('name') }}", {}),
    # ---- tojson ----
    ("{{ d|tojson }} {{ nested|tojson }} {{ people|tojson }} {{ messages|tojson }}", {}),
    ("{{ u|tojson }} {{ quote|tojson }} {{ ws|tojson }} {{ '\\x01\\x1f\\x7f\\u2028'|tojson }}", {}),
    ("{{ fs|tojson }} {{ [true, false, none, 1, -2]|tojson }} {{ (1, 'a')|tojson }} {{ {1: 'int key', none: 'n', true: 't', 1.5: 'f'}|tojson }}", {}),
    ("{{ nested|tojson(indent=2) }}\n{{ people|tojson(indent=4) }}\n{{ {}|tojson(indent=2) }} {{ []|tojson(indent=2) }} {{ {'a': []}|tojson(indent=1) }}", {}),
    ("{{ d|tojson(sort_keys=true) }} {{ d|tojson(separators=(',', ':')) }} {{ u|tojson(ensure_ascii=true) }} {{ d|tojson(indent='\t') }}", {}),
    ("{{ tools|tojson }}", {"tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get the weather", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Köln"]}}, "required": ["city"]}}}]}),
    # ---- Python string methods ----
    ("{{ s.startswith('Hell') }} {{ s.endswith('World') }} {{ s.startswith(('x', 'H')) }} {{ s.endswith('o', 0, 5) }} {{ s.startswith('World', 6) }}", {}),
    ("{{ 'a,b,,c'.split(',') }} {{ '  a  b c '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a b c'.split(none, 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ '  a  b  '.rsplit(none, 1) }} {{ '  a  b c '.split(none, 1) }} {{ '  a  b  '.split(none, 0) }}", {}),
    ("{{ ws.strip() }}|{{ ws.lstrip() }}|{{ ws.rstrip() }}|{{ 'xxaxx'.strip('x') }}|{{ '\n\nab\n'.lstrip('\n') }}|{{ 'ab..'.rstrip('.') }}", {}),
    ("{{ s.replace('l', 'L') }} {{ s.replace('l', 'L', 2) }} {{ s.upper() }} {{ s.lower() }} {{ 'hello world'.title() }} {{ \"they're bill's\".title() }} {{ 'HELLO'.capitalize() }}", {}),
    ("{{ '{} and {}'.format('a', 'b') }} {{ '{1}{0}'.format('a', 'b') }} {{ '{name}!'.format(name='x') }} {{ '{{literal}}'.format() }} {{ '{:>5}|{:<5}|{:^5}|{:05d}|{:.2f}|{!r}'.format('a', 'b', 'c', 42, 3.14159, 'q') }}", {}),
    ("{{ s.find('o') }} {{ s.find('z') }} {{ s.rfind('o') }} {{ u.find('wö') }} {{ s.count('l') }} {{ s.index('W') }} {{ '-'.join(['a', 'b']) }} {{ ''.join(words) }}", {}),
    ("{{ '123'.isdigit() }} {{ '12a'.isdigit() }} {{ 'abc'.isalpha() }} {{ '  '.isspace() }} {{ 'ABC'.isupper() }} {{ 'abc'.islower() }} {{ 'ab1'.isalnum() }}", {}),
    ("{{ 'a\nb\r\nc'.splitlines() }} {{ 'x'.center(5, '*') }} {{ 'x'.ljust(3, '.') }}| {{ 'x'.rjust(3) }} {{ '42'.zfill(5) }} {{ 'a=b=c'.partition('=') }} {{ 'prefix_x'.removeprefix('prefix_') }}", {}),
    ("{{ messages[0].content.split(' ')[-1] }} {{ messages[1].content.lower().startswith('h') }}", {}),
    ("{{ '<think>a</think>\n\nanswer'.split('</think>')[-1].lstrip('\n') }}|{{ '<think>\nreason\n</think>x'.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') }}", {}),
    ("{{ xs.index(2) }} {{ xs.count(3) }} {{ (1, 1).count(1) }}", {}),
    # ---- macros ----
    ("{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Bo') }} {{ greet('Al', 'Hi') }} {{ greet(greeting='Yo', name='Cy') }}", {}),
    ("{% macro m(a, b=a ~ '!') %}{{ a }}{{ b }}{% endmacro %}{{ m('x') }} {{ m('x', 'y') }}", {}),
    ("{% macro m(a) %}[{{ a }}]{% endmacro %}{{ m() }} {{ m is defined }} {{ m }}", {}),
    ("{% macro fact(k) %}{% if k <= 1 %}1{% else %}{{ k * fact(k - 1)|int }}{% endif %}{% endmacro %}{{ fact(6) }}", {}),
    ("{% set g = 'global' %}{% macro show() %}{{ g }}{% endmacro %}{{ show() }}{% set g = 'changed' %}{{ show() }}", {}),
    ("{% macro show() %}{{ later }}{% endmacro %}{% set later = 'late' %}{{ show() }}", {}),
    ("{% macro m() %}{% set inner = 1 %}{{ inner }}{% endmacro %}{{ m() }}[{{ inner }}]", {}),
    ("{% macro render_type(t) %}{% if t is mapping %}{ {% for k, v in t.items() %}{{ k }}: {{ render_type(v) }}{% if not loop.last %}, {% endif %}{% endfor %} }{% else %}{{ t }}{% endif %}{% endmacro %}{{ render_type(nested) }}", {}),
    ("{% for x in xs %}{% macro inner() %}<{{ x }}>{% endmacro %}{{ inner() }}{% endfor %}", {}),
    ("{% macro m(x) %}{{ x|upper }}{% endmacro %}{{ words|map('upper')|join }} {{ m('a') ~ m('b') }}", {}),
    ("{% macro m() %}  text  {% endmacro %}[{{ m() }}] [{{ m()|trim }}] {{ m()|length }}", {}),
    # ---- filter blocks, generation blocks ----
    ("{% filter upper %}shout {{ s }}{% endfilter %}", {}),
    ("{% filter trim|upper %}   both   {% endfilter %}|", {}),
    ("{% generation %}assistant text {{ n }}{% endgeneration %}", {}),
    # ---- globals ----
    ("{{ strftime_now('%Y-%m-%d %H:%M:%S') }} {{ strftime_now('%d %b %Y') }} {{ strftime_now('%A %B %j %f') }} {{ strftime_now('%-d') }}", {}),
    ("{{ dict(a=1, b='x') }} {{ dict([('k', 'v')]) }} {{ dict(d, z=9) }}", {}),
    ("{{ raise_exception is defined }} {{ strftime_now is defined }} {{ namespace is defined }} {{ cycler is defined }}", {}),
    ("{{ bos_token }}{{ messages[0]['content'] }}{{ eos_token }}", {"bos_token": "<s>", "eos_token": "</s>"}),
    # ---- undefined behaviour ----
    ("[{{ missing }}] [{{ missing|default('x') }}] [{{ missing|length }}] [{{ missing|join }}] [{{ missing|list }}] [{{ missing|trim }}] [{{ missing|upper }}]", {}),
    ("[{{ missing|first }}] [{{ missing|sort }}] [{{ missing|map('upper')|list }}] [{{ missing|select|list }}] [{{ missing ~ 'x' }}]", {}),
    ("{% if missing is defined and missing.attr %}x{% else %}safe{% endif %}", {}),
    ("{{ d.missing is defined }} {{ d['c'] is none }} {{ d.c is defined }}", {}),
    # ---- unknown filters and tests: compile errors, except inside if / inline if (then only when run) ----
    ("{% if false %}{{ x|nosuchfilter }}{% endif %}ok", {}),
    ("{% if true %}{{ x|nosuchfilter }}{% endif %}", {}),
    ("{{ 'a' if true else x|nosuchfilter }}{{ x is nosuchtest if false }}", {}),
    ("{% if false %}{% for i in xs %}{{ i|nosuchfilter }}{% endfor %}{% endif %}", {}),
    ("{% if false %}{% set y = x|nosuchfilter %}{% endif %}ok", {}),
    ("{% if false %}{% macro m() %}{{ 1|nosuchfilter }}{% endmacro %}{% endif %}", {}),
    # ---- iterators: map/select/unique/items/batch/reverse return one-pass generators ----
    ("{{ 'yes' if xs|select('gt', 10) else 'no' }} {{ 'yes' if []|map('upper') else 'no' }} {{ (xs|reverse) is sequence }}", {}),
    ("{% set g = xs|select %}{{ g|list }}{{ g|list }}|{% set r = xs|reverse %}{{ r|first }}{{ r|list }}", {}),
    ("{% set g = xs|map('string') %}{{ '1' in g }}{{ g|list }}", {}),
    ("{{ (xs|select)|length }}", {}),
    ("{{ (xs|unique)|last }}", {}),
    ("{{ (xs|select)[0] is defined }} {{ d.values()[0] is defined }} {{ d.keys()|list }}", {}),
    ("{{ d.values()[:1] }}", {}),
    ("{{ d.keys() }} {{ d.values() }} {{ d.items() }} {{ range(3) }} {{ range(1, 9, 2) }} {{ range(10)[2:8:3] }} {{ range(5)[::-1] }}", {}),
    ("{{ range(3)|tojson }}", {}),
    ("{{ d.items()|tojson }}", {}),
    ("{{ (n|select) is iterable }}{{ 'ok' }}", {}),
    ("{{ (n|select)|list }}", {}),
    ("{% set x = 5|items %}ok{{ (5|items)|list }}", {}),
    ("{{ xs|batch(2)|list }} {{ none|map('x')|list }} {{ 0|select('nosuchtest')|list }}", {}),
    # ---- slicing what cannot be sliced is an error (jinja2 uses a plain Python subscript) ----
    ("{{ d[1:] }}", {}),
    ("{{ n[1:] }}", {}),
    ("{{ nil[:1] }}", {}),
    ("{{ missing[:1] }}", {}),
    ("{{ xs|indent }}", {}),
    ("{{ missing|indent }}", {}),
    ("{{ xs|sort(reverse=missing) }}", {}),
    ("{{ s|truncate(9) }}|{{ s|truncate(9, true) }}|{{ s|truncate(5, leeway=0, end='!') }}|{{ s|truncate }}|{{ xs|truncate }}", {}),
    ("{{ '%s' % [] }}|{{ 'x' % [] }}|{{ 'x' % {} }}|{{ 'x' % d }}", {}),
    ("{{ 'x' % n }}", {}),
    ("{{ 'x' % (1,) }}", {}),
    # ---- call blocks ----
    ("{% macro box(title) %}[{{ title }}: {{ caller() }}]{% endmacro %}{% call box('t') %}body {{ n }}{% endcall %}", {}),
    ("{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each(xs) %}<{{ x * 2 }}>{% endcall %}", {}),
    # ---- errors (jinja2 raises; salut must too) ----
    ("{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}", {}),
    ("{% if messages[0].role != 'user' %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}", {}),
    ("before {{ raise_exception('stop here') }} after", {}),
    ("{{ raise_exception(42) }}", {}),
    ("{{ missing.attr }}", {}),
    ("{{ missing['key'] }}", {}),
    ("{{ missing + 1 }}", {}),
    ("{{ missing() }}", {}),
    ("{{ d.missing.deeper }}", {}),
    ("{{ 1 / 0 }}", {}),
    ("{{ 1 // 0 }}", {}),
    ("{{ 1 % 0 }}", {}),
    ("{{ 'a' + 1 }}", {}),
    ("{{ 1 + 'a' }}", {}),
    ("{{ [1] + 'a' }}", {}),
    ("{{ 'a' - 'b' }}", {}),
    ("{{ 1 < 'a' }}", {}),
    ("{{ 1 in 'abc' }}", {}),
    ("{{ n|length }}", {}),
    ("{{ n[0] }}", {}),
    ("{% for x in n %}{% endfor %}", {}),
    ("{{ nil|tojson }}{{ missing|tojson }}", {}),
    ("{{ xs.append(4) }}", {}),
    ("{{ d.update({}) }}", {}),
    ("{{ d.pop('a') }}", {}),
    ("[{{ xs.append }}]", {}),
    ("{{ range(200000)|length }}", {}),
    ("{{ range(1, 2, 0) }}", {}),
    ("{% set a, b = [1, 2, 3] %}", {}),
    ("{% set x = 1 %}{% set x.attr = 2 %}", {}),
    ("{% set ns = namespace(_private=1) %}", {}),
    ("{% set ns = namespace() %}{% set ns._x = 1 %}", {}),
    ("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", {}),
    ("{% macro m(a) %}{% endmacro %}{{ m(b=2) }}", {}),
    ("{{ 'abc'.nosuchmethod() }}", {}),
    ("{{ missing|int }}", {}),
    ("{{ xs|dictsort }}", {}),
    ("{{ xs|join(attribute='nope') }}", {}),
    ("{{ 'a'|map('nosuchfilter')|list }}", {}),
    ("{{ xs|select('nosuchtest')|list }}", {}),
    ("{{ 'x'.split('') }}", {}),
    ("{{ [[1], [2]]|unique|list }}", {}),
    ("{{ '%d' % 'x' }}", {}),
    ("{{ '%s %s' % ('a',) }}", {}),
    ("{{ xs|sort(attribute='x') }}", {}),
    ("{{ people|sort }}", {}),
    # ---- syntax errors ----
    ("{% if true %}unclosed", {}),
    ("{% for x in xs %}{% endif %}", {}),
    ("{{ 1 + }}", {}),
    ("{{ x|nosuchfilter }}", {}),
    ("{{ x is nosuchtest }}", {}),
    ("{% nosuchtag %}", {}),
    ("{{ 'unterminated }}", {}),
    ("{# unterminated comment", {}),
    ("{{ (1, 2 }}", {}),
    ("{{ [1, 2) }}", {}),
    ("{% endfor %}", {}),
    ("{% set 1 = 2 %}", {}),
    ("{{ }}", {}),
    ("{% macro m(a=1, b) %}{% endmacro %}", {}),
    ("{% break %}", {}),
    ("{{ a.b.c is is none }}", {}),
    ("{% raw %}never closed", {}),
    ("{% include 'other.jinja' %}", {}),
    ("{% extends 'base.jinja' %}", {}),
]


def main():
    out_path = Path(__file__).resolve().parents[1] / "data" / "chat" / "jinja_goldens.json.gz"
    cases = []
    for template, extra in CASES:
        context = json.loads(json.dumps({**DATA, **extra}))  # a fresh copy: a few filters mutate their input
        case = {"template": template, "context": extra}
        try:
            case["output"] = render(template, context)
        except Exception as e:  # noqa: BLE001 - every failure is a golden too
            case["error"] = {"type": type(e).__name__, "message": str(e)}
        cases.append(case)
    doc = {
        "generator": "tests/chat/make_jinja_goldens.py",
        "transformers": transformers.__version__,
        "jinja2": __import__("jinja2").__version__,
        "now": FIXED_NOW,
        "timezone": "UTC",
        "data": DATA,
        "cases": cases,
    }
    with gzip.GzipFile(out_path, "wb", mtime=0) as f:
        f.write(json.dumps(doc, ensure_ascii=False, indent=1).encode())
    errors = sum("error" in c for c in cases)
    print(f"{out_path}: {len(cases)} cases ({errors} errors)", file=sys.stderr)


if __name__ == "__main__":
    main()
