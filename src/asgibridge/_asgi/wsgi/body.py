"""The WSGI-side stream objects of WsgiToAsgi: ``wsgi.input`` and ``wsgi.file_wrapper``.

`RequestBody` is ``wsgi.input``: a read-only byte stream that pulls the next
chunk of the request body from a *source* only when the application reads
(PEP 3333 "Input and Error Streams": ``read(size)``, ``read()``,
``readline(size)``, ``readlines(hint)`` and iteration). Nothing is spooled:
at most the chunk being consumed is held here.

`FileWrapper` is ``wsgi.file_wrapper`` (PEP 3333 "Optional Platform-Specific
File Handling"): an iterable over a file's blocks that the adapter may
replace by the ASGI ``http.response.pathsend`` extension.

Rules: the source's ``pull()`` returns ``b""`` only at the end of the body
and raises (an `OSError` subclass) when the body can never be completed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO, Any, Protocol

__all__ = ("BodySource", "FileWrapper", "RequestBody")


class BodySource(Protocol):
    """Where `RequestBody` gets its chunks from."""

    def pull(self) -> bytes:
        """The next non-empty chunk, or ``b""`` at the end of the body."""


class RequestBody:
    """``wsgi.input``: the request body, read on demand from a `BodySource`.

    Args:
        source: gives the next chunk of the body (blocking), b"" at the end.

    Raises:
        ClientDisconnected: (from reads) the client went away mid-body.
        RequestBodyTooLargeError: (from reads) the body passed ``max_body_size``.

    Example:
        >>> class Chunks:
        ...     def __init__(self, *parts): self.parts = list(parts)
        ...     def pull(self): return self.parts.pop(0) if self.parts else b""
        >>> body = RequestBody(Chunks(b"ab\\nc", b"d\\n"))
        >>> body.readline(), body.read()
        (b'ab\\n', b'cd\\n')
    """

    __slots__ = ("_chunk", "_eof", "_pos", "_source")

    def __init__(self, source: BodySource) -> None:
        self._source = source
        self._chunk = b""
        self._pos = 0
        self._eof = False

    def _fill(self) -> bool:
        """Make the current chunk non-empty; False at the end of the body."""
        if self._eof:
            return False
        chunk = self._source.pull()
        if not chunk:
            self._eof = True
            self._chunk = b""
            self._pos = 0
            return False
        self._chunk = chunk
        self._pos = 0
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Read up to ``size`` bytes (all that is left if ``size`` is negative or None)."""
        chunk, pos = self._chunk, self._pos
        if size is None or size < 0:
            parts = [chunk[pos:]] if pos < len(chunk) else []
            self._chunk, self._pos = b"", 0
            while self._fill():
                parts.append(self._chunk)
            self._chunk, self._pos = b"", 0
            return b"".join(parts)
        if pos >= len(chunk):
            if size == 0 or not self._fill():
                return b""
            chunk, pos = self._chunk, 0
        end = pos + size
        if end <= len(chunk):
            self._pos = end
            if pos == 0 and end == len(chunk):
                return chunk  # a whole chunk: no copy
            return chunk[pos:end]
        parts = [chunk[pos:]]
        missing = end - len(chunk)
        while missing > 0 and self._fill():
            chunk = self._chunk
            take = min(missing, len(chunk))
            parts.append(chunk if take == len(chunk) else chunk[:take])
            self._pos = take
            missing -= take
        if missing > 0:
            self._chunk, self._pos = b"", 0
        return b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        """Read one line, ending with ``\\n`` (or fewer than ``size`` bytes, or the rest)."""
        limit = -1 if size is None else size
        parts: list[bytes] = []
        taken = 0
        while limit < 0 or taken < limit:
            chunk, pos = self._chunk, self._pos
            if pos >= len(chunk):
                if not self._fill():
                    break
                chunk, pos = self._chunk, 0
            stop = len(chunk) if limit < 0 else min(len(chunk), pos + limit - taken)
            newline = chunk.find(b"\n", pos, stop)
            end = stop if newline < 0 else newline + 1
            parts.append(chunk[pos:end])
            taken += end - pos
            self._pos = end
            if newline >= 0:
                break
        return b"".join(parts)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        """Read lines until the end (or until about ``hint`` bytes were read)."""
        lines: list[bytes] = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self) -> None:
        """Nothing to release (PEP 3333 servers may call it)."""


class FileWrapper:
    """``wsgi.file_wrapper``: iterate a file in blocks (and let the server send it by path).

    Args:
        filelike: an object with ``read(size)``; ``close()`` is called with ours.
        block_size: bytes per block when the file is streamed.

    Example:
        >>> import io
        >>> list(FileWrapper(io.BytesIO(b"abcde"), 2))
        [b'ab', b'cd', b'e']
    """

    __slots__ = ("block_size", "filelike")

    def __init__(self, filelike: IO[bytes] | Any, block_size: int = 8192) -> None:
        self.filelike = filelike
        self.block_size = block_size

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        data: bytes = self.filelike.read(self.block_size)
        if data:
            return data
        raise StopIteration

    def close(self) -> None:
        """Close the wrapped file (PEP 3333: the wrapper's close closes the file)."""
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()

    def sendable_path(self) -> str | None:
        """The file's absolute path if sending it whole by path is exact, else None.

        True only for a regular file opened by path, positioned at its start:
        ``http.response.pathsend`` sends the whole file from the first byte.
        """
        name = getattr(self.filelike, "name", None)
        if not isinstance(name, str) or not os.path.isabs(name):
            return None
        try:
            if self.filelike.tell() != 0 or not os.path.isfile(name):
                return None
            if os.fstat(self.filelike.fileno()).st_ino != os.stat(name).st_ino:
                return None  # the path now names another file
        except (OSError, AttributeError, ValueError):
            return None
        return name
