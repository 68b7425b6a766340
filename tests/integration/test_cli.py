"""The salut CLI: model ID validation before any disk or network access, display names, the
custom model registry, ls / rm, the top-level options, `bench`, and `serve`'s first routes."""

import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from salut_util import REPO_ROOT, SALUT_BIN, ServeProcess, clean_env, error_line, mlx_model, repo_dir, run_salut, safetensors

# ------------------------------------------------------------------ model IDs

# A NUL byte cannot pass through argv (execve takes C strings), so "a/b\0c" can't be tried
# here; the C++ unit tests feed it to the parser directly.
BAD_IDS = {
    "traversal": "../../etc/passwd",
    "two-slashes": "a/b/c",
    "empty-owner": "/b",
    "empty-name": "a/",
    "empty": "",
    "space-in-owner": "a b/c",
    "space-in-name": "a/b c",
    "1000-chars": "a" * 1000,
    "1000-chars-with-slash": "a" * 500 + "/" + "b" * 499,
    "empty-revision": "a/b@",
    "dotdot-name": "a/..",
    "dotdot-inside": "a/b..c",
    "dotdot-revision": "a/b@..",
    "control-char": "a/b\x01",
    "newline": "a/b\nc",
    "delete-char": "a/b\x7f",
    "97-char-owner": "o" * 97 + "/b",
    "97-char-name": "a/" + "n" * 97,
    "97-char-revision": "a/b@" + "r" * 97,
    "two-ats": "a/b@c@d",
    "no-slash": "ab",
    "leading-dot": "a/.b",
    "backslash": "a\\b/c",
    "percent": "a/%2e%2e",
    "non-ascii": "a/b\u00e9",
    "invalid-utf8": "a/b\udcff",  # the byte 0xff (surrogateescape)
    "long-non-ascii": "a" * 119 + "\u00e9/b",  # the message's cut at 120 bytes falls inside the character
}


@pytest.fixture
def absent_env(tmp_path, fake_hub, salut_bin):
    """An environment whose every directory (cache, data dir, HF home, home) does not exist."""
    base = tmp_path / "absent"
    env = clean_env(base, HF_ENDPOINT=fake_hub.url, HF_TOKEN="hf_token")
    env["XDG_CACHE_HOME"] = str(base / "xdg_cache")
    env["XDG_DATA_HOME"] = str(base / "xdg_data")
    return base, env


@pytest.mark.parametrize("bad_id", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_bad_model_ids_are_refused_before_any_access(bad_id, absent_env, fake_hub, tmp_path):
    base, env = absent_env
    fake_hub.add_repo("a/b", mlx_model(1000))
    for command in (["pull"], ["pull", "-j", "2", "good/model"], ["rm"], ["custom", "add"], ["custom", "rm"]):
        proc = run_salut([*command, bad_id], env, timeout=10, cwd=tmp_path)
        assert proc.returncode == 2, (command, proc.stderr)
        assert proc.stdout == ""
        line = error_line(proc)
        assert proc.stderr == line + "\n", f"{command}: not one line: {proc.stderr!r}"
        assert line.startswith("salut: error: invalid model ID '")
        assert not base.exists(), f"{command} {bad_id!r} created {base}"
        assert fake_hub.requests == [], f"{command} {bad_id!r} reached the Hub"
    assert list(tmp_path.iterdir()) == []  # nothing relative to the working directory either


def test_bad_id_under_strace_makes_no_connection_and_no_cache_access(absent_env, fake_hub, tmp_path):
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    probe = subprocess.run(["strace", "-o", "/dev/null", "true"], capture_output=True, timeout=10)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here: {probe.stderr.decode().strip()}")
    base, env = absent_env
    trace = tmp_path / "trace.txt"
    proc = subprocess.run(["strace", "-f", "-qq", "-e", "trace=file,network", "-o", str(trace), str(SALUT_BIN),
                           "pull", "good/model", "../../etc/passwd"], env=env, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2, proc.stderr
    calls = trace.read_text().splitlines()
    assert calls, "strace recorded nothing"
    assert any("execve(" in c for c in calls)  # the trace works
    network = [c for c in calls if any(f"{name}(" in c for name in ("socket", "connect", "sendto", "bind"))]
    assert network == []
    touched = [c for c in calls if str(base) in c or ("etc/passwd" in c and "execve(" not in c)]
    assert touched == []
    assert not base.exists() and fake_hub.requests == []


def test_valid_ids_pass_the_check(absent_env, fake_hub):
    """The edges of the rule are accepted (and then fail for their real reason: not cached)."""
    base, env = absent_env
    for good in ("a/b", "A-1/b_2.c", "o" * 96 + "/" + "n" * 96, "a/b@v1.0", "a/b@" + "0" * 40, "a/b.-_"):
        proc = run_salut(["rm", good], env, timeout=10)
        assert proc.returncode == 1, proc.stderr
        assert "is not in the cache" in error_line(proc)


# ------------------------------------------------------------------ display names

DISPLAY_NAMES = [
    # The table.
    ("mlx-community/Qwen3-8B-MLX-4bit", "Qwen 3 8B (4-bit)"),
    ("mlx-community/Llama-3.3-70B-Instruct-4bit", "Llama 3.3 70B Instruct (4-bit)"),
    ("mlx-community/Phi-4-mini-instruct-4bit", "Phi 4 Mini Instruct (4-bit)"),
    ("mlx-community/Qwen3-30B-A3B-8bit", "Qwen 3 30B-A3B (8-bit)"),
    ("mlx-community/Mistral-7B-Instruct-v0.3-4bit", "Mistral 7B Instruct v0.3 (4-bit)"),
    ("mlx-community/SmolLM2-135M-Instruct", "SmolLM 2 135M Instruct"),
    # More of the rule.
    ("mlx-community/Qwen2.5-0.5B-Instruct-bf16", "Qwen 2.5 0.5B Instruct (BF16)"),
    ("mlx-community/gemma-3-27b-it-qat-4bit", "Gemma 3 27B IT QAT (4-bit)"),
    ("mlx-community/gemma3-1b-it-8bit", "Gemma 3 1B IT (8-bit)"),
    ("mlx-community/Qwen3-0.6B-MLX-bf16", "Qwen 3 0.6B (BF16)"),
    ("mlx-community/Mistral-Small-24B-Instruct-2501-4bit", "Mistral Small 24B Instruct 2501 (4-bit)"),
    ("mlx-community/DeepSeek-R1-Distill-Qwen-7B-8bit", "DeepSeek R1 Distill Qwen 7B (8-bit)"),
    ("mlx-community/Llama-3.2-1B-Instruct-mxfp4", "Llama 3.2 1B Instruct (MXFP4)"),
    ("mlx-community/Qwen3-8B-fp16", "Qwen 3 8B (FP16)"),
    ("mlx-community/Qwen2.5-VL-7B-Instruct-4bit", "Qwen 2.5 VL 7B Instruct (4-bit)"),
    ("mlx-community/Qwen3-8B-4bit-DWQ", "Qwen 3 8B DWQ (4-bit)"),
    ("mlx-community/Qwen3-8B-MLX-4bit@main", "Qwen 3 8B (4-bit)"),
]


def test_display_names(tmp_path, salut_bin):
    env = clean_env(tmp_path)
    local = tmp_path / "models" / "SmolLM2-135M-Instruct-4bit"
    local.mkdir(parents=True)
    ids = [model_id for model_id, _ in DISPLAY_NAMES] + [str(local), str(local) + "/"]
    proc = run_salut(["display-name", *ids], env, timeout=10)
    assert proc.returncode == 0, proc.stderr
    expected = [name for _, name in DISPLAY_NAMES] + ["SmolLM 2 135M Instruct (4-bit)"] * 2
    assert proc.stdout.splitlines() == expected
    # A relative path, as a user in the repo types it.
    proc = run_salut(["display-name", "./models/SmolLM2-135M-Instruct-4bit"], env, timeout=10, cwd=tmp_path)
    assert proc.stdout == "SmolLM 2 135M Instruct (4-bit)\n"


# ------------------------------------------------------------------ registry

CUSTOM_FILE = """\
# my models
mlx-community/Qwen3-8B-MLX-4bit

  # indented comment
not a model id
someone/fine-tune@v2
../../etc/passwd
owner/extra
"""


@pytest.fixture
def reg_env(tmp_path, salut_bin):
    env = clean_env(tmp_path)
    home = Path(env["SALUT_HOME"])
    home.mkdir(parents=True)
    return env, home / "custom-models.txt"


def test_custom_ls_reports_bad_lines_without_failing(reg_env):
    env, file = reg_env
    file.write_text(CUSTOM_FILE)
    proc = run_salut(["custom", "ls"], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["mlx-community/Qwen3-8B-MLX-4bit", "someone/fine-tune@v2", "owner/extra"]
    warnings = proc.stderr.splitlines()
    assert len(warnings) == 2
    assert warnings[0].startswith("salut: warning: ") and "line 5" in warnings[0] and "not a model id" in warnings[0]
    assert "line 7" in warnings[1] and "../../etc/passwd" in warnings[1]


def test_custom_add_and_rm_keep_comments_and_bad_lines(reg_env):
    env, file = reg_env
    file.write_text(CUSTOM_FILE)

    proc = run_salut(["custom", "add", "new/model", "owner/extra"], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["added new/model", "already listed: owner/extra"]
    assert file.read_text() == CUSTOM_FILE + "new/model\n"

    proc = run_salut(["custom", "rm", "someone/fine-tune@v2", "never/listed"], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["removed someone/fine-tune@v2", "not listed: never/listed"]
    assert file.read_text() == CUSTOM_FILE.replace("someone/fine-tune@v2\n", "") + "new/model\n"

    proc = run_salut(["custom", "ls"], env)
    assert proc.stdout.splitlines() == ["mlx-community/Qwen3-8B-MLX-4bit", "owner/extra", "new/model"]
    assert not list(file.parent.glob("*.tmp"))


def test_custom_add_creates_the_data_dir(tmp_path, salut_bin):
    env = clean_env(tmp_path)
    proc = run_salut(["custom", "add", "a/b"], env)
    assert proc.returncode == 0, proc.stderr
    lines = (Path(env["SALUT_HOME"]) / "custom-models.txt").read_text().splitlines()
    assert lines[-1] == "a/b" and all(line.startswith("#") for line in lines[:-1])
    assert run_salut(["custom", "ls"], env).stdout == "a/b\n"


def pull_ok(env, model_id):
    proc = run_salut(["pull", "-q", model_id], env)
    assert proc.returncode == 0, proc.stderr


def ls_json(env):
    proc = run_salut(["ls", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    return {e["id"]: e for e in json.loads(proc.stdout)}, proc.stderr


def test_ls_merges_cached_and_custom_models(fake_hub, env, cache):
    fake_hub.add_repo("org/Qwen3-8B-MLX-4bit", mlx_model(1000, model_type="qwen3"))
    c_auto = fake_hub.add_repo("org/auto-model", mlx_model(2000))
    fake_hub.add_repo("org/not-mlx", {"config.json": b'{"model_type": "x"}', "model.safetensors": safetensors(10)})
    pull_ok(env, "org/Qwen3-8B-MLX-4bit")
    pull_ok(env, "org/auto-model")
    # A cache entry that is not a model (no model_type) is not listed.
    broken = repo_dir(cache, "org/broken")
    (broken / "snapshots" / ("b" * 40)).mkdir(parents=True)
    (broken / "refs").mkdir()
    (broken / "refs" / "main").write_text("b" * 40)
    (broken / "snapshots" / ("b" * 40) / "config.json").write_text("{}")

    custom = Path(env["SALUT_HOME"]) / "custom-models.txt"
    custom.parent.mkdir(parents=True)
    custom.write_text("org/Qwen3-8B-MLX-4bit\nbad line\nsomeone/Llama-3.3-70B-Instruct-4bit\n")

    entries, stderr = ls_json(env)
    assert "warning" in stderr and "bad line" in stderr
    assert sorted(entries) == ["org/Qwen3-8B-MLX-4bit", "org/auto-model", "someone/Llama-3.3-70B-Instruct-4bit"]

    both = entries["org/Qwen3-8B-MLX-4bit"]
    assert (both["custom"], both["detected"], both["downloaded"], both["source"]) == (True, True, True, "custom,cache")
    assert both["display_name"] == "Qwen 3 8B (4-bit)" and both["model_type"] == "qwen3"
    snapshot = repo_dir(cache, "org/Qwen3-8B-MLX-4bit") / "snapshots" / both["commit"]
    assert both["path"] == str(snapshot)
    assert both["size_bytes"] == sum(p.stat().st_size for p in snapshot.parent.parent.joinpath("blobs").iterdir())

    auto = entries["org/auto-model"]
    assert (auto["custom"], auto["detected"], auto["downloaded"], auto["source"]) == (False, True, True, "cache")
    assert auto["commit"] == c_auto

    pending = entries["someone/Llama-3.3-70B-Instruct-4bit"]
    assert pending == {"id": "someone/Llama-3.3-70B-Instruct-4bit", "display_name": "Llama 3.3 70B Instruct (4-bit)",
                       "size_bytes": 0, "downloaded": False, "custom": True, "detected": False, "source": "custom",
                       "model_type": "", "commit": "", "path": ""}

    table = run_salut(["ls"], env).stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "SIZE", "STATUS", "SOURCE"]
    row = next(line for line in table if line.startswith("someone/"))
    assert "not downloaded" in row and row.endswith("custom")


def test_rm_removes_a_model(fake_hub, env, cache):
    fake_hub.add_repo("org/keep", mlx_model(1000, seed=1))
    fake_hub.add_repo("org/drop", mlx_model(1000, seed=2))
    fake_hub.add_repo("org/custom", mlx_model(1000, seed=3))
    for model in ("org/keep", "org/drop", "org/custom"):
        pull_ok(env, model)
    assert run_salut(["custom", "add", "org/custom"], env).returncode == 0

    proc = run_salut(["rm", "org/drop"], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("removed org/drop (")
    assert not repo_dir(cache, "org/drop").exists()
    assert not (cache / ".locks" / "models--org--drop").exists()
    assert repo_dir(cache, "org/keep").exists()

    proc = run_salut(["rm", "org/custom"], env)
    assert proc.returncode == 0, proc.stderr
    assert "stays in the custom list" in proc.stdout
    entries, _ = ls_json(env)
    assert sorted(entries) == ["org/custom", "org/keep"]
    assert (entries["org/custom"]["downloaded"], entries["org/custom"]["source"]) == (False, "custom")

    proc = run_salut(["rm", "org/drop"], env)
    assert proc.returncode == 1
    assert "org/drop is not in the cache" in error_line(proc)


def test_rm_of_one_revision_keeps_shared_blobs(fake_hub, env, cache):
    v1 = mlx_model(5000)
    c1 = fake_hub.add_repo("org/m", v1)
    fake_hub.add_tag("org/m", "v1", c1)
    c2 = fake_hub.add_revision("org/m", {**v1, "config.json": b'{"model_type": "llama", "v": 2}'})
    pull_ok(env, "org/m@v1")
    pull_ok(env, "org/m")
    rdir = repo_dir(cache, "org/m")

    proc = run_salut(["rm", "org/m@v1"], env)
    assert proc.returncode == 0, proc.stderr
    assert not (rdir / "snapshots" / c1).exists() and not (rdir / "refs" / "v1").exists()
    for path, data in v1.items():
        if path != "config.json":
            assert (rdir / "snapshots" / c2 / path).read_bytes() == data  # the shared blobs stay
    assert len(list((rdir / "blobs").iterdir())) == len(v1)  # only v1's config.json blob went
    entries, _ = ls_json(env)
    assert list(entries) == ["org/m"] and entries["org/m"]["downloaded"]


# ------------------------------------------------------------------ top level


def test_version_help_and_usage_errors(tmp_path, salut_bin):
    env = clean_env(tmp_path)
    proc = run_salut(["--version"], env)
    assert proc.returncode == 0 and proc.stdout.startswith("salut ") and len(proc.stdout.splitlines()) == 1
    proc = run_salut(["--help"], env)
    assert proc.returncode == 0
    for command in ("serve", "pull", "ls", "rm", "display-name", "custom"):
        assert command in proc.stdout
    for args in (["frobnicate"], [], ["pull"], ["ls", "--nope"], ["pull", "-j", "0", "a/b"], ["custom"]):
        proc = run_salut(args, env)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("salut: "), (args, proc.stderr)
        assert proc.stdout == ""
    assert "frobnicate" in run_salut(["frobnicate"], env).stderr
    proc = run_salut(["ls", "--json"], env)  # an empty machine: nothing listed, nothing created
    assert (proc.returncode, json.loads(proc.stdout), proc.stderr) == (0, [], "")
    assert not tmp_path.joinpath("cache").exists() and not tmp_path.joinpath("salut_home").exists()


# ------------------------------------------------------------------ serve


def http(url, headers=None, timeout=5):
    """(status, parsed JSON body)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def served(fake_hub, env):
    fake_hub.add_repo("org/Qwen3-8B-MLX-4bit", mlx_model(1000))
    pull_ok(env, "org/Qwen3-8B-MLX-4bit")
    assert run_salut(["custom", "add", "someone/SmolLM2-135M-Instruct"], env).returncode == 0
    servers = []

    def start(*args):
        servers.append(ServeProcess(env, Path(env["HOME"]).parent, *args))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def test_serve_health_models_and_errors(served, env):
    server = served()
    status, body = http(server.url + "/health")
    assert status == 200 and body["status"] == "ok"

    status, body = http(server.url + "/v1/models")
    assert status == 200 and body["object"] == "list"
    ls_ids = [e["id"] for e in json.loads(run_salut(["ls", "--json"], env).stdout)]
    assert [m["id"] for m in body["data"]] == ls_ids == ["org/Qwen3-8B-MLX-4bit", "someone/SmolLM2-135M-Instruct"]
    for model in body["data"]:
        assert (model["object"], model["owned_by"]) == ("model", "local")
        assert isinstance(model["created"], int)

    status, body = http(server.url + "/no/such/route")
    assert status == 404
    assert isinstance(body["error"], dict) and body["error"]["message"] and body["error"]["type"]

    start = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    server.proc.communicate(timeout=5)
    assert server.proc.returncode == 0
    assert time.monotonic() - start < 5


def test_serve_api_key(served):
    server = served("--api-key", "k")
    status, body = http(server.url + "/v1/models")
    assert status == 401 and body["error"]["message"] and body["error"]["code"] == "invalid_api_key"
    status, body = http(server.url + "/v1/models", {"Authorization": "Bearer wrong"})
    assert status == 401 and "error" in body
    status, body = http(server.url + "/v1/models", {"Authorization": "Bearer k"})
    assert status == 200 and len(body["data"]) == 2
    status, body = http(server.url + "/health")
    assert status == 200 and body["status"] == "ok"
    status, body = http(server.url + "/nope", {"Authorization": "Bearer k"})
    assert status == 404 and "error" in body

    server.proc.send_signal(signal.SIGTERM)
    server.proc.communicate(timeout=5)
    assert server.proc.returncode == 0


# ------------------------------------------------------------------ bench


def test_bench_sets_each_cpu_run_against_the_bandwidth_around_it(tmp_path, salut_bin):
    model = REPO_ROOT / "models" / "SmolLM2-135M-Instruct-4bit"
    args = ["bench", str(model), "--device", "cpu", "--prompt", "8", "--tokens", "4", "--repeat", "3",
            "--bandwidth-buffer-gb", "0.05", "--json"]
    proc = run_salut(args, clean_env(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out["runs"]) == 3
    for run in out["runs"]:
        assert run["decode_tok_s"] > 0 and run["copy_bandwidth_gb_s"] > 0 and run["read_bandwidth_gb_s"] > 0
        assert run["fraction_of_copy_bandwidth"] == pytest.approx(
            (out["weight_bytes_per_token"] + out["kv_bytes_per_token"]) * run["decode_tok_s"] / 1e9 / run["copy_bandwidth_gb_s"])
    # the medians, each of its own column
    assert out["decode_tok_s"] == sorted(r["decode_tok_s"] for r in out["runs"])[1]
    assert out["fraction_of_copy_bandwidth"] == sorted(r["fraction_of_copy_bandwidth"] for r in out["runs"])[1]


def test_bench_of_a_missing_model_is_one_error_line(tmp_path, salut_bin):
    proc = run_salut(["bench", str(tmp_path / "no-such-model"), "--device", "cpu"], clean_env(tmp_path))
    assert proc.returncode != 0
    assert "no-such-model" in error_line(proc)


def test_bench_context_sizes_the_cache_and_refuses_one_too_small(tmp_path, salut_bin):
    model = REPO_ROOT / "models" / "SmolLM2-135M-Instruct-4bit"
    base = ["bench", str(model), "--device", "cpu", "--prompt", "8", "--tokens", "4", "--bandwidth-buffer-gb", "0.05"]
    proc = run_salut(base + ["--context", "2048", "--json"], clean_env(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["context"] == 2048
    proc = run_salut(base + ["--context", "12"], clean_env(tmp_path))
    assert proc.returncode != 0
    line = error_line(proc)
    assert "--context 12" in line and "13" in line


def test_bench_decodes_with_sampling_and_refuses_bad_sampling_options(tmp_path, salut_bin):
    model = REPO_ROOT / "models" / "SmolLM2-135M-Instruct-4bit"
    base = ["bench", str(model), "--device", "cpu", "--prompt", "8", "--tokens", "4", "--bandwidth-buffer-gb", "0.05"]
    proc = run_salut(base + ["--temp", "0.8", "--top-p", "0.9", "--top-k", "40", "--json"], clean_env(tmp_path),
                     timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["sampling"] == {"temperature": pytest.approx(0.8), "top_p": pytest.approx(0.9), "top_k": 40}
    assert out["decode_tok_s"] > 0
    for bad in (["--top-p", "1.5"], ["--temp", "-1"], ["--top-k", "-3"]):
        proc = run_salut(base + bad, clean_env(tmp_path))
        assert proc.returncode == 2, (bad, proc.stderr)  # a usage error, one line naming the option
        assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("salut: " + bad[0]), (bad, proc.stderr)
