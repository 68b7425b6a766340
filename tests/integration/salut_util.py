"""Helpers for the tests that drive the real `salut` binary (build/salut, or $SALUT_BIN).

Every test gets its own environment (see `clean_env`): its own HF cache, data directory and
home, and none of the caller's HF_* / SALUT_* variables, so nothing leaks in from the machine
running the tests (a token in ~/.cache/huggingface, a real HF_ENDPOINT, ...).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SALUT_BIN = Path(os.environ.get("SALUT_BIN", REPO_ROOT / "build" / "salut"))
TIMEOUT = 60  # seconds for any one salut run


def clean_env(base: Path, **overrides: str | os.PathLike | None) -> dict[str, str]:
    """An environment rooted at `base`: HF_HUB_CACHE=base/cache, SALUT_HOME=base/salut_home,
    HF_HOME=base/hf_home, HOME=base/home. Overrides set variables; None removes one."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "HUGGING_FACE_", "SALUT_", "XDG_")) and k not in ("HOME", "SSL_CERT_FILE")}
    env.update(
        HOME=str(base / "home"),
        HF_HUB_CACHE=str(base / "cache"),
        HF_HOME=str(base / "hf_home"),
        SALUT_HOME=str(base / "salut_home"),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        NO_PROXY="*",
    )
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(key, None)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


def run_salut(args: list[str], env: dict[str, str], timeout: float = TIMEOUT, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(SALUT_BIN), *args], env=env, capture_output=True, text=True, timeout=timeout,
                          **kwargs)


def popen_salut(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([str(SALUT_BIN), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The single `salut: error: ...` line a failed command printed (asserts there is exactly one line)."""
    lines = proc.stderr.splitlines()
    errors = [line for line in lines if line.startswith("salut: error: ")]
    assert len(errors) == 1, f"expected one error line, got stderr:\n{proc.stderr}"
    assert lines[-1] == errors[0], f"the error is not the last line:\n{proc.stderr}"
    return errors[0]


def free_port() -> int:
    """A TCP port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def safetensors(n_bytes: int, seed: int = 0, name: str = "w") -> bytes:
    """A well-formed safetensors file whose single U8 tensor is `n_bytes` random bytes."""
    header = json.dumps({name: {"dtype": "U8", "shape": [n_bytes], "data_offsets": [0, n_bytes]}}).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + random.Random(seed).randbytes(n_bytes)


def mlx_model(weights_bytes: int = 200_000, seed: int = 0, model_type: str = "llama") -> dict[str, bytes]:
    """The files of a small MLX-format model repository (what salut fetches and nothing else)."""
    config = {"model_type": model_type, "hidden_size": 64, "num_hidden_layers": 2,
              "quantization": {"group_size": 64, "bits": 4}, "seed": seed}
    return {
        "config.json": json.dumps(config).encode(),
        "tokenizer.json": json.dumps({"version": "1.0", "model": {"type": "BPE"}}).encode(),
        "tokenizer_config.json": json.dumps({"chat_template": "{{ messages }}"}).encode(),
        "model.safetensors": safetensors(weights_bytes, seed),
    }


def repo_dir(cache: Path, repo_id: str) -> Path:
    owner, name = repo_id.split("/")
    return cache / f"models--{owner}--{name}"


def tree(root: Path) -> dict[str, str]:
    """Every entry below `root`: relative path -> 'dir' | 'file' | 'link:<target>'."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in list(dirnames):
            p = Path(dirpath, d)
            rel = p.relative_to(root).as_posix()
            out[rel] = f"link:{os.readlink(p)}" if p.is_symlink() else "dir"
        for f in filenames:
            p = Path(dirpath, f)
            rel = p.relative_to(root).as_posix()
            out[rel] = f"link:{os.readlink(p)}" if p.is_symlink() else "file"
    return out


def wait_for(predicate, timeout: float, interval: float = 0.02, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# Runs huggingface_hub calls in a subprocess (it reads HF_* at import time) and prints the
# results as JSON; each call is {"op": ..., **kwargs}. Paths in results are strings.
HF_CLIENT = r"""
import json, sys, warnings
from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download
results = []
for args in json.loads(sys.argv[1]):
    op = args.pop("op")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if op == "snapshot":
                out = snapshot_download(**args)
            elif op == "download":
                out = hf_hub_download(**args)
            elif op == "scan":
                info = scan_cache_dir(**args)
                out = {
                    "size_on_disk": info.size_on_disk,
                    "warnings": [str(w) for w in info.warnings],
                    "repos": [{
                        "repo_id": r.repo_id, "repo_type": r.repo_type, "size_on_disk": r.size_on_disk,
                        "nb_files": r.nb_files, "refs": sorted(r.refs),
                        "revisions": [{
                            "commit_hash": v.commit_hash, "refs": sorted(v.refs), "size_on_disk": v.size_on_disk,
                            "snapshot_path": str(v.snapshot_path),
                            "files": sorted([{"file_name": f.file_name, "file_path": str(f.file_path),
                                              "blob_path": str(f.blob_path), "size_on_disk": f.size_on_disk}
                                             for f in v.files], key=lambda f: f["file_path"]),
                        } for v in sorted(r.revisions, key=lambda v: v.commit_hash)],
                    } for r in sorted(info.repos, key=lambda r: r.repo_id)],
                }
        results.append({"ok": out, "python_warnings": [str(w.message) for w in caught]})
    except Exception as e:
        resp = getattr(e, "response", None)
        results.append({"error": type(e).__name__, "status": getattr(resp, "status_code", None), "message": str(e)})
print(json.dumps(results))
"""


def hf_calls(env: dict[str, str], *calls: dict, cwd: Path | None = None) -> list[dict]:
    """Run huggingface_hub calls in one subprocess with `env` (imports cost ~0.7 s per process)."""
    proc = subprocess.run([sys.executable, "-c", HF_CLIENT, json.dumps(list(calls))], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


class ServeProcess:
    """`salut serve` on a free port of 127.0.0.1 with `env`, its output in log_dir/serve-<port>.log;
    returns once /health answers."""

    def __init__(self, env: dict[str, str], log_dir: Path, *args: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(log_dir) / f"serve-{self.port}.log"
        self.proc = subprocess.Popen([str(SALUT_BIN), "serve", "--host", "127.0.0.1", "--port", str(self.port), *args],
                                     env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT, cwd=REPO_ROOT)

        def up():
            assert self.proc.poll() is None, self.log.read_text()
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as resp:
                    return resp.status == 200
            except OSError:
                return False

        wait_for(up, timeout=15, interval=0.05, what="salut serve")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
