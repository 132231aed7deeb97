"""A forwarding proxy in front of the real Debian mirror that refuses every Contents request.

    with serve_proxy() as proxy:
        target = make_target("trixie", "arm64", mirror=f"{proxy.url}/debian",
                             security_mirror=f"{proxy.url}/debian-security")
        ...
    assert proxy.refused == []      # nothing asked for Contents

It refuses the plain `.../Contents-<arch>.gz` paths and the by-hash path of every Contents file an
(In)Release it forwarded lists, and records every path it served or refused. This is how the e2e
tests stand in for a mirror whose Contents is unusable (seen live: a Contents of another generation
than the signed InRelease lists, and no by-hash copy).
"""

from __future__ import annotations

import contextlib
import http.server
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.helpers.aptrepo import serve_http

UPSTREAM = "http://deb.debian.org"  # serves /debian and /debian-security
# A Release's SHA256 line of a Contents file: " <sha256> <size> main/Contents-arm64.gz".
_CONTENTS_LINE = re.compile(rb"^ ([0-9a-f]{64}) +\d+ +\S*Contents-\S*$", re.MULTILINE)
_FORWARDED = ("Content-Length", "Content-Type", "ETag", "Last-Modified")
_ASKED = ("If-None-Match", "If-Modified-Since", "Range")


@dataclass
class Proxy:
    """What the proxy saw: every path it forwarded and every Contents request it refused."""

    url: str = ""
    served: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    contents_hashes: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def is_contents(self, path: str) -> bool:
        """A Contents file by name, or by the by-hash name of one a forwarded Release listed."""
        with self.lock:
            return "Contents" in path or path.rsplit("/", 1)[-1] in self.contents_hashes

    def note(self, path: str, *, refused: bool) -> None:
        with self.lock:
            (self.refused if refused else self.served).append(path)

    def learn(self, release: bytes) -> None:
        """Remember the SHA256 of every Contents file a (In)Release lists: its by-hash name."""
        with self.lock:
            self.contents_hashes.update(h.decode() for h in _CONTENTS_LINE.findall(release))


class _Handler(http.server.BaseHTTPRequestHandler):
    proxy: Proxy

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def do_GET(self) -> None:
        if self.proxy.is_contents(self.path):
            self.proxy.note(self.path, refused=True)
            self.send_error(404, "Contents refused by the test proxy")
            return
        self.proxy.note(self.path, refused=False)
        # identity: the body is passed on byte for byte, so Content-Length stays true.
        headers = {"Accept-Encoding": "identity", **{h: v for h in _ASKED if (v := self.headers.get(h))}}
        with requests.get(UPSTREAM + self.path, headers=headers, stream=True, timeout=60) as upstream:
            body = upstream.raw.read() if self.path.endswith("Release") else None
            if body is not None:
                self.proxy.learn(body)
            self.send_response(upstream.status_code)
            for name in _FORWARDED:
                if name in upstream.headers:
                    self.send_header(name, upstream.headers[name])
            self.end_headers()
            if body is not None:
                self.wfile.write(body)
                return
            for chunk in upstream.raw.stream(1 << 16, decode_content=False):
                self.wfile.write(chunk)


@contextlib.contextmanager
def serve_proxy() -> Iterator[Proxy]:
    """The forwarding proxy on 127.0.0.1 (random port), in a background thread; stopped afterwards."""
    state = Proxy()
    with serve_http(type("Handler", (_Handler,), {"proxy": state})) as url:
        state.url = url
        yield state
