"""`salut pull` against the stand-in Hub (fake_hub.py): cache layout, revisions, resume,
verification, offline mode, auth, error messages and concurrent pulls.

Each test has its own HF cache and data directory (the `env` fixture) and runs the real binary.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from salut_util import (clean_env, error_line, file_sha256, free_port, git_sha1, mlx_model, popen_salut, repo_dir,
                        run_salut, safetensors, sha256, tree, wait_for)

REPO = "owner/name"
OTHER_REPO = "owner/other"
MB = 1024 * 1024


def pull(env, *args, timeout=60):
    return run_salut(["pull", *args], env, timeout=timeout)


def cdn_gets(hub):
    return [r for r in hub.requests if r.server == "cdn" and r.method == "GET"]


def content_gets(hub):
    """GETs that move file bytes: CDN GETs and GETs of /resolve/ on the hub."""
    return [r for r in hub.requests if r.method == "GET" and (r.server == "cdn" or "/resolve/" in r.path)]


def assert_ok(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


# ------------------------------------------------------------------ layout


def test_pull_builds_the_exact_hf_cache_layout(fake_hub, env, cache):
    weights1 = safetensors(300_000, seed=1)
    weights2 = safetensors(200_000, seed=2)
    index = json.dumps({"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                                                       "b": "model-00002-of-00002.safetensors"}}).encode()
    model_files = {
        "config.json": b'{"model_type": "qwen3", "quantization": {"group_size": 64, "bits": 4}}',
        "tokenizer.json": b'{"version": "1.0"}',
        "tokenizer_config.json": b'{"chat_template": "{{ x }}"}',
        "special_tokens_map.json": b"{}",
        "merges.txt": b"a b\n",
        "chat_template.jinja": b"{{ messages }}",
        "model.safetensors.index.json": index,
        "model-00001-of-00002.safetensors": weights1,
        "model-00002-of-00002.safetensors": weights2,
        # Nested files that match the patterns; the second has the same bytes as a top-level
        # file, so the two links share one blob.
        "sub/dir/extra.json": b'{"nested": true}',
        "sub/special_tokens_map.json": b"{}",
    }
    not_fetched = {
        "README.md": b"# a model card\n",
        ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
        "modeling_custom.py": b"print('never run')\n",
        "pytorch_model.bin": b"\0" * 1000,
        "original/consolidated.safetensors": safetensors(1000, seed=3),
        "images/logo.png": b"\x89PNG...",
    }
    commit = fake_hub.add_repo(REPO, {**model_files, **not_fetched})

    proc = pull(env, REPO)
    assert_ok(proc)
    rdir = repo_dir(cache, REPO)
    snapshot = rdir / "snapshots" / commit
    assert str(snapshot) in proc.stdout and commit[:12] in proc.stdout
    assert f"pulling {REPO}: {len(model_files)} files" in proc.stderr  # plain progress lines when not a TTY

    infos = {path: fake_hub.file_info(REPO, path) for path in model_files}
    for path, data in model_files.items():
        expected = sha256(data) if path.endswith(".safetensors") else git_sha1(data)
        assert infos[path]["etag"] == expected  # blobs: sha256 for LFS files, git blob sha1 for the others
    etags = {info["etag"] for info in infos.values()}
    assert len(etags) == len(model_files) - 1  # the two identical special_tokens_map.json share a blob

    expected_repo = {"blobs": "dir", "refs": "dir", "snapshots": "dir", f"snapshots/{commit}": "dir",
                     f"snapshots/{commit}/sub": "dir", f"snapshots/{commit}/sub/dir": "dir", "refs/main": "file"}
    for etag in etags:
        expected_repo[f"blobs/{etag}"] = "file"
    for path in model_files:
        up = "../" * (path.count("/") + 2)
        expected_repo[f"snapshots/{commit}/{path}"] = f"link:{up}blobs/{infos[path]['etag']}"
    assert tree(rdir) == expected_repo

    expected_locks = {"models--owner--name": "dir"}
    for etag in etags:
        expected_locks[f"models--owner--name/{etag}.lock"] = "file"
    assert tree(cache / ".locks") == expected_locks
    assert sorted(p.name for p in cache.iterdir()) == [".locks", "models--owner--name"]

    assert (rdir / "refs" / "main").read_bytes() == commit.encode()  # no newline
    for path, data in model_files.items():
        assert (snapshot / path).read_bytes() == data
        blob = rdir / "blobs" / infos[path]["etag"]
        assert blob.stat().st_mode & 0o777 == 0o644
    assert not list(cache.rglob("*.incomplete"))

    # Nothing but model files was asked for.
    fetched = {r.path.split("/resolve/")[1].split("/", 1)[1] for r in fake_hub.requests if "/resolve/" in r.path}
    assert fetched == set(model_files)
    for r in fake_hub.requests:
        assert r.status is not None and r.status < 400, (r.method, r.path, r.status)


def test_second_pull_downloads_nothing(fake_hub, env, cache):
    files = mlx_model(500_000)
    commit = fake_hub.add_repo(REPO, files)
    assert_ok(pull(env, REPO))
    assert len(cdn_gets(fake_hub)) == 1
    blobs_before = {p.name: p.stat().st_mtime_ns for p in (repo_dir(cache, REPO) / "blobs").iterdir()}

    fake_hub.clear_requests()
    proc = pull(env, REPO)
    assert_ok(proc)
    assert content_gets(fake_hub) == []
    assert "0 B downloaded" in proc.stdout
    assert {p.name: p.stat().st_mtime_ns for p in (repo_dir(cache, REPO) / "blobs").iterdir()} == blobs_before
    assert (repo_dir(cache, REPO) / "refs" / "main").read_text() == commit


def test_pull_revision_tag_branch_and_commit(fake_hub, env, cache):
    v1 = mlx_model(300_000, seed=1)
    c1 = fake_hub.add_repo(REPO, v1)
    fake_hub.add_tag(REPO, "v1.0", c1)
    v2 = {**v1, "config.json": b'{"model_type": "llama", "version": 2}'}  # same weights, new config
    c2 = fake_hub.add_revision(REPO, v2)
    v3 = {**v1, "config.json": b'{"model_type": "llama", "version": 3}'}
    c3 = fake_hub.add_revision(REPO, v3, branch="dev")
    rdir = repo_dir(cache, REPO)

    # A tag: refs/v1.0 -> c1, main untouched.
    assert_ok(pull(env, f"{REPO}@v1.0"))
    assert (rdir / "refs" / "v1.0").read_bytes() == c1.encode()
    assert not (rdir / "refs" / "main").exists()
    assert (rdir / "snapshots" / c1 / "config.json").read_bytes() == v1["config.json"]
    assert len(cdn_gets(fake_hub)) == 1

    # A full commit hash: no ref is written; the shared weights blob is not fetched again.
    fake_hub.clear_requests()
    assert_ok(pull(env, f"{REPO}@{c2}"))
    assert sorted(p.name for p in (rdir / "refs").iterdir()) == ["v1.0"]
    assert (rdir / "snapshots" / c2 / "config.json").read_bytes() == v2["config.json"]
    assert cdn_gets(fake_hub) == []
    assert [r.path.rsplit("/", 1)[1] for r in content_gets(fake_hub)] == ["config.json"]

    # A branch.
    assert_ok(pull(env, f"{REPO}@dev"))
    assert (rdir / "refs" / "dev").read_bytes() == c3.encode()

    # main, already complete from the commit pull: only the ref is new.
    fake_hub.clear_requests()
    assert_ok(pull(env, REPO))
    assert (rdir / "refs" / "main").read_bytes() == c2.encode()
    assert content_gets(fake_hub) == []

    assert sorted(p.name for p in (rdir / "snapshots").iterdir()) == sorted([c1, c2, c3])
    assert os.readlink(rdir / "snapshots" / c1 / "model.safetensors") == \
        os.readlink(rdir / "snapshots" / c2 / "model.safetensors")
    assert len(list((rdir / "blobs").iterdir())) == len(v1) + 2  # two extra configs

    ls = json.loads(run_salut(["ls", "--json"], env).stdout)
    assert {e["id"]: e["commit"] for e in ls} == {REPO: c2, f"{REPO}@dev": c3, f"{REPO}@v1.0": c1}


def test_pull_repairs_a_missing_blob_and_follows_tree_pages(fake_hub, env, cache):
    files = mlx_model(300_000)
    files["extra/a.json"] = b"[1]"
    files["extra/b.json"] = b"[2]"
    commit = fake_hub.add_repo(REPO, files)
    fake_hub.tree_page_size = 2  # the tree API answers in pages linked by Link: rel="next"
    proc = pull(env, REPO)
    assert_ok(proc)
    total = sum(len(v) for v in files.values())
    assert f"pulling {REPO}: {len(files)} files, {total / 1000:.0f} KB" in proc.stderr  # sizes from every page
    tree_pages = [r for r in fake_hub.requests if "/tree/" in r.path]
    assert len(tree_pages) == 4  # 6 files + 1 directory, 2 per page

    # A blob lost from the cache (the snapshot link now dangles) is fetched again, alone.
    rdir = repo_dir(cache, REPO)
    (rdir / "blobs" / sha256(files["model.safetensors"])).unlink()
    fake_hub.clear_requests()
    assert_ok(pull(env, REPO))
    assert [r.server for r in content_gets(fake_hub)] == ["cdn"]
    assert (rdir / "snapshots" / commit / "model.safetensors").read_bytes() == files["model.safetensors"]


# ------------------------------------------------------------------ resume


def test_resume_after_cut_connection(fake_hub, env, cache):
    data = safetensors(4 * MB, seed=7)
    fake_hub.add_repo(REPO, {**mlx_model(), "model.safetensors": data})
    cut_at = 1_000_000
    fake_hub.fault_cut(after_bytes=cut_at, times=2, server="cdn")

    proc = pull(env, REPO)
    assert_ok(proc)
    gets = cdn_gets(fake_hub)
    assert gets[0].range is None
    ranges = [r.range for r in gets[1:]]
    assert len(ranges) == 2, ranges
    starts = [int(r.removeprefix("bytes=").removesuffix("-")) for r in ranges]
    assert all(r == f"bytes={n}-" for r, n in zip(ranges, starts)), ranges
    assert 0 < starts[0] <= cut_at and starts[0] < starts[1] <= 2 * cut_at, starts
    assert [r.status for r in gets] == [200, 206, 206]
    assert "resuming" in proc.stderr

    blob = repo_dir(cache, REPO) / "blobs" / sha256(data)
    assert file_sha256(blob) == sha256(data)
    assert not list(cache.rglob("*.incomplete"))


def test_resume_after_connection_reset(fake_hub, env, cache):
    data = safetensors(3 * MB, seed=8)
    fake_hub.add_repo(REPO, {**mlx_model(), "model.safetensors": data})
    fake_hub.fault_cut(after_bytes=1_500_000, server="cdn", reset=True)
    assert_ok(pull(env, REPO))
    assert len(cdn_gets(fake_hub)) == 2
    assert file_sha256(repo_dir(cache, REPO) / "blobs" / sha256(data)) == sha256(data)


def test_resume_after_kill_9(fake_hub, env, cache):
    # salut writes in blocks of a few MB (store/blob_writer.h), so the file is big enough for
    # a block to reach the disk before the kill.
    data = safetensors(10 * MB, seed=9)
    fake_hub.add_repo(REPO, {**mlx_model(), "model.safetensors": data})
    partial = repo_dir(cache, REPO) / "blobs" / (sha256(data) + ".incomplete")

    fake_hub.throttle(5 * MB)
    proc = popen_salut(["pull", REPO], env)
    try:
        wait_for(lambda: partial.exists() and partial.stat().st_size > 0, timeout=20, what="a partial download")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    size_after_kill = partial.stat().st_size
    assert 0 < size_after_kill < len(data)
    assert not (repo_dir(cache, REPO) / "blobs" / sha256(data)).exists()
    assert not (repo_dir(cache, REPO) / "refs" / "main").exists()

    fake_hub.clear_faults()
    fake_hub.clear_requests()
    second = pull(env, REPO)
    assert_ok(second)
    gets = cdn_gets(fake_hub)
    assert len(gets) == 1
    assert gets[0].range is not None and gets[0].range.startswith("bytes=")
    start = int(gets[0].range.removeprefix("bytes=").removesuffix("-"))
    assert start >= size_after_kill
    assert gets[0].status == 206
    assert "resuming" in second.stderr
    blob = repo_dir(cache, REPO) / "blobs" / sha256(data)
    assert file_sha256(blob) == sha256(data)
    assert not partial.exists()


# ------------------------------------------------------------------ verification


def test_corrupt_bytes_are_detected(fake_hub, env, cache):
    data = safetensors(1 * MB, seed=10)
    fake_hub.add_repo(REPO, {**mlx_model(), "model.safetensors": data})
    fake_hub.fault_corrupt("model.safetensors", repo_id=REPO)

    proc = pull(env, REPO)
    assert proc.returncode == 1, proc.stderr
    line = error_line(proc)
    assert "corrupt" in line and "sha256" in line and "model.safetensors" in line
    rdir = repo_dir(cache, REPO)
    assert not (rdir / "blobs" / sha256(data)).exists()
    assert not (rdir / "blobs" / (sha256(data) + ".incomplete")).exists()
    # The first error stops the other transfers; what they leave is kept for the next pull.
    assert {p.name for p in rdir.rglob("*.incomplete")} <= \
        {fake_hub.file_info(REPO, path)["etag"] + ".incomplete" for path in mlx_model()}
    assert not any(p.name == "model.safetensors" for p in rdir.rglob("*"))
    assert not (rdir / "refs" / "main").exists()
    assert json.loads(run_salut(["ls", "--json"], env).stdout) == []

    # A clean server afterwards: the next pull gets a good copy.
    fake_hub.clear_faults()
    assert_ok(pull(env, REPO))
    assert file_sha256(rdir / "blobs" / sha256(data)) == sha256(data)
    assert not list(rdir.rglob("*.incomplete"))


# ------------------------------------------------------------------ offline and unreachable


def test_offline_uses_the_cache_without_any_request(fake_hub, env, cache):
    commit = fake_hub.add_repo(REPO, mlx_model())
    assert_ok(pull(env, REPO))
    fake_hub.clear_requests()

    proc = pull({**env, "HF_HUB_OFFLINE": "1"}, REPO)
    assert_ok(proc)
    assert fake_hub.requests == []
    assert "in the cache" in proc.stdout and commit[:12] in proc.stdout

    # By tag and by commit too.
    fake_hub.add_tag(REPO, "v1", commit)
    assert_ok(pull(env, f"{REPO}@v1"))
    fake_hub.clear_requests()
    for revision in ("v1", commit):
        proc = pull({**env, "HF_HUB_OFFLINE": "true"}, f"{REPO}@{revision}")
        assert_ok(proc)
        assert commit[:12] in proc.stdout
    assert fake_hub.requests == []
    proc = pull({**env, "HF_HUB_OFFLINE": "1"}, f"{REPO}@v2")
    assert proc.returncode == 1 and "offline" in error_line(proc)


def test_offline_and_not_cached_fails(fake_hub, env, cache):
    fake_hub.add_repo(REPO, mlx_model())
    proc = pull({**env, "HF_HUB_OFFLINE": "1"}, REPO)
    assert proc.returncode == 1
    line = error_line(proc)
    assert "offline" in line.lower() and "HF_HUB_OFFLINE" in line and REPO in line and "not in the cache" in line
    assert fake_hub.requests == []


def test_unreachable_hub_and_not_cached(tmp_path, salut_bin):
    port = free_port()
    env = clean_env(tmp_path, HF_ENDPOINT=f"http://127.0.0.1:{port}")
    proc = pull(env, REPO)
    assert proc.returncode == 1
    line = error_line(proc)
    assert f"cannot reach the Hub at http://127.0.0.1:{port}" in line
    assert "not in the cache" in line and REPO in line


def test_unreachable_hub_uses_the_cached_copy(fake_hub, env, cache):
    commit = fake_hub.add_repo(REPO, mlx_model())
    assert_ok(pull(env, REPO))
    proc = pull({**env, "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}"}, REPO)
    assert_ok(proc)
    assert "using the cached copy" in proc.stderr
    assert "in the cache" in proc.stdout and commit[:12] in proc.stdout


# ------------------------------------------------------------------ auth


def test_private_repo_with_token(fake_hub, env, cache):
    fake_hub.tokens.add("hf_good")
    data = safetensors(300_000, seed=11)
    commit = fake_hub.add_repo(REPO, {**mlx_model(), "model.safetensors": data}, private=True)

    # Without a token a private repo looks absent, and the message says what to try.
    proc = pull(env, REPO)
    assert proc.returncode == 1
    line = error_line(proc)
    assert "not found" in line and "HF_TOKEN" in line

    fake_hub.clear_requests()
    assert_ok(pull({**env, "HF_TOKEN": "hf_good"}, REPO))
    assert (repo_dir(cache, REPO) / "snapshots" / commit / "model.safetensors").read_bytes() == data
    hub_requests = [r for r in fake_hub.requests if r.server == "hub"]
    cdn_requests = [r for r in fake_hub.requests if r.server == "cdn"]
    assert hub_requests and cdn_requests
    assert all(r.authorization == "Bearer hf_good" for r in hub_requests)
    assert all(r.authorization is None for r in cdn_requests)  # not sent to another host


def test_token_from_hf_token_path_and_hf_home(fake_hub, env, cache, tmp_path):
    fake_hub.tokens.update({"hf_from_file", "hf_from_home"})
    fake_hub.add_repo(REPO, mlx_model(), private=True)
    token_file = tmp_path / "token_file"
    token_file.write_text("hf_from_file\n")
    assert_ok(pull({**env, "HF_TOKEN_PATH": str(token_file)}, REPO))
    assert {r.authorization for r in fake_hub.requests if r.server == "hub"} == {"Bearer hf_from_file"}

    # Default token file: $HF_HOME/token.
    hf_home = Path(env["HF_HOME"])
    hf_home.mkdir(parents=True, exist_ok=True)
    (hf_home / "token").write_text("hf_from_home")
    fake_hub.clear_requests()
    assert_ok(pull(env, REPO))
    assert {r.authorization for r in fake_hub.requests if r.server == "hub"} == {"Bearer hf_from_home"}


def test_gated_repo_without_token(fake_hub, env, cache):
    fake_hub.add_repo(REPO, mlx_model(), gated=True)
    proc = pull(env, REPO)
    assert proc.returncode == 1
    line = error_line(proc)
    assert "gated" in line and "HF_TOKEN" in line
    assert cdn_gets(fake_hub) == []
    assert not (repo_dir(cache, REPO) / "refs").exists()


def test_gated_repo_with_wrong_token(fake_hub, env, cache):
    fake_hub.tokens.update({"hf_granted", "hf_other"})
    fake_hub.add_repo(REPO, mlx_model(), gated=True, allowed_tokens={"hf_granted"})

    # A valid token without access to this repo: 403 GatedRepo.
    proc = pull({**env, "HF_TOKEN": "hf_other"}, REPO)
    assert proc.returncode == 1
    line = error_line(proc)
    assert "gated" in line and "token" in line

    # A token the Hub does not know: 401 on the first request.
    proc = pull({**env, "HF_TOKEN": "hf_invalid"}, REPO)
    assert proc.returncode == 1
    line = error_line(proc)
    assert "refused the token" in line and "HF_TOKEN" in line
    assert cdn_gets(fake_hub) == []

    assert_ok(pull({**env, "HF_TOKEN": "hf_granted"}, REPO))


# ------------------------------------------------------------------ errors that name the cause


def test_repository_not_found(fake_hub, env, cache):
    proc = pull(env, "nobody/nothing")
    assert proc.returncode == 1
    line = error_line(proc)
    assert "repository nobody/nothing not found" in line
    fake_hub.tokens.add("hf_good")
    proc = pull({**env, "HF_TOKEN": "hf_good"}, "nobody/nothing")  # 404 with a token
    assert proc.returncode == 1
    assert "repository nobody/nothing not found" in error_line(proc)


def test_revision_not_found(fake_hub, env, cache):
    fake_hub.add_repo(REPO, mlx_model())
    proc = pull(env, f"{REPO}@nope")
    assert proc.returncode == 1
    line = error_line(proc)
    assert "revision 'nope' not found" in line and REPO in line


def test_not_an_mlx_model(fake_hub, env, cache):
    fake_hub.add_repo("owner/no-config", {"model.safetensors": safetensors(1000), "README.md": b"hi"})
    fake_hub.add_repo("owner/no-weights", {"config.json": b'{"model_type": "llama"}', "pytorch_model.bin": b"x" * 100})
    proc = pull(env, "owner/no-config")
    assert proc.returncode == 1
    line = error_line(proc)
    assert "not an MLX model" in line and "config.json" in line
    proc = pull(env, "owner/no-weights")
    assert proc.returncode == 1
    line = error_line(proc)
    assert "not an MLX model" in line and "safetensors" in line
    assert content_gets(fake_hub) == []


def test_hub_5xx_on_metadata_is_retried_then_reported(fake_hub, env, cache):
    """A 5xx answer to a metadata request (GET /api/models/... or a file's HEAD) is asked again
    twice with backoff; a Hub that keeps failing stops the pull with an error naming the status."""
    fake_hub.add_repo(REPO, mlx_model())
    fake_hub.fault_status(503, times=2, server="hub", match="/api/models/")
    assert_ok(pull(env, REPO))  # two transient failures are absorbed

    fake_hub.add_repo(OTHER_REPO, mlx_model())
    fake_hub.fault_status(503, times=3, server="hub", match="/api/models/")
    proc = pull(env, OTHER_REPO)
    assert proc.returncode == 1
    line = error_line(proc)
    assert "HTTP 503" in line and "unavailable" in line and OTHER_REPO in line

    fake_hub.fault_status(502, times=100, server="hub", match="/resolve/")  # every file's HEAD, every try
    proc = pull(env, OTHER_REPO)
    assert proc.returncode == 1
    line = error_line(proc)
    assert "HTTP 502" in line
    assert not (repo_dir(cache, OTHER_REPO) / "refs" / "main").exists()

    fake_hub.clear_faults()
    assert_ok(pull(env, OTHER_REPO))


def test_cdn_5xx_is_retried(fake_hub, env, cache):
    data = safetensors(500_000, seed=12)
    fake_hub.add_repo(REPO, {**mlx_model(), "model.safetensors": data})
    fake_hub.fault_status(503, times=2, server="cdn")
    proc = pull(env, REPO)
    assert_ok(proc)
    assert [r.status for r in cdn_gets(fake_hub)] == [503, 503, 200]
    assert "HTTP 503" in proc.stderr  # the retries are shown
    assert file_sha256(repo_dir(cache, REPO) / "blobs" / sha256(data)) == sha256(data)


# ------------------------------------------------------------------ concurrency


def test_two_pulls_of_the_same_model_at_once(fake_hub, env, cache):
    data = safetensors(2 * MB, seed=13)
    files = {**mlx_model(), "model.safetensors": data}
    commit = fake_hub.add_repo(REPO, files)
    fake_hub.throttle(1_500_000)

    first = popen_salut(["pull", REPO], env)
    second = popen_salut(["pull", REPO], env)
    out1, err1 = first.communicate(timeout=60)
    out2, err2 = second.communicate(timeout=60)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2

    rdir = repo_dir(cache, REPO)
    blobs = sorted(p.name for p in (rdir / "blobs").iterdir())
    assert blobs == sorted(fake_hub.file_info(REPO, p)["etag"] for p in files)
    assert file_sha256(rdir / "blobs" / sha256(data)) == sha256(data)
    assert not list(cache.rglob("*.incomplete")) and not list(cache.rglob("*.tmp"))
    assert (rdir / "refs" / "main").read_bytes() == commit.encode()
    for path, content in files.items():
        assert (rdir / "snapshots" / commit / path).read_bytes() == content
    # Every file crossed the network once: the other process waited for it.
    assert len(cdn_gets(fake_hub)) == 1
    assert sorted(r.path.rsplit("/", 1)[1] for r in content_gets(fake_hub) if r.server == "hub") == \
        sorted(p for p in files if not p.endswith(".safetensors"))
    assert "waiting for another process" in err1 + err2


# ------------------------------------------------------------------ disk full


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs to hold the cache (needs root, as CI and the dev machines have)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def test_disk_too_small_is_refused_before_downloading(fake_hub, env, small_disk):
    fake_hub.add_repo(REPO, {**mlx_model(), "model.safetensors": safetensors(6 * MB, seed=20)})
    env["HF_HUB_CACHE"] = str(small_disk / "cache")
    proc = pull(env, REPO)
    assert proc.returncode == 1
    line = error_line(proc)
    assert "not enough disk space" in line and REPO in line
    assert content_gets(fake_hub) == []


def test_disk_full_while_writing_keeps_the_partial_file(fake_hub, env, small_disk):
    # Without the tree API's sizes the up-front check cannot know; the write itself fails.
    fake_hub.add_repo(REPO, {**mlx_model(), "model.safetensors": safetensors(6 * MB, seed=21)})
    fake_hub.fault_status(500, times=100, server="hub", match="/tree/")
    env["HF_HUB_CACHE"] = str(small_disk / "cache")
    proc = pull(env, REPO)
    assert proc.returncode == 1
    line = error_line(proc)
    # Files download side by side: the write that meets the full disk may be a small file's
    # (seen in CI: tokenizer_config.json), not the large one's that filled it.
    assert "disk full" in line and REPO in line
    partials = list((small_disk / "cache").rglob("*.incomplete"))
    assert any(p.stat().st_size > 0 for p in partials), "the partial download is kept for a later resume"
