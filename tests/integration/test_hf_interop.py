"""The HF cache is shared both ways with the real huggingface_hub package (run in a subprocess,
since it reads HF_* at import time):

A. huggingface_hub downloads a model; salut uses it without downloading (offline, and online
   with no file transfer), and lists it.
B. salut downloads a model; huggingface_hub reads it with local_files_only=True / offline, and
   scan_cache_dir() reports it without warnings.
"""

import json
import os
from pathlib import Path

from salut_util import error_line, file_sha256, hf_calls, mlx_model, repo_dir, run_salut, safetensors, sha256, tree

REPO = "owner/name"


def content_gets(hub):
    return [r for r in hub.requests if r.method == "GET" and (r.server == "cdn" or "/resolve/" in r.path)]


def model_with_extras(seed=0):
    files = mlx_model(400_000, seed=seed)
    files["sub/dir/extra.json"] = b'{"nested": 1}'
    files["README.md"] = b"# card\n"  # huggingface_hub's snapshot takes it, salut does not
    return files


def blob_sizes(rdir: Path) -> int:
    return sum(p.stat().st_size for p in (rdir / "blobs").iterdir() if p.is_file())


def assert_ok(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


# ----------------------------------------------------- A: huggingface_hub -> salut


def test_salut_uses_a_model_that_huggingface_hub_downloaded(fake_hub, env, cache):
    files = model_with_extras()
    commit = fake_hub.add_repo(REPO, files)
    [res] = hf_calls(env, {"op": "snapshot", "repo_id": REPO})
    rdir = repo_dir(cache, REPO)
    assert res["ok"] == str(rdir / "snapshots" / commit)
    # What huggingface_hub leaves beside the standard layout, which salut must tolerate.
    assert (cache / "CACHEDIR.TAG").is_file()
    assert (rdir / "trees" / f"{commit}.json").is_file()
    layout_before = tree(cache)

    # Offline: the cached copy, without a single request.
    fake_hub.clear_requests()
    proc = run_salut(["pull", REPO], {**env, "HF_HUB_OFFLINE": "1"})
    assert_ok(proc)
    assert fake_hub.requests == []
    assert "in the cache" in proc.stdout and str(rdir / "snapshots" / commit) in proc.stdout

    # Online: metadata only, no file bytes move.
    proc = run_salut(["pull", REPO], env)
    assert_ok(proc)
    assert content_gets(fake_hub) == []
    assert "0 B downloaded" in proc.stdout
    assert tree(cache) == layout_before  # nothing was rewritten or added

    proc = run_salut(["ls", "--json"], env)
    assert_ok(proc)
    assert proc.stderr == ""
    assert json.loads(proc.stdout) == [{
        "id": REPO,
        "display_name": "Name",
        "size_bytes": blob_sizes(rdir),
        "downloaded": True,
        "custom": False,
        "detected": True,
        "source": "cache",
        "model_type": "llama",
        "commit": commit,
        "path": str(rdir / "snapshots" / commit),
    }]


def test_salut_completes_a_partial_huggingface_hub_download(fake_hub, env, cache):
    """huggingface_hub fetched only the JSON files; salut fetches just the weights."""
    files = model_with_extras(seed=1)
    commit = fake_hub.add_repo(REPO, files)
    [res] = hf_calls(env, {"op": "snapshot", "repo_id": REPO, "allow_patterns": ["*.json"]})
    assert "ok" in res, res
    assert json.loads(run_salut(["ls", "--json"], env).stdout) == []  # no weights: not a model yet

    fake_hub.clear_requests()
    proc = run_salut(["pull", REPO], env)
    assert_ok(proc)
    assert [r.server for r in content_gets(fake_hub)] == ["cdn"]  # the weights, nothing else
    snapshot = repo_dir(cache, REPO) / "snapshots" / commit
    assert (snapshot / "model.safetensors").read_bytes() == files["model.safetensors"]
    assert json.loads(run_salut(["ls", "--json"], env).stdout)[0]["downloaded"] is True


# ----------------------------------------------------- B: salut -> huggingface_hub


def test_huggingface_hub_reads_a_model_that_salut_downloaded(fake_hub, env, cache):
    files = model_with_extras(seed=2)
    files["model.safetensors"] = safetensors(1_200_000, seed=2)
    commit = fake_hub.add_repo(REPO, files)
    fake_hub.add_tag(REPO, "v1")
    assert_ok(run_salut(["pull", REPO], env))
    assert_ok(run_salut(["pull", f"{REPO}@v1"], env))
    rdir = repo_dir(cache, REPO)
    pulled = sorted(p for p in files if p != "README.md")

    offline = {**env, "HF_HUB_OFFLINE": "1"}
    fake_hub.clear_requests()
    snap, snap_v1, weights, nested, config, scan = hf_calls(
        offline,
        {"op": "snapshot", "repo_id": REPO, "local_files_only": True},
        {"op": "snapshot", "repo_id": REPO, "revision": "v1", "local_files_only": True},
        {"op": "download", "repo_id": REPO, "filename": "model.safetensors", "local_files_only": True},
        {"op": "download", "repo_id": REPO, "filename": "sub/dir/extra.json", "local_files_only": True},
        {"op": "download", "repo_id": REPO, "filename": "config.json"},  # offline by HF_HUB_OFFLINE alone
        {"op": "scan"},
    )
    assert fake_hub.requests == []
    snapshot = rdir / "snapshots" / commit
    assert snap == {"ok": str(snapshot), "python_warnings": []}
    assert snap_v1["ok"] == str(snapshot)
    assert weights["ok"] == str(snapshot / "model.safetensors")
    assert file_sha256(Path(weights["ok"])) == sha256(files["model.safetensors"])
    assert Path(nested["ok"]).read_bytes() == files["sub/dir/extra.json"]
    assert Path(config["ok"]).read_bytes() == files["config.json"]
    for result in (weights, nested, config):
        assert result["python_warnings"] == []

    info = scan["ok"]
    assert info["warnings"] == [], info["warnings"]
    assert scan["python_warnings"] == []
    [repo] = info["repos"]
    assert (repo["repo_id"], repo["repo_type"], repo["refs"]) == (REPO, "model", ["main", "v1"])
    assert repo["size_on_disk"] == blob_sizes(rdir) == sum(len(files[p]) for p in pulled)
    assert repo["nb_files"] == len(pulled)
    [revision] = repo["revisions"]
    assert (revision["commit_hash"], revision["refs"]) == (commit, ["main", "v1"])
    assert revision["snapshot_path"] == str(snapshot)
    assert [f["file_path"] for f in revision["files"]] == sorted(str(snapshot / p) for p in pulled)
    for f in revision["files"]:
        path = f["file_path"][len(str(snapshot)) + 1:]
        assert f["size_on_disk"] == len(files[path])
        assert f["blob_path"] == str(rdir / "blobs" / fake_hub.file_info(REPO, path)["etag"])


def test_huggingface_hub_online_finds_salut_blobs(fake_hub, env, cache):
    """Online, huggingface_hub asks for metadata only: the blobs salut named by ETag are the ones it expects."""
    files = model_with_extras(seed=3)
    commit = fake_hub.add_repo(REPO, files)
    assert_ok(run_salut(["pull", REPO], env))
    fake_hub.clear_requests()
    weights, snap = hf_calls(env,
                             {"op": "download", "repo_id": REPO, "filename": "model.safetensors"},
                             {"op": "snapshot", "repo_id": REPO})
    assert Path(weights["ok"]).read_bytes() == files["model.safetensors"]
    assert snap["ok"] == str(repo_dir(cache, REPO) / "snapshots" / commit)
    # Only README.md, which salut skips, was transferred.
    assert [r.path.rsplit("/", 1)[1] for r in content_gets(fake_hub)] == ["README.md"]

    # And salut still reads the cache huggingface_hub has since written to (trees/, CACHEDIR.TAG).
    proc = run_salut(["ls", "--json"], env)
    assert_ok(proc)
    [entry] = json.loads(proc.stdout)
    assert (entry["id"], entry["downloaded"], entry["commit"]) == (REPO, True, commit)
    proc = run_salut(["rm", REPO], env)
    assert_ok(proc)
    assert not repo_dir(cache, REPO).exists()
    assert (cache / "CACHEDIR.TAG").exists()  # rm removes the model, not the cache's own files
