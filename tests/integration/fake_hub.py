#!/usr/bin/env python3
"""A stand-in Hugging Face Hub for integration tests and benchmarks.

Two HTTP/1.1 servers on 127.0.0.1: the "hub" (API + /resolve) and a "CDN" on another
port, so that LFS redirects cross origins the way huggingface.co -> cdn-lfs does and a
client must drop its Authorization header when following them.

Programmatic use (pytest)::

    with FakeHub() as hub:
        sha = hub.add_repo("owner/name", {"config.json": b"{}", "model.safetensors": Path(...)})
        hub.tokens.add("hf_good")
        ...  # point a client at hub.url; inspect hub.requests

Standalone use (benchmarks)::

    python3 tests/integration/fake_hub.py --repo owner/name=DIR [--repo ...] [--port N]

prints the hub URL on the first line of stdout and serves until interrupted.

Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterable, Mapping
from urllib.parse import parse_qs, quote, unquote, urlencode

# Extensions of huggingface.co's default .gitattributes that matter for model repos.
LFS_SUFFIXES = (
    ".safetensors", ".bin", ".gguf", ".model", ".pt", ".pth", ".ckpt", ".h5", ".msgpack",
    ".npy", ".npz", ".onnx", ".ot", ".pb", ".pkl", ".pickle", ".tflite", ".zip", ".gz",
    ".tar", ".tgz", ".xz", ".zst", ".parquet", ".arrow", ".mlmodel", ".wasm",
)
# The Hub refuses non-LFS files above 10 MB, so anything bigger is LFS.
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024

INVALID_TOKEN_MESSAGE = "Invalid credentials in Authorization header"  # what huggingface_hub keys on
CHUNK = 1 << 20


def git_blob_sha1(data: bytes) -> str:
    """The id git gives a blob: sha1 of "blob <len>\\0" + content."""
    h = hashlib.sha1(b"blob %d\0" % len(data))
    h.update(data)
    return h.hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The pointer file git stores in place of an LFS object."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def is_lfs_path(path: str, size: int) -> bool:
    return path.lower().endswith(LFS_SUFFIXES) or size > LFS_SIZE_THRESHOLD


class Blob:
    """File content, in memory (bytes) or on disk (Path, never read whole)."""

    def __init__(self, content: bytes | str | os.PathLike, lfs: bool | None, repo_path: str):
        if isinstance(content, str):
            content = content.encode()  # text content; pass a Path for a file on disk
        if isinstance(content, (bytes, bytearray, memoryview)):
            self.data: bytes | None = bytes(content)
            self.disk_path: Path | None = None
            self.size = len(self.data)
        else:
            self.data = None
            self.disk_path = Path(content).resolve()
            self.size = self.disk_path.stat().st_size
        self.lfs = is_lfs_path(repo_path, self.size) if lfs is None else lfs
        self.sha256: str | None = None
        if self.lfs:
            self.sha256 = self._hash(hashlib.sha256())
            # For LFS files git (and the tree API's "oid") hashes the pointer, not the content.
            self.oid = git_blob_sha1(lfs_pointer(self.sha256, self.size))
        else:
            self.oid = self._hash(hashlib.sha1(b"blob %d\0" % self.size))

    def _hash(self, h) -> str:
        if self.data is not None:
            h.update(self.data)
        else:
            with open(self.disk_path, "rb") as f:
                while chunk := f.read(8 * CHUNK):
                    h.update(chunk)
        return h.hexdigest()

    @property
    def etag(self) -> str:
        """Unquoted etag huggingface_hub names the cache blob after."""
        return self.sha256 if self.lfs else self.oid

    def read(self, offset: int, length: int) -> bytes:
        if self.data is not None:
            return self.data[offset:offset + length]
        with open(self.disk_path, "rb") as f:
            f.seek(offset)
            return f.read(length)


@dataclass
class Repo:
    repo_id: str
    private: bool = False
    gated: bool = False
    # None: every valid token may access the private/gated repo; otherwise only these.
    allowed_tokens: set[str] | None = None
    default_branch: str = "main"
    branches: dict[str, str] = field(default_factory=dict)  # name -> commit sha
    tags: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict[str, Blob]] = field(default_factory=dict)  # sha -> {path: Blob}

    def resolve(self, rev: str) -> str | None:
        """Branch, tag or full commit sha -> commit sha."""
        if rev in self.branches:
            return self.branches[rev]
        if rev in self.tags:
            return self.tags[rev]
        if rev in self.commits:
            return rev
        return None


class HeaderDict(dict):
    """dict with case-insensitive keys (stored lower-case), for request assertions."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()):
        super().__init__()
        for k, v in items:
            self[k] = v

    def __setitem__(self, key, value):
        super().__setitem__(key.lower(), value)

    def __getitem__(self, key):
        return super().__getitem__(key.lower())

    def __contains__(self, key):
        return super().__contains__(key.lower())

    def get(self, key, default=None):
        return super().get(key.lower(), default)


@dataclass
class RequestRecord:
    server: str  # "hub" | "cdn"
    method: str
    path: str  # raw (still percent-encoded) path, without the query
    query: str
    headers: HeaderDict
    range: str | None
    authorization: str | None
    status: int | None = None  # filled in when the response starts


@dataclass
class _StatusFault:
    code: int
    times: int
    server: str | None
    match: str | None
    headers: dict


@dataclass
class _CutFault:
    after_bytes: int
    times: int
    server: str | None
    reset: bool


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, hub: "FakeHub", kind: str):
        self.hub = hub
        self.kind = kind
        self.connections: set[socket.socket] = set()
        super().__init__(addr, _Handler)

    def handle_error(self, request, client_address):
        # Clients hanging up mid-transfer is expected here (kill tests, fault_cut).
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "FakeHub/1.0"
    timeout = 120  # idle keep-alive connections eventually go away
    server: _Server
    _record: RequestRecord | None = None  # also read by send_error() on unparsable requests

    def setup(self):
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.connections.discard(self.connection)

    def log_message(self, format, *args):
        if self.server.hub.verbose:
            sys.stderr.write(f"[{self.server.kind}] {format % args}\n")

    def send_response(self, code, message=None):
        if self._record is not None:
            self._record.status = code
        super().send_response(code, message)

    def do_GET(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def _dispatch(self):
        hub = self.server.hub
        raw_path, _, query = self.path.partition("?")
        self._raw_path, self._query = raw_path, query
        self._record = hub._record(self.server.kind, self.command, raw_path, query, self.headers)
        fault = hub._take_status_fault(self.server.kind, self.path)
        if fault is not None:
            self._send_json(fault.code, {"error": f"fault injected: {fault.code}"}, fault.headers)
            return
        if self.server.kind == "cdn":
            self._serve_cdn()
        else:
            self._serve_hub()

    # ---- response helpers -------------------------------------------------

    def _send_json(self, code: int, obj, headers: Mapping[str, str] | None = None):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_error(self, code: int, error_code: str | None, message: str, headers: Mapping[str, str] | None = None):
        h = {"X-Error-Message": message}
        if error_code:
            h["X-Error-Code"] = error_code
        h.update(headers or {})
        self._send_json(code, {"error": message}, h)

    def _send_blob(self, blob: Blob, headers: Mapping[str, str]):
        """200/206/416 for blob content, honouring Range and the injected faults."""
        size = blob.size
        start, end = 0, size  # end exclusive
        status = 200
        rng = self.headers.get("Range")
        if rng:
            parsed = _parse_range(rng, size)
            if parsed == "unsatisfiable":
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if parsed is not None:
                start, end = parsed
                status = 206
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD" or end == start:
            return
        self._write_body(blob, start, end)

    def _write_body(self, blob: Blob, start: int, end: int):
        hub = self.server.hub
        cut = hub._take_cut_fault(self.server.kind, end - start)
        stop = end if cut is None else start + cut.after_bytes
        flip_at = hub._corrupt_offset(blob)
        rate = hub._throttle_bps
        plain = flip_at is None or not (start <= flip_at < stop)
        if blob.disk_path is not None and plain and not rate:
            # Zero-copy path for the big-file benchmark.
            with open(blob.disk_path, "rb") as f:
                self.connection.sendfile(f, start, stop - start)
        else:
            pos, t0 = start, time.monotonic()
            step = CHUNK if not rate else max(1024, min(CHUNK, rate // 20))
            while pos < stop:
                data = blob.read(pos, min(step, stop - pos))
                if flip_at is not None and pos <= flip_at < pos + len(data):
                    b = bytearray(data)
                    b[flip_at - pos] ^= 0xFF
                    data = bytes(b)
                self.wfile.write(data)
                pos += len(data)
                if rate:
                    # Pace against the start time so sleeps don't accumulate drift.
                    delay = t0 + (pos - start) / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
        if cut is not None:
            self._abort(cut.reset)

    def _abort(self, reset: bool):
        """Drop the connection mid-body: FIN by default, RST when reset=True."""
        self.close_connection = True
        try:
            self.wfile.flush()
            if reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- CDN --------------------------------------------------------------

    def _serve_cdn(self):
        hub = self.server.hub
        parts = self._raw_path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "cdn":
            self._send_error(404, None, "Not Found")
            return
        if hub.cdn_reject_auth and self.headers.get("Authorization"):
            # S3 answers this for a presigned URL that also carries an Authorization header.
            self._send_error(400, None, "Only one auth mechanism allowed")
            return
        blob = hub._lfs_blob(parts[1])
        if blob is None:
            self._send_error(404, None, "NoSuchKey")
            return
        headers = {"ETag": f'"{blob.sha256}"'}
        disposition = parse_qs(self._query).get("response-content-disposition")
        if disposition:
            headers["Content-Disposition"] = disposition[0]
        self._send_blob(blob, headers)

    # ---- hub --------------------------------------------------------------

    def _serve_hub(self):
        parts = self._raw_path.split("/")[1:]
        if parts[:2] == ["api", "whoami-v2"]:
            self._whoami()
        elif parts[:2] == ["api", "agent-harnesses"]:
            # huggingface_hub >= 2.x fetches this registry once a day for user-agent tagging.
            self._send_json(200, {"standardEnvVars": [], "harnesses": {}})
        elif len(parts) >= 4 and parts[:2] == ["api", "models"]:
            self._api_models(unquote(parts[2]) + "/" + unquote(parts[3]), parts[4:])
        elif len(parts) >= 4 and parts[2] == "resolve":
            self._resolve(unquote(parts[0]) + "/" + unquote(parts[1]), parts[3:])
        else:
            self._send_error(404, None, "Not Found")

    def _token(self) -> tuple[str | None, bool]:
        """(token, ok); ok is False when a token was sent but is not valid."""
        auth = self.headers.get("Authorization")
        if not auth:
            return None, True
        token = auth[7:] if auth.lower().startswith("bearer ") else auth
        return token, token in self.server.hub.tokens

    def _whoami(self):
        token, ok = self._token()
        if token is None or not ok:
            self._send_error(401, None, INVALID_TOKEN_MESSAGE)
            return
        self._send_json(200, {"type": "user", "name": "fake-user", "fullname": "Fake User",
                              "auth": {"type": "access_token", "accessToken": {"role": "read"}}})

    def _access(self, repo_id: str, for_content: bool) -> Repo | None:
        """Apply the Hub's auth rules; sends the error and returns None on refusal."""
        hub = self.server.hub
        token, ok = self._token()
        if not ok:
            self._send_error(401, None, INVALID_TOKEN_MESSAGE)
            return None
        repo = hub._repos.get(repo_id)
        allowed = repo is not None and (repo.allowed_tokens is None or token in repo.allowed_tokens)
        if repo is None or (repo.private and (token is None or not allowed)):
            # Unauthenticated callers can't tell missing from private: 401. Authenticated: 404.
            self._send_error(401 if token is None else 404, "RepoNotFound", "Repository not found")
            return None
        # Gating only guards file contents: metadata and listings stay public, as on huggingface.co.
        if repo.gated and for_content and not (token is not None and allowed):
            if token is None:
                self._send_error(401, "GatedRepo", f"Access to model {repo_id} is restricted. You must have access "
                                 "to it and be authenticated to access it. Please log in.")
            else:
                self._send_error(403, "GatedRepo", f"Access to model {repo_id} is restricted and you are not in the "
                                 f"authorized list. Visit {hub.url}/{repo_id} to ask for access.")
            return None
        return repo

    def _split_rev(self, repo: Repo, segments: list[str]) -> tuple[str, str | None, list[str]]:
        """Split raw path segments into (revision, commit sha or None, rest).

        Clients percent-encode the revision ("refs%2Fpr%2F1") but also accept bare slashes,
        so try the shortest prefix that names a known ref.
        """
        for i in range(1, len(segments) + 1):
            rev = unquote("/".join(segments[:i]))
            sha = repo.resolve(rev)
            if sha is not None:
                return rev, sha, segments[i:]
        return unquote(segments[0]) if segments else "", None, segments[1:]

    def _revision_not_found(self, rev: str):
        self._send_error(404, "RevisionNotFound", f"Invalid rev id: {rev}")

    def _api_models(self, repo_id: str, rest: list[str]):
        repo = self._access(repo_id, for_content=False)
        if repo is None:
            return
        if not rest or rest == [""]:
            self._model_info(repo, repo.default_branch, repo.branches[repo.default_branch])
        elif rest[0] == "revision" and len(rest) >= 2:
            rev, sha, extra = self._split_rev(repo, rest[1:])
            if sha is None or extra:
                self._revision_not_found(rev)
            else:
                self._model_info(repo, rev, sha)
        elif rest[0] == "tree" and len(rest) >= 2:
            rev, sha, extra = self._split_rev(repo, rest[1:])
            if sha is None:
                self._revision_not_found(rev)
            else:
                self._tree(repo, sha, unquote("/".join(extra)).strip("/"))
        else:
            self._send_error(404, None, "Not Found")

    def _model_info(self, repo: Repo, rev: str, sha: str):
        files = repo.commits[sha]
        blobs = parse_qs(self._query).get("blobs", ["false"])[0].lower() in ("1", "true")
        siblings = []
        for path in sorted(files):
            s: dict = {"rfilename": path}
            if blobs:
                b = files[path]
                s.update(size=b.size, blobId=b.oid)
                if b.lfs:
                    s["lfs"] = {"sha256": b.sha256, "size": b.size, "pointerSize": len(lfs_pointer(b.sha256, b.size))}
            siblings.append(s)
        owner = repo.repo_id.split("/")[0]
        self._send_json(200, {
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": owner,
            "sha": sha,
            "lastModified": "2024-01-01T00:00:00.000Z",
            "createdAt": "2024-01-01T00:00:00.000Z",
            "private": repo.private,
            "gated": "manual" if repo.gated else False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "library_name": "mlx",
            "tags": ["mlx"],
            "siblings": siblings,
        })

    def _tree(self, repo: Repo, sha: str, base: str):
        hub = self.server.hub
        files = repo.commits[sha]
        qs = parse_qs(self._query)
        recursive = qs.get("recursive", ["false"])[0].lower() in ("1", "true")
        prefix = base + "/" if base else ""
        dirs = {"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)}
        if base and base not in dirs:
            self._send_error(404, "EntryNotFound", f"{base} does not exist on \"{sha}\"",
                             {"X-Repo-Commit": sha})
            return
        entries = []
        for d in sorted(dirs):
            if d.startswith(prefix) and (recursive or "/" not in d[len(prefix):]):
                oid = hashlib.sha1(f"tree {sha} {d}".encode()).hexdigest()
                entries.append({"type": "directory", "oid": oid, "size": 0, "path": d})
        for p in sorted(files):
            if p.startswith(prefix) and (recursive or "/" not in p[len(prefix):]):
                b = files[p]
                e: dict = {"type": "file", "oid": b.oid, "size": b.size, "path": p}
                if b.lfs:
                    e["lfs"] = {"oid": b.sha256, "size": b.size, "pointerSize": len(lfs_pointer(b.sha256, b.size))}
                entries.append(e)
        entries.sort(key=lambda e: e["path"])
        # Cursor pagination with a GitHub-style Link header, like the Hub (1000 per page there).
        cursor = int(qs.get("cursor", ["0"])[0] or 0)
        page = entries[cursor:cursor + hub.tree_page_size]
        headers = {}
        if cursor + hub.tree_page_size < len(entries):
            nq = {k: v[0] for k, v in qs.items()}
            nq["cursor"] = str(cursor + hub.tree_page_size)
            headers["Link"] = f'<{hub.url}{self._raw_path}?{urlencode(nq)}>; rel="next"'
        self._send_json(200, page, headers)

    def _resolve(self, repo_id: str, rest: list[str]):
        hub = self.server.hub
        repo = self._access(repo_id, for_content=True)
        if repo is None:
            return
        rev, sha, path_parts = self._split_rev(repo, rest)
        if sha is None:
            self._revision_not_found(rev)
            return
        path = unquote("/".join(path_parts))
        blob = repo.commits[sha].get(path)
        if blob is None:
            # X-Repo-Commit lets huggingface_hub cache the miss under .no_exist/<sha>/.
            self._send_error(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": sha})
            return
        headers = {"X-Repo-Commit": sha, "ETag": f'"{blob.oid}"'}
        if blob.lfs:
            name = path.rsplit("/", 1)[-1]
            q = urlencode({
                "response-content-disposition": f"inline; filename*=UTF-8''{quote(name)}; filename=\"{name}\";",
                "Expires": "4102444800",
                "Signature": "fake",
            })
            headers.update({
                "Location": f"{hub.cdn_url}/cdn/{blob.sha256}?{q}",
                "X-Linked-Etag": f'"{blob.sha256}"',
                "X-Linked-Size": str(blob.size),
                "Content-Length": "0",
            })
            self.send_response(302)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            return
        self._send_blob(blob, headers)


def _parse_range(value: str, size: int):
    """Parse a single "bytes=" range. Returns (start, end_exclusive), "unsatisfiable", or None (ignore)."""
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None  # multi-range: serving the whole body is allowed
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            n = int(last)  # suffix: the last n bytes
            if n <= 0:
                return "unsatisfiable"
            return max(0, size - n), size
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start >= size or end <= start:
        return "unsatisfiable"
    return start, min(end, size)


class FakeHub:
    """Hub + CDN servers on 127.0.0.1 with repos, tokens, request log and fault injection."""

    def __init__(self, port: int = 0, cdn_port: int = 0, host: str = "127.0.0.1", verbose: bool = False):
        self.tokens: set[str] = set()
        self.verbose = verbose
        self.tree_page_size = 1000
        self.cdn_reject_auth = True
        self._repos: dict[str, Repo] = {}
        self._lfs: dict[str, Blob] = {}
        self._lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._status_faults: list[_StatusFault] = []
        self._cut_faults: list[_CutFault] = []
        self._corrupt: dict[str, int | None] = {}  # blob etag -> offset (None: middle)
        self._throttle_bps: int | None = None
        self._hub = _Server((host, port), self, "hub")
        self._cdn = _Server((host, cdn_port), self, "cdn")
        self.url = f"http://{host}:{self._hub.server_address[1]}"
        self.cdn_url = f"http://{host}:{self._cdn.server_address[1]}"
        self._threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
                         for s in (self._hub, self._cdn)]
        for t in self._threads:
            t.start()

    # ---- lifecycle ----------------------------------------------------------

    def stop(self) -> None:
        for s in (self._hub, self._cdn):
            s.shutdown()
            # Unblock handler threads parked on keep-alive connections.
            for conn in list(s.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            s.server_close()

    def __enter__(self) -> "FakeHub":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- content --------------------------------------------------------------

    def add_repo(self, repo_id: str, files: Mapping[str, bytes | str | os.PathLike], *, branch: str = "main",
                 gated: bool = False, private: bool = False, allowed_tokens: Iterable[str] | None = None,
                 lfs: Iterable[str] | None = None) -> str:
        """Create a repo whose `branch` (also the default branch) holds `files`; returns the commit sha.

        File values are bytes or str (content), or a pathlib.Path / os.PathLike served from disk. `lfs` forces the listed paths to be LFS
        files; otherwise LFS is decided by extension (*.safetensors, *.bin, *.gguf, ...) or size > 10 MB.
        """
        if repo_id.count("/") != 1:
            raise ValueError("repo_id must be owner/name")
        with self._lock:
            if repo_id in self._repos:
                raise ValueError(f"{repo_id} already exists; use add_revision")
            self._repos[repo_id] = Repo(repo_id, private=private, gated=gated, default_branch=branch,
                                        allowed_tokens=set(allowed_tokens) if allowed_tokens is not None else None)
        return self.add_revision(repo_id, files, branch=branch, lfs=lfs)

    def add_revision(self, repo_id: str, files: Mapping[str, bytes | str | os.PathLike], *, branch: str = "main",
                     tag: str | None = None, lfs: Iterable[str] | None = None) -> str:
        """Commit a full snapshot of `files` on `branch` (created or moved), optionally tag it; returns its sha."""
        forced = set(lfs or ())
        blobs = {p.strip("/"): Blob(c, True if p in forced else None, p) for p, c in files.items()}
        with self._lock:
            repo = self._repos[repo_id]
            parent = repo.branches.get(branch, "")
            h = hashlib.sha1(f"{repo_id}\n{branch}\n{parent}\n".encode())
            for p in sorted(blobs):
                h.update(f"{p}\0{blobs[p].oid}\n".encode())
            sha = h.hexdigest()
            repo.commits[sha] = blobs
            repo.branches[branch] = sha
            if tag is not None:
                repo.tags[tag] = sha
            for b in blobs.values():
                if b.lfs:
                    self._lfs[b.sha256] = b
        return sha

    def add_tag(self, repo_id: str, tag: str, revision: str = "main") -> str:
        """Point `tag` at the commit `revision` resolves to; returns that sha."""
        with self._lock:
            repo = self._repos[repo_id]
            sha = repo.resolve(revision)
            if sha is None:
                raise KeyError(revision)
            repo.tags[tag] = sha
            return sha

    def repo(self, repo_id: str) -> Repo:
        """The live Repo; its private/gated/allowed_tokens fields may be changed between requests."""
        return self._repos[repo_id]

    def file_info(self, repo_id: str, path: str, revision: str = "main") -> dict:
        """What a client should end up with: size, sha256 (LFS) or None, git oid, cache blob name (etag)."""
        repo = self._repos[repo_id]
        b = repo.commits[repo.resolve(revision)][path]
        return {"size": b.size, "lfs": b.lfs, "sha256": b.sha256, "oid": b.oid, "etag": b.etag}

    # ---- request log ----------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, server, method, path, query, headers) -> RequestRecord:
        rec = RequestRecord(server=server, method=method, path=path, query=query,
                            headers=HeaderDict(headers.items()), range=headers.get("Range"),
                            authorization=headers.get("Authorization"))
        with self._lock:
            self._requests.append(rec)
        return rec

    # ---- faults -----------------------------------------------------------

    def fault_status(self, code: int, times: int = 1, *, server: str | None = None, match: str | None = None,
                     headers: Mapping[str, str] | None = None) -> None:
        """Answer the next `times` requests (on `server` 'hub'|'cdn'|None=any, whose path+query contains
        `match`) with `code` and a JSON error body, e.g. 503 or 429 with headers={"Retry-After": "1"}."""
        with self._lock:
            self._status_faults.append(_StatusFault(code, times, server, match, dict(headers or {})))

    def fault_cut(self, after_bytes: int, times: int = 1, *, server: str | None = "cdn", reset: bool = False) -> None:
        """For the next `times` bodies longer than `after_bytes` (on the CDN by default), send `after_bytes`
        bytes then drop the connection (FIN, or RST with reset=True) despite the promised Content-Length."""
        with self._lock:
            self._cut_faults.append(_CutFault(after_bytes, times, server, reset))

    def fault_corrupt(self, path: str, repo_id: str | None = None, offset: int | None = None) -> None:
        """Serve the file at repo `path` (any repo, or `repo_id`'s default branch) with the byte at `offset`
        (default: the middle) flipped, headers/etag unchanged, until clear_faults()."""
        with self._lock:
            for repo in self._repos.values():
                if repo_id is not None and repo.repo_id != repo_id:
                    continue
                for sha, files in repo.commits.items():
                    if path in files and (repo_id is None or sha == repo.branches[repo.default_branch]):
                        self._corrupt[files[path].etag] = offset

    def throttle(self, bytes_per_sec: int | None) -> None:
        """Pace every file body at about `bytes_per_sec` per connection (None: full speed)."""
        self._throttle_bps = int(bytes_per_sec) if bytes_per_sec else None

    def clear_faults(self) -> None:
        with self._lock:
            self._status_faults.clear()
            self._cut_faults.clear()
            self._corrupt.clear()
        self._throttle_bps = None

    def _take_status_fault(self, server: str, path: str) -> _StatusFault | None:
        with self._lock:
            for f in self._status_faults:
                if (f.server is None or f.server == server) and (f.match is None or f.match in path):
                    f.times -= 1
                    if f.times <= 0:
                        self._status_faults.remove(f)
                    return f
        return None

    def _take_cut_fault(self, server: str, body_len: int) -> _CutFault | None:
        with self._lock:
            for f in self._cut_faults:
                if (f.server is None or f.server == server) and body_len > f.after_bytes:
                    f.times -= 1
                    if f.times <= 0:
                        self._cut_faults.remove(f)
                    return f
        return None

    def _corrupt_offset(self, blob: Blob) -> int | None:
        with self._lock:
            if blob.etag not in self._corrupt or blob.size == 0:
                return None
            off = self._corrupt[blob.etag]
            return blob.size // 2 if off is None else off

    def _lfs_blob(self, sha256: str) -> Blob | None:
        with self._lock:
            return self._lfs.get(sha256)


def _dir_files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Serve directories as Hugging Face Hub model repos.")
    ap.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME=DIR", required=True)
    ap.add_argument("--port", type=int, default=0, help="hub port (0: any free port)")
    ap.add_argument("--cdn-port", type=int, default=0)
    ap.add_argument("--token", action="append", default=[], help="valid token (repeatable)")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = ap.parse_args(argv)

    hub = FakeHub(port=args.port, cdn_port=args.cdn_port, verbose=args.verbose)
    hub.tokens.update(args.token)
    for spec in args.repo:
        repo_id, sep, directory = spec.partition("=")
        if not sep or not Path(directory).is_dir():
            ap.error(f"bad --repo {spec!r}: expected OWNER/NAME=DIR")
        sha = hub.add_repo(repo_id, _dir_files(Path(directory)))
        print(f"{repo_id} @ {sha} from {directory}", file=sys.stderr)
    print(hub.url, flush=True)
    print(f"cdn: {hub.cdn_url}", file=sys.stderr, flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
