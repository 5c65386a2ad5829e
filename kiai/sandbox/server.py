"""The sandbox HTTP server: a `ThreadingHTTPServer` in a daemon thread speaking the osu! token endpoint,
`/api/v2/beatmaps`, `/api/v2/users/{id}/scores/{type}`, replay downloads (`/api/v2/scores/{id}/download`,
`/api/v2/scores/{ruleset}/{legacy_id}/download`), `/osu/{id}` and osu!collector's collection endpoints,
with faults injected on demand."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import secrets
import threading
import time
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kiai.sandbox.world import SandboxWorld

FAULT_KINDS = (
    "expire_token", "401", "429", "500", "stall", "truncate", "html", "wrong_md5", "empty",
    "trickle", "gzip_bomb", "huge", "wrong_shape",
)  # fmt: skip
HTML_PAGE = b"<!DOCTYPE html><html><head><title>osu!</title></head><body>Something went wrong.</body></html>"


@dataclass
class Fault:
    """Applies to the requests whose path starts with `path`: lets `after` of them through, then hits `times`.

    kinds: expire_token (forget every issued token: the request gets a 401), 401, 429 (`retry_after` header
    only when given), 500, stall (sleep `seconds` before answering), truncate (half the body, then close),
    html (an HTML page with 200), wrong_md5 (the body, .osu or .osr, with its last byte changed), empty (200
    with no body), trickle (the whole answer, headers included, one byte every `seconds`), gzip_bomb (a small
    `Content-Encoding: gzip` body that inflates to `size` zero bytes), huge (`size` bytes of body, with a
    Content-Length only when `declared`), wrong_shape (200 with the JSON `body` instead of the real one)."""

    kind: str
    path: str = ""
    times: int = 1
    after: int = 0
    seconds: float = 3.0
    retry_after: str | None = None
    size: int = 2**30
    declared: bool = True
    body: bytes = b'{"unexpected": true}'


@functools.cache
def gzip_of_zeros(size: int) -> bytes:
    """A gzip stream of `size` zero bytes (about 1 KB per MB), built in chunks."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(2**20)
    parts = [packer.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join([*parts, packer.compress(bytes(size % len(chunk))), packer.flush()])


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (as kiai does past a size cap or a deadline) is no error."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class SandboxServer:
    def __init__(self, world: SandboxWorld, host: str = "127.0.0.1", port: int = 0) -> None:
        self.world = world
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, dict[str, list[str]]]] = []  # (method, path, query); no headers
        self.tokens: set[str] = set()
        self.issued: list[str] = []  # every token handed out, so tests can search for leaks
        self.lock = threading.Lock()
        self._httpd = _QuietServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="kiai-sandbox", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, kind: str, path: str = "", times: int = 1, after: int = 0, **options: Any) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULT_KINDS}")
        fault = Fault(kind, path, times, after, **options)
        if kind == "gzip_bomb":
            gzip_of_zeros(fault.size)  # built now, not while a client waits
        with self.lock:
            self.faults.append(fault)
        return fault

    def requests_to(self, prefix: str) -> list[tuple[str, str, dict[str, list[str]]]]:
        return [entry for entry in self.log if entry[1].startswith(prefix)]

    def _take_fault(self, path: str) -> Fault | None:
        """Every matching fault counts the request toward its `after`; the first one due is applied."""
        chosen = None
        with self.lock:
            for fault in self.faults:
                if fault.times <= 0 or not path.startswith(fault.path):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                elif chosen is None:
                    fault.times -= 1
                    chosen = fault
        return chosen


def _json(obj: Any, php: bool = False) -> bytes:
    """Compact JSON; `php=True` escapes `/` and non-ASCII like osu-web's `json_encode`."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=php)
    return (text.replace("/", "\\/") if php else text).encode()


def _handler(sandbox: SandboxServer) -> type[BaseHTTPRequestHandler]:
    world = sandbox.world

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _send(self, status: int, body: bytes, ctype: str = "application/json", fault: Fault | None = None):
            headers = {"Content-Type": ctype, "Content-Length": str(len(body))}
            if status == 200 and ctype == "application/json":
                headers.update({"x-ratelimit-limit": "1200", "x-ratelimit-remaining": "1199"})
            if fault and fault.kind == "429" and fault.retry_after is not None:
                headers["Retry-After"] = fault.retry_after
            if fault and fault.kind == "gzip_bomb":
                body = gzip_of_zeros(fault.size)
                headers.update({"Content-Encoding": "gzip", "Content-Length": str(len(body))})
            if fault and fault.kind in ("trickle", "huge"):
                self._send_slowly_or_hugely(status, headers, body, fault)
                return
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            try:
                if fault and fault.kind == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                else:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _send_slowly_or_hugely(self, status: int, headers: dict[str, str], body: bytes, fault: Fault) -> None:
            """trickle: the raw answer a byte at a time; huge: `size` bytes of body in 1 MB writes."""
            self.close_connection = True
            if fault.kind == "huge":
                headers.pop("Content-Length")
                if fault.declared:
                    headers["Content-Length"] = str(fault.size)
            lines = [f"HTTP/1.1 {status} {self.responses[status][0]}", *(f"{k}: {v}" for k, v in headers.items())]
            head = ("\r\n".join([*lines, "Connection: close"]) + "\r\n\r\n").encode()
            try:
                if fault.kind == "trickle":
                    for byte in head + body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(fault.seconds)
                else:
                    self.wfile.write(head)
                    chunk = b"0" * 2**20
                    for start in range(0, fault.size, len(chunk)):
                        self.wfile.write(chunk[: fault.size - start])
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query, keep_blank_values=True)
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode()) if length else {}
            with sandbox.lock:
                sandbox.log.append((method, url.path, query))
            fault = sandbox._take_fault(url.path)
            if fault and fault.kind == "stall":
                time.sleep(fault.seconds)
                fault = None
            if fault and fault.kind == "expire_token":
                with sandbox.lock:
                    sandbox.tokens.clear()
                fault = None
            if fault and fault.kind in ("401", "429", "500"):
                bodies = {"401": {"authentication": "basic"}, "429": {"error": "Too Many Attempts."}}
                self._send(int(fault.kind), _json(bodies.get(fault.kind, {"error": "Server Error"})), fault=fault)
                return
            status, body, ctype = self._route(method, url.path, query, form)
            if fault and status == 200:
                if fault.kind == "html":
                    body, ctype = HTML_PAGE, "text/html; charset=UTF-8"
                elif fault.kind == "empty":
                    body = b""
                elif fault.kind == "wrong_shape":
                    body, ctype = fault.body, "application/json"
                elif fault.kind == "wrong_md5":
                    body = body[:-1] + (b"\n" if body[-1:] != b"\n" else b" ")
            self._send(status, body, ctype, fault)

        def _authorised(self) -> bool:
            header = self.headers.get("Authorization", "")
            with sandbox.lock:
                return header.startswith("Bearer ") and header[7:] in sandbox.tokens

        def _route(self, method: str, path: str, query: dict, form: dict) -> tuple[int, bytes, str]:
            if path == "/oauth/token" and method == "POST":
                return self._token(form)
            if path.startswith("/api/v2/"):
                if not self._authorised():
                    return 401, _json({"authentication": "basic"}), "application/json"
                return self._api(path, query)
            if match := re.fullmatch(r"/osu/(\d+)", path):
                data = world.osu_files.get(int(match.group(1)))
                if data is None:
                    return 404, b"", "text/plain"
                return 200, data, "text/plain; charset=UTF-8"
            if match := re.fullmatch(r"/api/collections/(\d+)(/beatmapsv2)?", path):
                return self._collector(int(match.group(1)), bool(match.group(2)), query)
            return 404, _json({"error": "Not Found"}), "application/json"

        def _token(self, form: dict) -> tuple[int, bytes, str]:
            ok = (
                form.get("client_id") == [world.client_id]
                and form.get("client_secret") == [world.client_secret]
                and form.get("grant_type") == ["client_credentials"]
                and form.get("scope") == ["public"]
            )
            if not ok:
                message = "Client authentication failed"
                body = {"error": "invalid_client", "error_description": message, "message": message}
                return 401, _json(body), "application/json"
            token = f"sandbox-{secrets.token_hex(16)}"
            with sandbox.lock:
                sandbox.tokens.add(token)
                sandbox.issued.append(token)
            body = {"token_type": "Bearer", "expires_in": world.token_lifetime, "access_token": token}
            return 200, _json(body), "application/json"

        def _api(self, path: str, query: dict) -> tuple[int, bytes, str]:
            if path == "/api/v2/beatmaps":
                ids = [int(i) for i in query.get("ids[]", []) if i.lstrip("-").isdigit()][:50]
                found = sorted((world.beatmaps[i] for i in set(ids) if i in world.beatmaps), key=lambda b: b["id"])
                return 200, _json({"beatmaps": found}, php=True), "application/json"
            if match := re.fullmatch(r"/api/v2/users/(\d+)/scores/(best|firsts|pinned|recent)", path):
                user, kind = int(match.group(1)), match.group(2)
                if not any(key[0] == user for key in world.user_scores):
                    return 404, _json({"error": None}), "application/json"
                scores = world.user_scores.get((user, kind), [])
                limit = min(max(int((query.get("limit") or ["5"])[0]), 1), 100)
                offset = max(int((query.get("offset") or ["0"])[0]), 0)
                end = min(offset + limit, 100)
                return 200, _json(scores[offset:end], php=True), "application/json"
            if match := re.fullmatch(r"/api/v2/scores/(\d+)/download", path):
                return self._replay(world.replays.get(int(match.group(1))))
            if match := re.fullmatch(r"/api/v2/scores/(osu|taiko|fruits|mania)/(\d+)/download", path):
                return self._replay(world.legacy_replays.get((match.group(1), int(match.group(2)))))
            return 404, _json({"error": None}), "application/json"

        def _replay(self, data: bytes | None) -> tuple[int, bytes, str]:
            """A replay download as osu-web answers it: the .osr, or 404 when the score has none."""
            if data is None:
                return 404, _json({"error": "Not Found"}), "application/json"
            return 200, data, "application/x-osu-replay"

        def _collector(self, collection_id: int, paged: bool, query: dict) -> tuple[int, bytes, str]:
            if collection_id not in world.collections:
                return 404, _json({"error": "Collection not found"}), "application/json"
            if not paged:
                return 200, _json(world.collections[collection_id]), "application/json"
            members = world.collection_members(collection_id)
            per_page = max(int((query.get("perPage") or ["50"])[0]), 1)
            cursor = int((query.get("cursor") or ["0"])[0] or 0)
            page = members[cursor : cursor + per_page]
            more = cursor + per_page < len(members)
            body = {"nextPageCursor": cursor + per_page if more else None, "hasMore": more, "beatmaps": page}
            return 200, _json(body), "application/json"

    return Handler


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()
