"""salut serve's OpenAI API through the official `openai` client (unchanged) and raw HTTP:
chat and text completions, streaming, stop strings, logprobs, seeds, the limits and errors,
the model manager (preload, switching, failed loads, the queue) and client disconnects.

The model is the demo SmolLM2-135M-Instruct 4-bit (models/, made by tools/make_demo_model.py);
a second "model" is the same files under another folder, so switching really unloads and loads."""

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest

from fake_hub import FakeHub
from salut_util import REPO_ROOT, SALUT_BIN, ServeProcess, clean_env, wait_for

SMOLLM = REPO_ROOT / "models" / "SmolLM2-135M-Instruct-4bit"
PARIS = [{"role": "user", "content": "What is the capital of France?"}]

pytestmark = pytest.mark.skipif(not (SMOLLM / "config.json").exists(), reason="no demo model (tools/make_demo_model.py)")


def request(url, body=None, method=None, headers=None, timeout=60, raw=None):
    """(status, headers, parsed JSON or text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            text = resp.read().decode()
            status, hdrs = resp.status, resp.headers
    except urllib.error.HTTPError as e:
        text, status, hdrs = e.read().decode(), e.code, e.headers
    try:
        return status, hdrs, json.loads(text)
    except json.JSONDecodeError:
        return status, hdrs, text


class Server(ServeProcess):
    """salut serve with the openai client pointed at it."""

    def __init__(self, tmp_path, *args, env=None):
        super().__init__(env or clean_env(tmp_path), tmp_path, *args)
        self.client = openai.OpenAI(base_url=self.url + "/v1", api_key="unused", max_retries=0, timeout=120)

    def health(self):
        return request(self.url + "/health")[2]


@pytest.fixture
def serve(tmp_path):
    servers = []

    def start(*args, **kwargs):
        servers.append(Server(tmp_path, *args, **kwargs))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One server with the demo model preloaded, for the read-only tests."""
    tmp = tmp_path_factory.mktemp("shared")
    with FakeHub() as hub:  # unknown IDs get the Hub's 404, not "unreachable"
        server = Server(tmp, "--model", str(SMOLLM), env=clean_env(tmp, HF_ENDPOINT=hub.url))
        wait_for(lambda: server.health()["model"]["state"] == "ready", timeout=60, what="preload")
        yield server
        server.stop()


MODEL = str(SMOLLM)


def second_model(tmp_path, name="other-model"):
    """The demo model's files under another folder: another model as far as switching goes."""
    folder = tmp_path / name
    folder.mkdir()
    for f in SMOLLM.iterdir():
        os.symlink(f, folder / f.name)
    return folder


def ready(server):
    wait_for(lambda: server.health()["model"]["state"] == "ready", timeout=60, what="the model loaded")
    return server


# ------------------------------------------------------------------ chat completions


def test_chat_answers_like_salut_run(shared):
    r = shared.client.chat.completions.create(model=MODEL, messages=PARIS, temperature=0)
    assert r.id.startswith("chatcmpl-") and r.object == "chat.completion" and r.model == MODEL
    assert r.system_fingerprint.startswith("salut-") and isinstance(r.created, int)
    choice = r.choices[0]
    assert choice.message.role == "assistant" and "Paris" in choice.message.content
    assert choice.finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    # the CLI gives the same greedy answer
    run = subprocess.run([str(SALUT_BIN), "run", MODEL, "What is the capital of France?", "--greedy"],
                         capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert run.stdout.strip() == choice.message.content.strip()


def test_streaming_equals_the_whole_answer(shared):
    whole = shared.client.chat.completions.create(model=MODEL, messages=PARIS, temperature=0, max_tokens=40)
    chunks = list(shared.client.chat.completions.create(model=MODEL, messages=PARIS, temperature=0, max_tokens=40,
                                                        stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == [whole.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_raw_stream_ends_with_done(shared):
    conn = http.client.HTTPConnection("127.0.0.1", shared.port, timeout=60)
    conn.request("POST", "/v1/chat/completions", json.dumps({"model": MODEL, "messages": PARIS, "max_tokens": 3,
                                                             "stream": True}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/event-stream")
    events = [line for line in resp.read().decode().split("\n\n") if line]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"


def test_max_tokens_stop_strings_and_seeds(shared):
    r = shared.client.chat.completions.create(model=MODEL, messages=PARIS, temperature=0, max_tokens=2)
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 2
    r = shared.client.chat.completions.create(model=MODEL, messages=PARIS, temperature=0, stop=[" Paris", "xyz"])
    assert r.choices[0].finish_reason == "stop" and r.choices[0].message.content == "The capital of France is"
    # stop strings are never shown, also when streamed
    text = "".join(c.choices[0].delta.content or "" for c in shared.client.chat.completions.create(
        model=MODEL, messages=PARIS, temperature=0, stop="France", stream=True))
    assert text == "The capital of "
    story = [{"role": "user", "content": "Tell me a story."}]
    a, b, c = (shared.client.chat.completions.create(model=MODEL, messages=story, temperature=1.0, seed=s,
                                                     max_tokens=24).choices[0].message.content for s in (7, 7, 8))
    assert a == b and a != c


def test_logprobs(shared):
    r = shared.client.chat.completions.create(model=MODEL, messages=PARIS, temperature=0, max_tokens=5, logprobs=True,
                                              top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens == 5
    for entry in content:
        assert entry.logprob <= 0 and len(entry.top_logprobs) == 3
        assert entry.top_logprobs[0].logprob >= entry.top_logprobs[1].logprob >= entry.top_logprobs[2].logprob
        assert entry.token == entry.top_logprobs[0].token  # greedy picks the most likely
    assert "".join(e.token for e in content) == r.choices[0].message.content


def test_text_completions(shared):
    r = shared.client.completions.create(model=MODEL, prompt="The capital of France is", max_tokens=8, temperature=0,
                                         echo=True, logprobs=2)
    assert r.object == "text_completion" and r.id.startswith("cmpl-")
    assert r.choices[0].text.startswith("The capital of France is")
    assert len(r.choices[0].logprobs.tokens) == r.usage.completion_tokens
    streamed = "".join(c.choices[0].text for c in shared.client.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=8, temperature=0, stream=True))
    assert "The capital of France is" + streamed == r.choices[0].text


def test_template_kwargs_tools_and_content_parts(shared):
    parts = [{"role": "user", "content": [{"type": "text", "text": "What is the capital "},
                                          {"type": "text", "text": "of France?"}]}]
    r = shared.client.chat.completions.create(model=MODEL, messages=parts, temperature=0)
    assert "Paris" in r.choices[0].message.content
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C"},
    ]
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    r = shared.client.chat.completions.create(model=MODEL, messages=conversation, tools=tools, max_tokens=8,
                                              extra_body={"chat_template_kwargs": {"enable_thinking": False}})
    assert r.choices[0].finish_reason in ("stop", "length")


# ------------------------------------------------------------------ errors and limits


def expect_error(call, status, param=None):
    with pytest.raises(openai.APIStatusError) as info:
        call()
    assert info.value.status_code == status, info.value
    body = info.value.body
    assert isinstance(body, dict) and body["message"] and body["type"], body
    if param:
        assert body["param"] == param, body
    return body


def test_bad_requests_are_400_naming_the_field(shared):
    c = shared.client.chat.completions
    expect_error(lambda: c.create(model=MODEL, messages=PARIS, temperature=3), 400, "temperature")
    expect_error(lambda: c.create(model=MODEL, messages=PARIS, top_p=1.5), 400, "top_p")
    expect_error(lambda: c.create(model=MODEL, messages=PARIS, n=2), 400, "n")
    expect_error(lambda: c.create(model=MODEL, messages=[]), 400, "messages")
    expect_error(lambda: c.create(model=MODEL, messages=[{"role": "wizard", "content": "x"}]), 400, "messages")
    expect_error(lambda: c.create(model=MODEL, messages=PARIS, stop=["a", "b", "c", "d", "e"]), 400, "stop")
    expect_error(lambda: c.create(model=MODEL, messages=PARIS, top_logprobs=3), 400, "top_logprobs")
    expect_error(lambda: c.create(model=MODEL, messages=PARIS, logit_bias={"x": 1}), 400, "logit_bias")
    expect_error(lambda: c.create(model=MODEL, messages=PARIS, max_tokens=0), 400, "max_tokens")
    body = expect_error(lambda: c.create(model="nobody/no-such-model-here", messages=PARIS), 404)
    assert "no-such-model-here" in body["message"]
    # the server is fine afterwards
    assert "Paris" in c.create(model=MODEL, messages=PARIS, temperature=0).choices[0].message.content


def test_raw_http_limits(shared):
    url = shared.url + "/v1/chat/completions"
    status, _, body = request(url, raw=b"{not json")
    assert status == 400 and "JSON" in body["error"]["message"]
    status, _, body = request(url, raw=b"[" * 100 + b"]" * 100)
    assert status == 400 and "64" in body["error"]["message"]
    status, _, body = request(url, raw=b"[1]")
    assert status == 400
    status, _, body = request(url, raw=b'{"model": "m", "messages": "' + b"x" * (9 << 20) + b'"}')
    assert status == 413 and body["error"]["code"] == "request_too_large"
    status, hdrs, body = request(url, method="GET")
    assert status == 405 and "POST" in hdrs["Allow"] and "error" in body
    status, _, body = request(shared.url + "/v1/models", body={}, method="POST")
    assert status == 405
    status, _, body = request(shared.url + "/v2/nothing")
    assert status == 404 and body["error"]["message"]


def test_context_limit_names_both_numbers(serve):
    server = serve("--context", "64")
    long = [{"role": "user", "content": "word " * 200}]
    body = expect_error(lambda: server.client.chat.completions.create(model=MODEL, messages=long), 400)
    numbers = [int(n) for n in re.findall(r"\d+", body["message"])]
    assert 64 in numbers and any(n > 64 for n in numbers) and body["code"] == "context_length_exceeded"
    # a short prompt still works, its answer cut at the context
    r = server.client.chat.completions.create(model=MODEL, messages=PARIS, temperature=0)
    assert r.usage.total_tokens <= 64


# ------------------------------------------------------------------ models, loading, switching


def test_models_health_metrics_and_cluster(shared):
    models = shared.client.models.list()
    loaded = [m for m in models.data if m.id == MODEL]
    assert loaded and loaded[0].loaded is True and loaded[0].object == "model"
    health = shared.health()
    assert health["status"] == "ok" and health["model"]["state"] == "ready" and health["model"]["context"] > 0
    status, hdrs, text = request(shared.url + "/metrics")
    assert status == 200 and "salut_requests_total" in text and "salut_time_to_first_token_seconds_bucket" in text
    assert "salut_queue_depth" in text and "salut_model_load_seconds" in text
    status, _, cluster = request(shared.url + "/v1/cluster")
    assert status == 200 and cluster["nodes"][0]["model"]["state"] == "ready"


def test_preload_shows_loading_then_ready(serve):
    server = serve("--model", MODEL)
    states = set()
    wait_for(lambda: states.add(server.health()["model"]["state"]) or "ready" in states, timeout=60, what="ready")
    assert states <= {"loading", "ready"}
    # the API answered while loading: /health never failed, and a request made now just works
    assert "Paris" in server.client.chat.completions.create(model=MODEL, messages=PARIS,
                                                            temperature=0).choices[0].message.content


def test_switching_models_and_failed_loads(serve, tmp_path):
    other = second_model(tmp_path)
    broken = tmp_path / "broken-model"
    broken.mkdir()
    shutil.copy(SMOLLM / "config.json", broken / "config.json")
    (broken / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": 1}")
    server = serve()
    for model in (MODEL, str(other), MODEL):
        r = server.client.chat.completions.create(model=model, messages=PARIS, temperature=0, max_tokens=8)
        assert r.model == model and "Paris" in r.choices[0].message.content
        assert server.health()["model"]["model"] == model
    body = expect_error(lambda: server.client.chat.completions.create(model=str(broken), messages=PARIS), 400)
    assert "safetensors" in body["message"] or "broken" in body["message"]
    assert server.health()["model"]["state"] == "failed"
    r = server.client.chat.completions.create(model=str(other), messages=PARIS, temperature=0, max_tokens=8)
    assert "Paris" in r.choices[0].message.content and server.health()["model"]["state"] == "ready"
    log = server.log.read_text()
    # every switch unloads first, and the memory goes back: resident size after < before - weights / 2
    units = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9}
    drops = [(float(a) * units[au], float(b) * units[bu]) for a, au, b, bu in
             re.findall(r"unloaded .*: resident memory ([\d.]+) (\w+) -> ([\d.]+) (\w+)", log)]
    assert len(drops) >= 3, log
    weights = (SMOLLM / "model.safetensors").stat().st_size
    assert all(after < before - weights / 2 for before, after in drops), drops


def test_concurrent_requests_are_queued_and_a_full_queue_is_429(serve):
    server = ready(serve("--model", MODEL, "--max-queue", "2"))
    results, errors = [], []

    def one():
        try:
            results.append(server.client.chat.completions.create(model=MODEL, messages=PARIS, temperature=0,
                                                                 max_tokens=48))
        except openai.APIStatusError as e:
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results, errors
    texts = {r.choices[0].message.content for r in results}
    assert len(texts) == 1  # every request independent: the same greedy answer
    assert all(e.status_code == 429 for e in errors)
    if errors:
        assert errors[0].response.headers["Retry-After"] == "1"
    assert len(results) + len(errors) == 8


def test_client_disconnect_stops_generation(serve):
    server = ready(serve("--model", MODEL))
    sock = socket.create_connection(("127.0.0.1", server.port))
    eos = json.loads((SMOLLM / "generation_config.json").read_text())["eos_token_id"]
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "Write a very long story."}],
                       "max_tokens": 5000, "stream": True, "temperature": 1.0,
                       "logit_bias": {str(eos): -100}}).encode()  # it cannot end on its own
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    received = b""
    while b"data:" not in received:
        chunk = sock.recv(4096)
        assert chunk, received
        received += chunk
    sock.close()
    wait_for(lambda: "client disconnected" in server.log.read_text(), timeout=10, what="the stop")
    start = time.monotonic()
    r = server.client.chat.completions.create(model=MODEL, messages=PARIS, temperature=0, max_tokens=8)
    assert "Paris" in r.choices[0].message.content and time.monotonic() - start < 10


def test_api_key_guards_the_api(serve):
    server = serve("--api-key", "secret")
    expect_error(lambda: server.client.models.list(), 401)
    ok = openai.OpenAI(base_url=server.url + "/v1", api_key="secret", max_retries=0)
    assert ok.models.list().object == "list"
    assert request(server.url + "/health")[0] == 200


def test_dashboard_and_load_button(serve):
    server = serve()
    status, hdrs, page = request(server.url + "/")
    assert status == 200 and hdrs["Content-Type"].startswith("text/html")
    assert "/v1/chat/completions" in page and "<script" in page
    assert not re.search(r'src="https?://', page) and not re.search(r'href="https?://', page)  # no CDN
    status, _, body = request(server.url + "/api/load", body={"model": MODEL})
    assert status == 202
    wait_for(lambda: server.health()["model"]["state"] == "ready", timeout=60, what="load")
    assert [m for m in server.client.models.list().data if m.id == MODEL][0].loaded
    assert request(server.url + "/api/load", body={})[0] == 400


def test_switch_waits_for_the_generation_in_flight(serve, tmp_path):
    other = second_model(tmp_path)
    server = ready(serve("--model", MODEL))
    events = []

    def long_stream():
        stream = server.client.chat.completions.create(model=MODEL, stream=True, max_tokens=120, temperature=0,
                                                       messages=[{"role": "user", "content": "Tell me a long story."}])
        chunks = list(stream)
        events.append(("A done", chunks[-1].choices[0].finish_reason))

    a = threading.Thread(target=long_stream)
    a.start()
    wait_for(lambda: server.health()["model"]["busy"], timeout=30, what="A in flight")
    r = server.client.chat.completions.create(model=str(other), messages=PARIS, temperature=0, max_tokens=8)
    events.append(("B done", r.choices[0].finish_reason))
    a.join()
    # B waited for A's whole answer (never cut), then the switch happened
    assert events[0][0] == "A done" and events[0][1] in ("stop", "length") and events[1][0] == "B done"
    assert server.health()["model"]["model"] == str(other)


def test_long_prefill_sends_keep_alive_comments(shared):
    conn = http.client.HTTPConnection("127.0.0.1", shared.port, timeout=120)
    long = [{"role": "user", "content": "Summarise: " + "the cat sat on the mat. " * 250}]  # > 1,500 tokens
    conn.request("POST", "/v1/chat/completions", json.dumps({"model": MODEL, "messages": long, "max_tokens": 2,
                                                             "stream": True}),
                 {"Content-Type": "application/json"})
    events = [e for e in conn.getresponse().read().decode().split("\n\n") if e]
    assert ": prefill" in events and events[-1] == "data: [DONE]"
    assert any(e.startswith("data: {") for e in events)


PERSON = {"type": "object",
          "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 30},
                         "age": {"type": "integer"},
                         "email": {"type": ["string", "null"], "maxLength": 40},
                         "role": {"enum": ["admin", "user", "guest"]},
                         "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 4}},
          "required": ["name", "age", "role", "tags"], "additionalProperties": False}


def test_json_schema_output_always_validates(shared):
    import jsonschema
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}
    for seed in range(6):
        r = shared.client.chat.completions.create(model=MODEL, temperature=1.0, seed=seed, max_tokens=300,
                                                  messages=[{"role": "user", "content": "Describe a person."}],
                                                  response_format=fmt)
        assert r.choices[0].finish_reason == "stop", r
        jsonschema.validate(json.loads(r.choices[0].message.content), PERSON)
    # streamed too
    text = "".join(c.choices[0].delta.content or "" for c in shared.client.chat.completions.create(
        model=MODEL, temperature=0.7, seed=1, max_tokens=300, stream=True, response_format=fmt,
        messages=[{"role": "user", "content": "Describe a person."}]))
    jsonschema.validate(json.loads(text), PERSON)
    r = shared.client.chat.completions.create(model=MODEL, temperature=0, max_tokens=300,
                                              messages=[{"role": "user", "content": "Give me JSON about Paris."}],
                                              response_format={"type": "json_object"})
    assert isinstance(json.loads(r.choices[0].message.content), dict) or r.choices[0].finish_reason == "length"


def test_unsupported_schema_features_are_refused_by_name(shared):
    for schema, word in (({"type": "string", "pattern": "^a+$"}, "pattern"),
                         ({"type": "integer", "minimum": 3}, "minimum"),
                         ({"not": {"type": "string"}}, "not")):
        body = expect_error(lambda: shared.client.chat.completions.create(
            model=MODEL, messages=PARIS,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}), 400,
            "response_format")
        assert word in body["message"], body


def hermes_model(tmp_path):
    """The demo weights and tokenizer (ChatML, as Qwen's) with Qwen 3's real chat template."""
    import gzip
    folder = tmp_path / "smollm-qwen3-template"
    folder.mkdir()
    for f in SMOLLM.iterdir():
        if f.name != "tokenizer_config.json":
            os.symlink(f, folder / f.name)
    config = json.loads((SMOLLM / "tokenizer_config.json").read_text())
    qwen3 = json.loads(gzip.open(REPO_ROOT / "tests/data/tokenizers/qwen3/tokenizer_config.json.gz").read())
    config["chat_template"] = qwen3["chat_template"]
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return str(folder)


WEATHER = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40},
                                                    "unit": {"enum": ["celsius", "fahrenheit"]}},
                   "required": ["city", "unit"]}}},
           {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {},
                                                                                "additionalProperties": False}}}]


def test_tool_calls_forced_by_tool_choice(serve, tmp_path):
    model = hermes_model(tmp_path)
    server = serve("--model", model)
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    r = server.client.chat.completions.create(model=model, messages=ask, tools=WEATHER, temperature=0,
                                              tool_choice={"type": "function", "function": {"name": "get_weather"}})
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.id.startswith("call_") and call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    assert set(args) == {"city", "unit"} and args["unit"] in ("celsius", "fahrenheit")
    # required: one of the tools; streamed as tool-call deltas
    chunks = list(server.client.chat.completions.create(model=model, messages=ask, tools=WEATHER, temperature=0.7,
                                                        seed=3, tool_choice="required", stream=True))
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls and calls[0].function.name in ("get_weather", "get_time"), chunks and calls[0].id.startswith("call_")
    json.loads("".join(tc.function.arguments or "" for tc in calls))
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    # the call and its result go back in the conversation and render
    follow = ask + [{"role": "assistant", "content": None, "tool_calls": [
                        {"id": call.id, "type": "function",
                         "function": {"name": call.function.name, "arguments": call.function.arguments}}]},
                    {"role": "tool", "tool_call_id": call.id, "content": "{\"temperature\": 21}"}]
    r = server.client.chat.completions.create(model=model, messages=follow, tools=WEATHER, max_tokens=16)
    assert r.choices[0].finish_reason in ("stop", "length", "tool_calls")
    expect_error(lambda: server.client.chat.completions.create(
        model=model, messages=ask, tools=WEATHER, tool_choice={"type": "function", "function": {"name": "nope"}}),
        400, "tool_choice")
    # a template without a tool-call syntax salut can enforce: refused, not ignored
    expect_error(lambda: server.client.chat.completions.create(model=MODEL, messages=ask, tools=WEATHER,
                                                               tool_choice="required"), 400, "tool_choice")


def test_memory_check_refuses_with_the_numbers(serve):
    # the demo model's KV cache for 100M tokens is terabytes: refused before loading, with the figures
    server = serve("--context", "100000000")
    body = expect_error(lambda: server.client.chat.completions.create(model=MODEL, messages=PARIS), 503)
    assert "KV cache" in body["message"] and "available" in body["message"] and body["code"] == "insufficient_memory"
    assert server.health()["model"]["state"] == "failed"
    assert request(server.url + "/health")[0] == 200


def test_preload_downloads_with_progress(tmp_path):
    # the demo model served by the stand-in Hub, slowly enough to watch the progress
    with FakeHub() as hub:
        hub.add_repo("org/SmolLM2-demo", {f.name: f for f in SMOLLM.iterdir()})
        hub.throttle(40_000_000)
        server = Server(tmp_path, "--model", "org/SmolLM2-demo", env=clean_env(tmp_path, HF_ENDPOINT=hub.url))
        try:
            seen = []

            listed = []

            def ready():
                m = server.health()["model"]
                if m["state"] == "downloading":
                    seen.append(m["download"]["done_bytes"] / max(1, m["download"]["total_bytes"]))
                    entry = [e for e in request(server.url + "/v1/models")[2]["data"] if e["id"] == "org/SmolLM2-demo"]
                    if entry and entry[0].get("state") == "downloading":
                        listed.append(entry[0]["download"]["total_bytes"])
                return m["state"] == "ready"

            wait_for(ready, timeout=60, interval=0.05, what="download and load")
            assert seen and seen == sorted(seen) and seen[-1] <= 1.0, seen
            assert listed and listed[0] > 0  # /v1/models shows the download too
            r = server.client.chat.completions.create(model="org/SmolLM2-demo", messages=PARIS, temperature=0)
            assert "Paris" in r.choices[0].message.content
            assert any(m.id == "org/SmolLM2-demo" and m.loaded for m in server.client.models.list().data)
        finally:
            server.stop()


def test_queued_requests_for_the_loaded_model_go_before_a_switch(serve, tmp_path):
    other = second_model(tmp_path)
    server = ready(serve("--model", MODEL))
    done = []

    eos = json.loads((SMOLLM / "generation_config.json").read_text())["eos_token_id"]
    never_end = {str(t): -100 for t in (eos if isinstance(eos, list) else [eos])}

    def ask(model, tokens, tag):  # exactly `tokens` tokens: the end-of-sequence token is banned
        server.client.chat.completions.create(model=model, messages=PARIS, temperature=0, max_tokens=tokens,
                                              logit_bias=never_end)
        done.append(tag)

    threads = [threading.Thread(target=ask, args=(MODEL, 400, "A-long"))]
    threads[0].start()
    wait_for(lambda: server.health()["model"]["busy"], timeout=30, what="A in flight")
    for i, (model, tag) in enumerate([(str(other), "B"), (MODEL, "A1"), (MODEL, "A2")]):
        threads.append(threading.Thread(target=ask, args=(model, 8, tag)))
        threads[-1].start()
        wait_for(lambda: server.health()["model"]["queued"] == i + 1, timeout=30, what=f"{tag} queued")
    for t in threads:
        t.join()
    # B asked first, but the loaded model's requests were served before switching (no ping-pong)
    assert done == ["A-long", "A1", "A2", "B"], done


QWEN3 = REPO_ROOT / "models" / "fixtures-chat" / "qwen3-tiny-4bit"


@pytest.mark.skipif(not (QWEN3 / "config.json").exists(), reason="no chat fixture (tools/make_chat_fixture.py)")
def test_qwen3_fixture_emits_tool_calls_and_json(serve):
    import jsonschema
    model = str(QWEN3)
    server = serve("--model", model)
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    parameters = WEATHER[0]["function"]["parameters"]
    for seed in range(3):
        r = server.client.chat.completions.create(model=model, messages=ask, tools=WEATHER, temperature=1.0, seed=seed,
                                                  tool_choice={"type": "function", "function": {"name": "get_weather"}},
                                                  max_tokens=200)
        assert r.choices[0].finish_reason == "tool_calls", r
        call = r.choices[0].message.tool_calls[0]
        assert call.function.name == "get_weather" and call.id.startswith("call_")
        jsonschema.validate(json.loads(call.function.arguments), parameters)
    chunks = list(server.client.chat.completions.create(model=model, messages=ask, tools=WEATHER, stream=True,
                                                        tool_choice="required", max_tokens=200, seed=9))
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls and calls[0].function.name in ("get_weather", "get_time"), chunks
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    # structured output on a 151k-token vocabulary
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}}
    r = server.client.chat.completions.create(model=model, messages=ask, response_format=fmt, max_tokens=300,
                                              seed=4, extra_body={"chat_template_kwargs": {"enable_thinking": False}})
    assert r.choices[0].finish_reason == "stop", r
    jsonschema.validate(json.loads(r.choices[0].message.content), PERSON)
