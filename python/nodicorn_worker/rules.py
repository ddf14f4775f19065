"""What an application may send as status and headers: the mirror of src/contract/rules.ts, which holds the
reasons (PEP 3333, RFC 9110). Same rules, same names; both are held to
tests/fixtures/header-rules-vectors.json. The worker's start_response applies them (PEP 3333: header errors
are raised by start_response, while the application still runs), so no CR, LF, NUL or other control
character, no hop-by-hop header and no second single-value field ever leaves the worker.
"""
import re

# RFC 9110 §5.6.2 token characters, for header names.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 §5.5: no CTL but HTAB in a value; latin-1 only (PEP 3333 native strings).
BAD_VALUE_CHAR = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]")
# PEP 3333: "200 OK" (fullmatch: `$` would let a trailing newline through; [0-9], not the Unicode \d).
STATUS = re.compile(r"([1-9][0-9][0-9]) ([^\x00-\x08\x0a-\x1f\x7f\u0100-\U0010ffff]*)")
CONTENT_LENGTH = re.compile(r"[0-9]{1,15}")

HOP_BY_HOP = frozenset((
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade",
))

SINGLE_VALUE = frozenset((
    "access-control-allow-credentials", "access-control-max-age", "access-control-request-method", "age",
    "authorization", "content-length", "content-location", "content-md5", "content-range", "content-type",
    "date", "dnt", "etag", "expires", "from", "host", "if-modified-since", "if-range", "if-unmodified-since",
    "last-modified", "location", "max-forwards", "proxy-authorization", "range", "referer", "retry-after", "tk",
    "upgrade-insecure-requests", "user-agent", "x-content-type-options",
))


class InvalidResponse(ValueError):
    """start_response got a status or headers that may not be sent: the request answers 500."""


def check_status(status):
    """The numeric status code, or a message saying what is wrong with the status line."""
    code = _statuses.get(status) if type(status) is str else None
    if code is None:
        code = _check_status(status)
        if type(code) is int:
            if len(_statuses) >= 1024:
                _statuses.clear()
            _statuses[status] = code
    return code


# Status lines and header pairs repeat from one response to the next: valid ones are remembered (bounded).
_statuses = {}


def _check_status(status):
    if not isinstance(status, str):
        return "status must be a string, got %s" % type(status).__name__
    m = STATUS.fullmatch(status)
    if m is None:
        return "invalid status %r" % status
    code = int(m.group(1))
    if code < 200:
        return "status %d is not a final status" % code
    if code > 599:
        return "status %d is outside 100-599" % code
    return code


def is_connection_close(value):
    return value.strip(" \t").lower() == "close"


_pairs = {}


def check_pair(header):
    """The lower-case name of a valid (name, value) pair, or a message (a str with a space) saying why not.
    Only the pair itself: repeats are check_headers' business."""
    if (type(header) is not tuple and type(header) is not list) or len(header) != 2:
        return "headers must be (name, value) pairs"
    name, value = header
    if not isinstance(name, str):
        return "header name must be a string, got %s" % type(name).__name__
    if TOKEN.fullmatch(name) is None:
        return "invalid header name %r" % name
    if not isinstance(value, str):
        return "value of header %r must be a string" % name
    if BAD_VALUE_CHAR.search(value) is not None:
        return "invalid characters in the value of header %r" % name
    lower = name.lower()
    if lower == "content-length":
        if CONTENT_LENGTH.fullmatch(value) is None:
            return "invalid Content-Length %r" % value
    elif lower in HOP_BY_HOP and not (lower == "connection" and is_connection_close(value)):
        return "hop-by-hop header %r is not allowed (PEP 3333)" % name
    if type(header) is tuple and type(name) is str and type(value) is str:
        if len(_pairs) >= 1024:
            _pairs.clear()
        _pairs[header] = lower
    return lower


def check_headers(headers):
    """None when the header list may be sent, or a message saying what is wrong with it."""
    if type(headers) is not list:
        return "headers must be a list of (name, value) pairs, got %s" % type(headers).__name__
    pairs = _pairs
    seen = None
    for header in headers:
        try:
            lower = pairs.get(header) if type(header) is tuple else None
        except TypeError:  # an unhashable value: check_pair says what is wrong with it
            lower = None
        if lower is None:
            lower = check_pair(header)
            if " " in lower:  # a message: a valid name (an RFC 9110 token) has no space
                return lower
        if lower in SINGLE_VALUE:
            if seen is None:
                seen = {lower}
            elif lower in seen:
                return "header %r may be sent only once (RFC 9110 \u00a75.3)" % header[0]
            else:
                seen.add(lower)
    return None
