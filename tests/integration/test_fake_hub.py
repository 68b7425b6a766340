"""Proves fake_hub.py speaks the Hub protocol well enough for the real huggingface_hub client.

huggingface_hub reads HF_ENDPOINT / HF_HUB_CACHE at import time, so the client runs in a
subprocess with its own environment; protocol details are checked directly with http.client.
"""

import hashlib
import http.client
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from fake_hub import FakeHub

HERE = Path(__file__).resolve().parent
REPO = "owner/name"

# Runs huggingface_hub calls in order and prints each result, or the exception, as JSON.
_CLIENT = r"""
import json, sys
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
results = []
for args in json.loads(sys.argv[1]):
    op = args.pop("op")
    try:
        if op == "snapshot":
            out = snapshot_download(**args)
        elif op == "download":
            out = hf_hub_download(**args)
        elif op == "tree":
            out = [f.path for f in HfApi().list_repo_tree(**args)]
        results.append({"ok": out})
    except Exception as e:
        resp = getattr(e, "response", None)
        results.append({"error": type(e).__name__, "status": getattr(resp, "status_code", None), "message": str(e)})
print(json.dumps(results))
"""


def hf_calls(hub: FakeHub, cache: Path, *calls: dict) -> list[dict]:
    """Run huggingface_hub calls against `hub` in one subprocess (imports cost ~0.7 s each)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}  # no stray tokens/endpoints
    env.update(
        HF_ENDPOINT=hub.url,
        HF_HUB_CACHE=str(cache),
        HF_HOME=str(cache.parent / "hf_home"),  # keeps ~/.cache/huggingface/token out of it
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
    )
    proc = subprocess.run([sys.executable, "-c", _CLIENT, json.dumps(list(calls))],
                          env=env, cwd=cache.parent, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def hf(hub: FakeHub, cache: Path, op: str, **kwargs) -> dict:
    return hf_calls(hub, cache, {"op": op, **kwargs})[0]


def request(url: str, method: str = "GET", headers: dict | None = None):
    """One request on a fresh connection, redirects not followed: (status, headers, body)."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request(method, u.path + (f"?{u.query}" if u.query else ""), headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def weights(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "hub_cache"


# ---------------------------------------------------------------- real client


def test_snapshot_download_builds_standard_cache(fake_hub, cache, tmp_path):
    disk_weights = tmp_path / "w.safetensors"
    disk_weights.write_bytes(weights(300_000))  # a Path value: served from disk via sendfile
    files = {
        "config.json": b'{"model_type": "llama"}',
        "tokenizer.json": b'{"version": "1.0"}',
        "model.safetensors": disk_weights,
        "sub/dir/x.json": b"[1, 2, 3]",
    }
    sha = fake_hub.add_repo(REPO, files)
    fake_hub.tokens.add("hf_good")

    res = hf(fake_hub, cache, "snapshot", repo_id=REPO, token="hf_good")

    repo_dir = cache / "models--owner--name"
    assert res == {"ok": str(repo_dir / "snapshots" / sha)}
    assert {"blobs", "snapshots", "refs"} <= {p.name for p in repo_dir.iterdir()}
    assert (repo_dir / "refs" / "main").read_text() == sha
    for path, value in files.items():
        content = value.read_bytes() if isinstance(value, Path) else value
        # LFS blobs are named by sha256, plain git files by their git blob sha1.
        blob_name = hashlib.sha256(content).hexdigest() if path.endswith(".safetensors") else git_sha1(content)
        link = repo_dir / "snapshots" / sha / path
        assert link.is_symlink()
        target = os.readlink(link)
        assert not os.path.isabs(target) and target.endswith(f"blobs/{blob_name}")
        assert link.resolve() == (repo_dir / "blobs" / blob_name).resolve()
        assert link.read_bytes() == content

    reqs = fake_hub.requests
    cdn = [r for r in reqs if r.server == "cdn"]
    assert [r.method for r in cdn] == ["GET"] and cdn[0].status == 200
    # The client must drop the token when the redirect leaves the hub's origin.
    assert all(r.authorization is None for r in cdn)
    resolves = [r for r in reqs if "/resolve/" in r.path]
    assert resolves and all(r.authorization == "Bearer hf_good" for r in resolves)
    assert not [r for r in reqs if r.status is not None and r.status >= 400 and "agent-harnesses" not in r.path]


def test_tree_pagination_is_followed(fake_hub, cache):
    fake_hub.tree_page_size = 2
    fake_hub.add_repo(REPO, {"a.json": b"1", "b.json": b"2", "sub/c.json": b"3", "sub/d/e.json": b"4"})
    res = hf(fake_hub, cache, "tree", repo_id=REPO, recursive=True)
    assert sorted(res["ok"]) == ["a.json", "b.json", "sub", "sub/c.json", "sub/d", "sub/d/e.json"]
    assert len([r for r in fake_hub.requests if "/tree/" in r.path]) == 3


def test_gated_repo(fake_hub, cache):
    fake_hub.tokens.update({"hf_good", "hf_other"})
    fake_hub.add_repo(REPO, {"model.safetensors": weights(1000)}, gated=True, allowed_tokens={"hf_good"})
    call = {"op": "download", "repo_id": REPO, "filename": "model.safetensors"}
    no_token, not_granted, granted = hf_calls(
        fake_hub, cache, {**call, "token": None}, {**call, "token": "hf_other"}, {**call, "token": "hf_good"})
    assert (no_token["error"], no_token["status"]) == ("GatedRepoError", 401)
    assert (not_granted["error"], not_granted["status"]) == ("GatedRepoError", 403)  # valid token, no access
    assert Path(granted["ok"]).read_bytes() == weights(1000)


def test_unknown_repo_raises_repository_not_found(fake_hub, cache):
    res = hf(fake_hub, cache, "snapshot", repo_id="nobody/nothing")
    assert (res["error"], res["status"]) == ("RepositoryNotFoundError", 401)


def test_revisions_tags_and_misses(fake_hub, cache):
    old = fake_hub.add_repo(REPO, {"config.json": b"old"})
    fake_hub.add_tag(REPO, "v1.0")
    new = fake_hub.add_revision(REPO, {"config.json": b"new"})
    assert old != new

    res, bad_rev, missing = hf_calls(
        fake_hub, cache,
        {"op": "snapshot", "repo_id": REPO, "revision": "v1.0"},
        {"op": "snapshot", "repo_id": REPO, "revision": "nope"},
        {"op": "download", "repo_id": REPO, "filename": "absent.json"})
    assert res == {"ok": str(cache / "models--owner--name" / "snapshots" / old)}
    assert (cache / "models--owner--name" / "refs" / "v1.0").read_text() == old
    assert Path(res["ok"], "config.json").read_bytes() == b"old"
    assert bad_rev["error"] == "RevisionNotFoundError"
    assert missing["error"] == "RemoteEntryNotFoundError"


def test_client_resumes_with_range_after_cut(fake_hub, cache):
    # huggingface_hub writes the body in 10 MiB chunks and drops a partial chunk when the
    # connection dies, so only a cut past the first chunk shows up as a ranged resume.
    chunk = 10 * 1024 * 1024
    data = weights(chunk + 300_000, seed=1)
    fake_hub.add_repo(REPO, {"model.safetensors": data})
    fake_hub.fault_cut(after_bytes=chunk + 100_000)
    res = hf(fake_hub, cache, "download", repo_id=REPO, filename="model.safetensors")
    assert Path(res["ok"]).read_bytes() == data
    cdn = [r for r in fake_hub.requests if r.server == "cdn"]
    assert [(r.range, r.status) for r in cdn] == [(None, 200), (f"bytes={chunk}-", 206)]


# ------------------------------------------------------------- protocol details


def test_error_codes_match_the_hub(fake_hub):
    fake_hub.tokens.add("hf_good")
    sha = fake_hub.add_repo(REPO, {"config.json": b"{}"})
    fake_hub.add_repo("owner/secret", {"config.json": b"{}"}, private=True)
    good = {"Authorization": "Bearer hf_good"}
    cases = [
        # url, headers, status, X-Error-Code
        ("/api/models/nobody/x", {}, 401, "RepoNotFound"),
        ("/api/models/nobody/x", good, 404, "RepoNotFound"),
        ("/api/models/owner/secret", {}, 401, "RepoNotFound"),
        ("/api/models/owner/secret", good, 200, None),
        ("/api/models/owner/name", {"Authorization": "Bearer hf_bad"}, 401, None),
        ("/api/models/owner/name/revision/nope", {}, 404, "RevisionNotFound"),
        ("/owner/name/resolve/main/absent.json", {}, 404, "EntryNotFound"),
    ]
    for path, headers, status, code in cases:
        got, h, body = request(fake_hub.url + path, headers=headers)
        assert (got, h.get("X-Error-Code")) == (status, code), path
        if status >= 400:
            assert "error" in json.loads(body)
    _, h, _ = request(fake_hub.url + "/owner/name/resolve/main/absent.json")
    assert h["X-Repo-Commit"] == sha  # lets clients cache the miss per commit
    _, h, _ = request(fake_hub.url + "/api/models/owner/name", headers={"Authorization": "Bearer hf_bad"})
    assert h["X-Error-Message"] == "Invalid credentials in Authorization header"


def test_resolve_and_info_headers(fake_hub):
    data = weights(5000)
    sha = fake_hub.add_repo(REPO, {"config.json": b"{}", "model.safetensors": data})
    fake_hub.add_tag(REPO, "refs/pr/1")  # slash in the name: clients percent-encode it

    status, h, body = request(f"{fake_hub.url}/owner/name/resolve/main/config.json", "HEAD")
    assert (status, h["ETag"], h["X-Repo-Commit"], h["Content-Length"]) == (200, f'"{git_sha1(b"{}")}"', sha, "2")

    for rev in ("main", sha, "refs%2Fpr%2F1"):
        status, h, _ = request(f"{fake_hub.url}/owner/name/resolve/{rev}/model.safetensors", "HEAD")
        assert status == 302 and h["X-Repo-Commit"] == sha
        assert h["X-Linked-Etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
        assert h["X-Linked-Size"] == "5000"
        assert h["Location"].startswith(fake_hub.cdn_url + "/cdn/")

    status, _, body = request(f"{fake_hub.url}/api/models/owner/name/revision/refs%2Fpr%2F1")
    info = json.loads(body)
    assert (status, info["id"], info["sha"]) == (200, REPO, sha)
    assert sorted(s["rfilename"] for s in info["siblings"]) == ["config.json", "model.safetensors"]

    _, _, body = request(f"{fake_hub.url}/api/models/owner/name/tree/main?recursive=true")
    lfs_entry = next(e for e in json.loads(body) if e["path"] == "model.safetensors")
    # pointerSize is the length of the git-lfs pointer text ("version ...\noid sha256:...\nsize 5000\n").
    assert lfs_entry["lfs"] == {"oid": hashlib.sha256(data).hexdigest(), "size": 5000, "pointerSize": 129}


def test_cdn_range_requests(fake_hub):
    data = weights(1000)
    fake_hub.add_repo(REPO, {"model.safetensors": data})
    _, h, _ = request(f"{fake_hub.url}/owner/name/resolve/main/model.safetensors", "HEAD")
    url = h["Location"]

    status, h, _ = request(url, "HEAD")
    assert (status, h["Content-Length"], h["Accept-Ranges"]) == (200, "1000", "bytes")
    for rng, want, content_range in [
        ("bytes=10-", data[10:], "bytes 10-999/1000"),
        ("bytes=10-19", data[10:20], "bytes 10-19/1000"),
        ("bytes=990-5000", data[990:], "bytes 990-999/1000"),
        ("bytes=-5", data[-5:], "bytes 995-999/1000"),
    ]:
        status, h, body = request(url, headers={"Range": rng})
        assert (status, h["Content-Range"], body) == (206, content_range, want), rng
        assert h["Content-Length"] == str(len(want))
    status, h, _ = request(url, headers={"Range": "bytes=1000-"})
    assert (status, h["Content-Range"]) == (416, "bytes */1000")


def test_cdn_rejects_authorization_header(fake_hub):
    fake_hub.add_repo(REPO, {"model.safetensors": b"x" * 10})
    _, h, _ = request(f"{fake_hub.url}/owner/name/resolve/main/model.safetensors", "HEAD")
    status, _, _ = request(h["Location"], headers={"Authorization": "Bearer hf_good"})
    assert status == 400  # like S3 with a presigned URL plus a token
    assert fake_hub.requests[-1].headers["authorization"] == "Bearer hf_good"


def test_fault_cut_closes_connection_mid_body(fake_hub):
    data = weights(100_000)
    fake_hub.add_repo(REPO, {"model.safetensors": data})
    _, h, _ = request(f"{fake_hub.url}/owner/name/resolve/main/model.safetensors", "HEAD")
    fake_hub.fault_cut(after_bytes=1234)
    with pytest.raises(http.client.IncompleteRead) as exc:
        request(h["Location"])
    assert len(exc.value.partial) == 1234 and exc.value.partial == data[:1234]
    assert request(h["Location"])[2] == data  # only the first request is cut


def test_fault_corrupt_flips_one_byte(fake_hub):
    data = weights(4096)
    fake_hub.add_repo(REPO, {"model.safetensors": data, "config.json": b'{"a": 1}'})
    _, clean, _ = request(f"{fake_hub.url}/owner/name/resolve/main/model.safetensors", "HEAD")
    fake_hub.fault_corrupt("model.safetensors")
    fake_hub.fault_corrupt("config.json", offset=0)
    _, h, _ = request(f"{fake_hub.url}/owner/name/resolve/main/model.safetensors", "HEAD")
    assert h["X-Linked-Etag"] == clean["X-Linked-Etag"]
    _, h, body = request(h["Location"])
    assert len(body) == len(data) and sum(a != b for a, b in zip(body, data)) == 1
    _, h, body = request(f"{fake_hub.url}/owner/name/resolve/main/config.json")
    assert body != b'{"a": 1}' and body[1:] == b'"a": 1}' and h["ETag"] == '"%s"' % git_sha1(b'{"a": 1}')
    fake_hub.clear_faults()
    assert request(f"{fake_hub.url}/owner/name/resolve/main/config.json")[2] == b'{"a": 1}'


def test_fault_status_applies_to_next_request_only(fake_hub):
    fake_hub.add_repo(REPO, {"config.json": b"{}"})
    fake_hub.fault_status(503)
    assert request(f"{fake_hub.url}/api/models/owner/name")[0] == 503
    assert request(f"{fake_hub.url}/api/models/owner/name")[0] == 200


def test_throttle_slows_transfers(fake_hub):
    fake_hub.add_repo(REPO, {"config.json": b"x" * 50_000})
    fake_hub.throttle(200_000)
    t0 = time.monotonic()
    assert len(request(f"{fake_hub.url}/owner/name/resolve/main/config.json")[2]) == 50_000
    assert time.monotonic() - t0 >= 0.2


def test_keep_alive_reuses_connection(fake_hub):
    fake_hub.add_repo(REPO, {"config.json": b"{}"})
    u = urlsplit(fake_hub.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    try:
        conn.request("GET", "/api/models/owner/name")
        conn.getresponse().read()
        sock = conn.sock
        for _ in range(3):
            conn.request("GET", "/owner/name/resolve/main/config.json")
            assert conn.getresponse().read() == b"{}"
        assert conn.sock is sock
    finally:
        conn.close()


def test_standalone_serves_a_directory(tmp_path):
    (tmp_path / "model" / "sub").mkdir(parents=True)
    (tmp_path / "model" / "config.json").write_bytes(b"{}")
    (tmp_path / "model" / "sub" / "weights.safetensors").write_bytes(b"w" * 100)
    proc = subprocess.Popen([sys.executable, str(HERE / "fake_hub.py"), "--repo", f"{REPO}={tmp_path / 'model'}"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = proc.stdout.readline().strip()
        status, _, body = request(f"{url}/api/models/{REPO}")
        assert status == 200
        assert sorted(s["rfilename"] for s in json.loads(body)["siblings"]) == ["config.json", "sub/weights.safetensors"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0
