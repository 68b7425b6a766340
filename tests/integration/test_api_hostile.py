"""Malformed and abusive requests against salut serve: each gets the right 4xx with an OpenAI
error body, and the server answers a normal request right after. One server for the suite."""

import json
import socket
import time

import pytest

from test_api import MODEL, PARIS, SMOLLM, Server, request
from salut_util import wait_for

pytestmark = pytest.mark.skipif(not (SMOLLM / "config.json").exists(), reason="no demo model (tools/make_demo_model.py)")

OK = {"model": MODEL, "messages": PARIS, "max_tokens": 4, "temperature": 0}


def chat(**changes):
    body = dict(OK)
    for key, value in changes.items():
        if value is DROP:
            body.pop(key, None)
        else:
            body[key] = value
    return json.dumps(body).encode()


DROP = object()

# (name, path, raw body, expected status)
CASES = [
    ("empty body", "/v1/chat/completions", b"", 400),
    ("not json", "/v1/chat/completions", b"hello", 400),
    ("truncated json", "/v1/chat/completions", b'{"model": "m", "messages": [', 400),
    ("json array", "/v1/chat/completions", b"[]", 400),
    ("json string", "/v1/chat/completions", b'"x"', 400),
    ("json null", "/v1/chat/completions", b"null", 400),
    ("NaN literal", "/v1/chat/completions", chat().replace(b'"temperature": 0', b'"temperature": NaN'), 400),
    ("Infinity literal", "/v1/chat/completions", chat().replace(b'"temperature": 0', b'"temperature": Infinity'), 400),
    ("invalid utf-8 in content", "/v1/chat/completions",
     chat(messages=[{"role": "user", "content": "PLACEHOLDER"}]).replace(b"PLACEHOLDER", b"\xff\xfe\xc3"), 400),
    ("lone surrogate escape", "/v1/chat/completions",
     chat(messages=[{"role": "user", "content": "PLACEHOLDER"}]).replace(b"PLACEHOLDER", b"\\ud800"), 400),
    ("nested 65 deep", "/v1/chat/completions", b'{"a":' * 65 + b"1" + b"}" * 65, 400),
    ("nested 10000 deep", "/v1/chat/completions", b"[" * 10000 + b"]" * 10000, 400),
    ("missing model", "/v1/chat/completions", chat(model=DROP), 400),
    ("empty model", "/v1/chat/completions", chat(model=""), 400),
    ("model is a number", "/v1/chat/completions", chat(model=7), 400),
    ("missing messages", "/v1/chat/completions", chat(messages=DROP), 400),
    ("messages is a string", "/v1/chat/completions", chat(messages="hi"), 400),
    ("messages is empty", "/v1/chat/completions", chat(messages=[]), 400),
    ("message is a string", "/v1/chat/completions", chat(messages=["hi"]), 400),
    ("message without role", "/v1/chat/completions", chat(messages=[{"content": "hi"}]), 400),
    ("unknown role", "/v1/chat/completions", chat(messages=[{"role": "root", "content": "hi"}]), 400),
    ("role is a number", "/v1/chat/completions", chat(messages=[{"role": 1, "content": "hi"}]), 400),
    ("content is a number", "/v1/chat/completions", chat(messages=[{"role": "user", "content": 5}]), 400),
    ("content part without text", "/v1/chat/completions",
     chat(messages=[{"role": "user", "content": [{"type": "text"}]}]), 400),
    ("image content part", "/v1/chat/completions",
     chat(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]), 400),
    ("tool_calls not an array", "/v1/chat/completions",
     chat(messages=[{"role": "assistant", "content": "", "tool_calls": {}}]), 400),
    ("tool call without name", "/v1/chat/completions",
     chat(messages=[{"role": "assistant", "content": "", "tool_calls": [{"function": {}}]}]), 400),
    ("temperature negative", "/v1/chat/completions", chat(temperature=-1), 400),
    ("temperature too high", "/v1/chat/completions", chat(temperature=2.5), 400),
    ("temperature a string", "/v1/chat/completions", chat(temperature="hot"), 400),
    ("top_p zero", "/v1/chat/completions", chat(top_p=0), 400),
    ("top_p above one", "/v1/chat/completions", chat(top_p=1.01), 400),
    ("top_k negative", "/v1/chat/completions", chat(top_k=-3), 400),
    ("top_k fractional", "/v1/chat/completions", chat(top_k=2.5), 400),
    ("min_p above one", "/v1/chat/completions", chat(min_p=2), 400),
    ("repetition_penalty zero", "/v1/chat/completions", chat(repetition_penalty=0), 400),
    ("presence_penalty out of range", "/v1/chat/completions", chat(presence_penalty=3), 400),
    ("frequency_penalty out of range", "/v1/chat/completions", chat(frequency_penalty=-3), 400),
    ("max_tokens zero", "/v1/chat/completions", chat(max_tokens=0), 400),
    ("max_tokens negative", "/v1/chat/completions", chat(max_tokens=-5), 400),
    ("max_tokens huge", "/v1/chat/completions", chat(max_tokens=10**30), 400),
    ("max_tokens a string", "/v1/chat/completions", chat(max_tokens="4"), 400),
    ("n=2", "/v1/chat/completions", chat(n=2), 400),
    ("n=0", "/v1/chat/completions", chat(n=0), 400),
    ("stop five strings", "/v1/chat/completions", chat(stop=["a", "b", "c", "d", "e"]), 400),
    ("stop empty string", "/v1/chat/completions", chat(stop=""), 400),
    ("stop a number", "/v1/chat/completions", chat(stop=3), 400),
    ("logit_bias not an object", "/v1/chat/completions", chat(logit_bias=[1, 2]), 400),
    ("logit_bias bad key", "/v1/chat/completions", chat(logit_bias={"abc": 1}), 400),
    ("logit_bias out of range", "/v1/chat/completions", chat(logit_bias={"5": 500}), 400),
    ("logit_bias token past vocab", "/v1/chat/completions", chat(logit_bias={"999999999": 5}), 400),
    ("top_logprobs without logprobs", "/v1/chat/completions", chat(top_logprobs=2), 400),
    ("top_logprobs 21", "/v1/chat/completions", chat(logprobs=True, top_logprobs=21), 400),
    ("stream a string", "/v1/chat/completions", chat(stream="yes"), 400),
    ("stream_options without stream", "/v1/chat/completions", chat(stream_options={"include_usage": True}), 400),
    ("seed a string", "/v1/chat/completions", chat(seed="x"), 400),
    ("tools not an array", "/v1/chat/completions", chat(tools={"type": "function"}), 400),
    ("tool without function", "/v1/chat/completions", chat(tools=[{"type": "function"}]), 400),
    ("tool_choice unknown", "/v1/chat/completions", chat(tool_choice="sometimes"), 400),
    ("response_format unknown", "/v1/chat/completions", chat(response_format={"type": "xml"}), 400),
    ("json_schema without schema", "/v1/chat/completions",
     chat(response_format={"type": "json_schema", "json_schema": {"name": "x"}}), 400),
    ("chat_template_kwargs a list", "/v1/chat/completions", chat(chat_template_kwargs=[1]), 400),
    ("10,000 messages", "/v1/chat/completions",
     chat(messages=[{"role": "user", "content": "hello there"}] * 10000), 400),
    ("unknown model", "/v1/chat/completions", chat(model="/nonexistent/folder/for/salut"), 404),
    ("completion without prompt", "/v1/completions", json.dumps({"model": MODEL}).encode(), 400),
    ("completion prompt a dict", "/v1/completions", json.dumps({"model": MODEL, "prompt": {}}).encode(), 400),
    ("completion negative token id", "/v1/completions", json.dumps({"model": MODEL, "prompt": [1, -2]}).encode(), 400),
    ("completion token id past vocab", "/v1/completions",
     json.dumps({"model": MODEL, "prompt": [1, 2, 10**8]}).encode(), 400),
    ("completion suffix", "/v1/completions", json.dumps({"model": MODEL, "prompt": "a", "suffix": "b"}).encode(), 400),
    ("completion logprobs 50", "/v1/completions", json.dumps({"model": MODEL, "prompt": "a", "logprobs": 50}).encode(),
     400),
    ("body over 8 MiB", "/v1/chat/completions", b'{"model": "' + b"m" * (8 << 20) + b'"}', 413),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("hostile"), "--model", MODEL, "--context", "2048")
    wait_for(lambda: s.health()["model"]["state"] == "ready", timeout=60, what="preload")
    yield s
    s.stop()


def connect(server, first_bytes, count=1):
    """`count` connections to the server, each having sent `first_bytes`."""
    conns = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(first_bytes)
        conns.append(s)
    return conns


def still_serves(server):
    status, _, body = request(server.url + "/v1/chat/completions", body=OK)
    assert status == 200 and body["choices"][0]["message"]["content"], body


def test_there_are_at_least_fifty_cases():
    assert len(CASES) >= 50


@pytest.mark.parametrize("name,path,raw,expected", CASES, ids=[c[0] for c in CASES])
def test_hostile_request(server, name, path, raw, expected):
    status, _, body = request(server.url + path, raw=raw)
    assert status == expected, (name, body)
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    assert body["error"]["message"] and body["error"]["type"], body
    still_serves(server)


def test_slow_loris_does_not_block_others(server):
    # 40 connections that send a few header bytes and then nothing
    slow = connect(server, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n", 40)
    start = time.monotonic()
    still_serves(server)
    assert time.monotonic() - start < 30
    # a body that never arrives in full: the others are still served
    slow += connect(server, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"model\"")
    still_serves(server)
    for s in slow:
        s.close()
    still_serves(server)


def test_garbage_bytes_and_wrong_protocol(server):
    for junk in (b"\x00\x01\x02\x03" * 64, b"GET / HTTP/9.9\r\n\r\n", b"BREW /coffee HTCPCP/1.0\r\n\r\n",
                 b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"):
        [s] = connect(server, junk)
        s.settimeout(10)
        try:
            s.recv(4096)
        except (socket.timeout, ConnectionResetError):
            pass
        s.close()
        still_serves(server)


def test_hundreds_of_open_connections(server):
    # 300 clients connected at once, each with a request answered and the connection kept open
    conns = connect(server, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 300)
    for s in conns:
        s.settimeout(30)
        assert s.recv(4096).startswith(b"HTTP/1.1 200"), "a connection was not served"
    start = time.monotonic()
    still_serves(server)  # with all of them still open
    assert time.monotonic() - start < 30
    for s in conns:
        s.close()
