"""Reproducible compressors for .deb members: parallel xz, zstd, gzip; same bytes at any thread count."""

from __future__ import annotations

import lzma
import os
import struct
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Literal, Protocol

import zstandard

Compression = Literal["xz", "zstd", "gzip"]

# Same sizes as `xz -T`/liblzma's multi-threaded encoder, which dpkg-deb uses: a block is 3 times the
# dictionary (8 MiB at preset 6). The block size, not the thread count, fixes the bytes.
XZ_PRESET = 6
XZ_BLOCK_SIZE = 24 << 20
# dpkg-deb's default levels (dpkg lib/dpkg/compress.c): gzip 9, zstd 3, xz 6.
GZIP_LEVEL = 9
ZSTD_LEVEL = 3

_XZ_MAGIC = b"\xfd7zXZ\x00"
_XZ_FOOTER_MAGIC = b"YZ"
_XZ_FLAGS = b"\x00" + bytes([lzma.CHECK_CRC64])
_CHECK_SIZE = 8  # CRC64
# liblzma's block_buffer_encoder.c: LZMA2 stored chunks hold 64 KiB; HEADERS_BOUND is the most a block
# header, padding and check can take.
_LZMA2_CHUNK = 1 << 16
_HEADERS_BOUND = 92


class Sink(Protocol):
    """Where compressed bytes go: a binary file or an in-memory buffer."""

    def write(self, data: bytes, /) -> object:
        """Append `data`."""


class Compressor(Protocol):
    """A writer that compresses what it is given into an underlying file."""

    def write(self, data: bytes) -> None:
        """Compress `data` (in order) into the output."""

    def close(self) -> None:
        """Finish the compressed stream; the output is complete after this."""

    def abort(self) -> None:
        """Give up: stop any worker threads; the output is garbage."""


def default_threads() -> int:
    """Threads to use when the caller does not say: one per usable CPU."""
    return max(1, len(os.sched_getaffinity(0)))


def open_compressor(
    kind: Compression, out: Sink, *, threads: int | None = None, size: int | None = None
) -> Compressor:
    """A compressor of `kind` writing to `out`; its output depends on the input only, never on `threads`.

    `size`, when the whole input is known up front, goes into the zstd frame header as dpkg-deb puts it.
    """
    count = threads or default_threads()
    if kind == "xz":
        return ParallelXzWriter(out, threads=count)
    if kind == "zstd":
        return _ZstdWriter(out, threads=count, size=size)
    return _GzipWriter(out)


_LOW7 = 0x7F


def _varint(value: int) -> bytes:
    """xz's multibyte integer (xz-file-format 1.4, section 1.2): 7 bits per byte, low bits first."""
    out = bytearray()
    while value > _LOW7:
        out.append((value & _LOW7) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if not byte & 0x80:
            return value, pos


def _lzma2_bound(size: int) -> int:
    """Size of `size` bytes stored as LZMA2 uncompressed chunks (64 KiB each, 3-byte headers, end mark)."""
    return size + -(-size // _LZMA2_CHUNK) * 3 + 1


def _block_buffer_bound(size: int) -> int:
    """liblzma's lzma_block_buffer_bound64(): the most a block of `size` bytes may take."""
    return _HEADERS_BOUND + ((_lzma2_bound(size) + 3) & ~3)


def _header_size(compressed: int, uncompressed: int) -> int:
    """lzma_block_header_size() for one LZMA2 filter with both sizes present, CRC32 and padding included."""
    return (2 + len(_varint(compressed)) + len(_varint(uncompressed)) + 3 + 4 + 3) & ~3


def _block_header(size: int, compressed: int, uncompressed: int, filter_flags: bytes) -> bytes:
    """xz-file-format 3.1: size/4-1, flags (one filter, both sizes present), sizes, filter, padding, CRC32."""
    body = bytes([size // 4 - 1, 0xC0]) + _varint(compressed) + _varint(uncompressed) + filter_flags
    body += b"\0" * (size - 4 - len(body))
    return body + struct.pack("<I", zlib.crc32(body))


def _stored_lzma2(chunk: bytes) -> bytes:
    """LZMA2 uncompressed chunks: 0x01 (dictionary reset) first, 0x02 after, then the 0x00 end marker."""
    parts = []
    for start in range(0, len(chunk), _LZMA2_CHUNK):
        piece = chunk[start : start + _LZMA2_CHUNK]
        parts.append(bytes([0x01 if start == 0 else 0x02]) + struct.pack(">H", len(piece) - 1) + piece)
    return b"".join(parts) + b"\0"


def _compress_block(chunk: bytes, block_size: int) -> tuple[bytes, int]:
    """One block laid out as liblzma's multi-threaded encoder (xz -T, dpkg-deb) writes it: (bytes, unpadded).

    liblzma compresses the chunk as a one-block stream; we keep its LZMA2 data and CRC64 and rewrite the
    header the way stream_encoder_mt.c does: sizes stored, header size reserved for the largest block,
    and stored (uncompressed) LZMA2 chunks when the compressed block would not fit that bound.
    """
    stream = lzma.compress(chunk, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=XZ_PRESET)
    (backward,) = struct.unpack_from("<I", stream, len(stream) - 8)
    index_start = len(stream) - 12 - (backward + 1) * 4
    records, pos = _read_varint(stream, index_start + 1)
    if stream[index_start] != 0 or records != 1:
        raise AssertionError("liblzma produced an unexpected .xz layout")
    unpadded, _ = _read_varint(stream, pos)
    old_header = (stream[12] + 1) * 4
    data = stream[12 + old_header : 12 + unpadded - _CHECK_SIZE]
    check = stream[index_start - _CHECK_SIZE : index_start]
    limit = _block_buffer_bound(block_size)
    header_size = _header_size(limit, block_size)
    filter_flags = stream[12 + 2 : 12 + 5]  # LZMA2 id 0x21, 1 property byte, the dictionary size
    if header_size + len(data) + -len(data) % 4 + _CHECK_SIZE > limit:
        data = _stored_lzma2(chunk)
        # Stored chunks declare the smallest dictionary, 4 KiB (property 0): liblzma block_buffer_encoder.c.
        header_size, filter_flags = _header_size(len(data), len(chunk)), b"\x21\x01\x00"
    header = _block_header(header_size, len(data), len(chunk), filter_flags)
    block = header + data + b"\0" * (-len(data) % 4) + check
    return block, header_size + len(data) + _CHECK_SIZE


def _xz_stream_header() -> bytes:
    return _XZ_MAGIC + _XZ_FLAGS + struct.pack("<I", zlib.crc32(_XZ_FLAGS))


def _xz_index_and_footer(records: list[tuple[int, int]]) -> bytes:
    """The index (one record per block: unpadded size, uncompressed size) and the stream footer."""
    body = b"\x00" + _varint(len(records))
    body += b"".join(_varint(unpadded) + _varint(size) for unpadded, size in records)
    body += b"\x00" * (-len(body) % 4)
    index = body + struct.pack("<I", zlib.crc32(body))
    tail = struct.pack("<I", len(index) // 4 - 1) + _XZ_FLAGS
    return index + struct.pack("<I", zlib.crc32(tail)) + tail + _XZ_FOOTER_MAGIC


class ParallelXzWriter:
    """One .xz stream of independent fixed-size blocks, compressed by a thread pool (lzma drops the GIL).

    The layout is that of liblzma's multi-threaded encoder with the same block size, so the bytes equal
    `xz -T2 --block-size=N` and dpkg-deb's, and never depend on how many threads ran.
    """

    def __init__(self, out: Sink, *, threads: int, block_size: int = XZ_BLOCK_SIZE) -> None:
        self._out = out
        self._block_size = block_size
        self._buffer = bytearray()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="xz")
        self._pending: deque[tuple[Future[tuple[bytes, int]], int]] = deque()
        self._max_pending = threads + 1
        self._records: list[tuple[int, int]] = []
        out.write(_xz_stream_header())

    def write(self, data: bytes) -> None:
        """Buffer `data`; every full block goes to the pool."""
        self._buffer += data
        while len(self._buffer) >= self._block_size:
            self._submit(bytes(self._buffer[: self._block_size]))
            del self._buffer[: self._block_size]

    def close(self) -> None:
        """Compress the last partial block, then write the index and footer."""
        try:
            if self._buffer:
                self._submit(bytes(self._buffer))
                self._buffer.clear()
            while self._pending:
                self._drain_one()
            self._out.write(_xz_index_and_footer(self._records))
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def abort(self) -> None:
        """Drop queued blocks and stop the workers (after an error upstream)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _submit(self, chunk: bytes) -> None:
        # Bounded read-ahead keeps memory at (threads + 1) blocks whatever the payload size.
        while len(self._pending) >= self._max_pending:
            self._drain_one()
        self._pending.append((self._pool.submit(_compress_block, chunk, self._block_size), len(chunk)))

    def _drain_one(self) -> None:
        future, size = self._pending.popleft()
        block, unpadded = future.result()
        self._out.write(block)
        self._records.append((unpadded, size))


class _ZstdWriter:
    """zstd in multi-threaded mode: for any worker count >= 1 the frame is the same (zstd.h, nbWorkers).

    With an XXH64 checksum, as dpkg-deb writes its zstd members.
    """

    def __init__(self, out: Sink, *, threads: int, size: int | None) -> None:
        self._out = out
        compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=max(1, threads), write_checksum=True)
        self._zstd = compressor.compressobj(size=-1 if size is None else size)

    def write(self, data: bytes) -> None:
        self._out.write(self._zstd.compress(data))

    def close(self) -> None:
        self._out.write(self._zstd.flush())

    def abort(self) -> None:
        del self._zstd


class _GzipWriter:
    """gzip as `gzip -9n` lays it out: no file name, mtime 0 (zlib's own header)."""

    def __init__(self, out: Sink) -> None:
        self._out = out
        self._zlib = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)

    def write(self, data: bytes) -> None:
        self._out.write(self._zlib.compress(data))

    def close(self) -> None:
        self._out.write(self._zlib.flush())

    def abort(self) -> None:
        del self._zlib


def gzip_bytes(data: bytes) -> bytes:
    """gzip `data` reproducibly (level 9, no name, mtime 0), as dh_compress does for changelogs."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()
