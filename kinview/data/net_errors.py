"""Network failures described by their root cause, in one line.

``requests`` and ``urllib3`` wrap a failed connection several layers deep
(``ConnectionError(MaxRetryError(NewConnectionError(gaierror(...))))``) and their messages
repeat the whole URL, which the old code then cut to a fixed length.  :func:`describe`
walks the exception chain instead and names what actually went wrong, e.g.::

    cannot reach data.sdss.org: name resolution failed
    cannot reach 127.0.0.1:8765: connection refused
    data.sdss.org: connection dropped mid-transfer

No URL is ever truncated: only the host (and port, when it is not the scheme's default) is
named.  :func:`is_unreachable` tells whether an error means the host cannot be reached at
all (no point trying the next file).
"""
from __future__ import annotations

import socket
import ssl
from typing import Iterator, Optional
from urllib.parse import urlsplit

#: Phrases (root causes) that mean "the host cannot be reached at all".
UNREACHABLE = ("name resolution failed", "connection refused", "network is unreachable",
               "no route to host", "connection timed out")


def host_of(url: str) -> str:
    """``host`` or ``host:port`` (port only when not the scheme's default) of a URL."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or url
        port = parts.port
    except ValueError:
        return url
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return f"{host}:{port}" if port and port != default else host


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen = set()
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([getattr(e, "reason", None), e.__cause__, e.__context__])
        todo.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))


def root_cause(exc: BaseException) -> str:
    """A short phrase for the deepest recognisable cause of a network exception."""
    import errno

    names = []
    for e in _chain(exc):
        names.append(type(e).__name__)
        if isinstance(e, socket.gaierror):
            return "name resolution failed"
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, ssl.SSLError):
            return "TLS/SSL handshake failed"
        if isinstance(e, OSError) and e.errno in (errno.ENETUNREACH,):
            return "network is unreachable"
        if isinstance(e, OSError) and e.errno in (errno.EHOSTUNREACH,):
            return "no route to host"
        if isinstance(e, ConnectionResetError):
            return "connection reset by the server"
    text = " ".join(names)
    low = " ".join(str(e) for e in _chain(exc)).lower()
    if "name or service not known" in low or "failed to resolve" in low \
            or "nodename nor servname" in low or "temporary failure in name resolution" in low:
        return "name resolution failed"
    if "connection refused" in low:
        return "connection refused"
    if "ConnectTimeout" in text or ("connect" in low and "timed out" in low):
        return "connection timed out"
    if "ReadTimeout" in text or "timed out" in low:
        return "no answer in time (read timed out)"
    if any(n in text for n in ("ChunkedEncodingError", "IncompleteRead", "ProtocolError",
                               "RemoteDisconnected")) or "connection broken" in low:
        return "connection dropped mid-transfer"
    if "TooManyRedirects" in text:
        return "too many redirects"
    if "InvalidURL" in text or "MissingSchema" in text or "InvalidSchema" in text:
        return "not a valid URL"
    return type(exc).__name__


def describe(exc: BaseException, url: str) -> str:
    """One line: ``cannot reach HOST: CAUSE`` or ``HOST: CAUSE`` (see module docstring)."""
    cause = root_cause(exc)
    host = host_of(url)
    if cause in UNREACHABLE or cause == "TLS/SSL handshake failed":
        return f"cannot reach {host}: {cause}"
    return f"{host}: {cause}"


def is_unreachable(message: Optional[str]) -> bool:
    """True when a message from :func:`describe` says the host cannot be reached at all."""
    return bool(message) and "cannot reach " in message and \
        any(message.endswith(u) for u in UNREACHABLE)


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, shortened at a space (a URL or word is never cut in two)."""
    words = str(text).split()
    out = ""
    for w in words:
        if out and len(out) + 1 + len(w) > limit:
            return out + " ..."
        out = f"{out} {w}" if out else w
    return out


def describe_any(exc: BaseException, url: str) -> str:
    """:func:`describe` for network failures, else the exception's text on one line."""
    cause = root_cause(exc)
    if cause != type(exc).__name__:
        return describe(exc, url)
    return one_line(str(exc)) or type(exc).__name__
