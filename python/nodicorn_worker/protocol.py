"""The Node <-> Python worker protocol; the twin of src/bridge/protocol.ts (read that file's header for the
frame diagram). Same constant names; both codecs are tested against tests/fixtures/protocol-vectors.json.

Every frame: | length u32 | type u8 | request id u32 | payload |, big-endian, length = 5 + len(payload).
READY's payload is UTF-8 JSON {pid, python, files?}: `files` (with --reload) lists the app's own imported
source files (loader.app_source_files) for Node to watch, and SOURCES (id 0, a JSON list) those imported
later, after the request that imported them.
"""
import struct

FRAME_HEADER = struct.Struct(">IBI")
FRAME_HEADER_SIZE = FRAME_HEADER.size  # 9
U32 = struct.Struct(">I")

REQUEST = 0x01
CANCEL = 0x02
CREDIT = 0x03

HEAD = 0x11
BODY = 0x12
END = 0x13
WHOLE = 0x14
FAIL = 0x15
READY = 0x16
LOADFAIL = 0x17
SOURCES = 0x1B

# The fork server (--preload, zygote.py) and the workers it forks (see protocol.ts).
SPAWN = 0x04
HELLO = 0x18
FORKED = 0x19
EXITED = 0x1A

FLAG_BODY_IN_FILE = 0x01

# BODY bytes a worker may send for a request before its first CREDIT (flow control: see protocol.ts).
INITIAL_WINDOW = 1048576


def decode_request(payload):
    """REQUEST payload -> (environ pairs dict, body bytes or None, body file path or None).

    The environ text becomes a dict in C: one decode, one split, one dict(zip()). Only values holding a
    NUL (a %00 in the path) travel in the binary section and cost a Python-level loop.
    """
    flags = payload[0]
    text_len = U32.unpack_from(payload, 1)[0]
    at = 5 + text_len
    parts = str(payload[5:at], "latin-1").split("\0") if text_len else []
    it = iter(parts)
    pairs = dict(zip(it, it))
    bin_len = U32.unpack_from(payload, at)[0]
    at += 4
    if bin_len:
        end = at + bin_len
        while at < end:
            k_len = U32.unpack_from(payload, at)[0]
            key = str(payload[at + 4:at + 4 + k_len], "latin-1")
            at += 4 + k_len
            v_len = U32.unpack_from(payload, at)[0]
            pairs[key] = str(payload[at + 4:at + 4 + v_len], "latin-1")
            at += 4 + v_len
    if flags & FLAG_BODY_IN_FILE:
        return pairs, None, str(payload[at:], "utf-8")
    return pairs, payload[at:], None


def encode_head(status, headers):
    """The HEAD payload: | header count u32 | latin-1 `status\\0name\\0value...` |. The count lets Node
    refuse a head whose fields hold a NUL (start_response refuses those already: rules.py). Raises for
    non-str or non-latin-1 values."""
    fields = [status]
    for name, value in headers:
        fields.append(name)
        fields.append(value)
    return U32.pack(len(headers)) + "\0".join(fields).encode("latin-1")


def frame(kind, rid, payload=b""):
    return FRAME_HEADER.pack(5 + len(payload), kind, rid) + payload


def frame_header(kind, rid, payload_len):
    return FRAME_HEADER.pack(5 + payload_len, kind, rid)
