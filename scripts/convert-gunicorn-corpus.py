#!/usr/bin/env python3
"""Converts Gunicorn's HTTP request corpus (tests/requests/{valid,invalid}) into one JSON fixture.

    python3 scripts/convert-gunicorn-corpus.py ../shared/corpus/gunicorn-requests \
        > tests/fixtures/gunicorn-requests/corpus.json

Each .http file is decoded as Gunicorn's tests/treq.py does (see the corpus README); each .py expectation
file is evaluated with stand-ins for the names it uses (uri, cfg, Gunicorn's exception classes)."""
import base64
import json
import os
import re
import sys


def decode_http(raw):
    data = raw.replace(b"\n", b"").replace(b"\\r\\n", b"\r\n")
    data = data.replace(b"\\0", b"\x00").replace(b"\\n", b"\n").replace(b"\\t", b"\t")
    data = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), data)
    if b"\\" in data:
        raise ValueError("backslash left after decoding")
    return data


class Cfg:
    def __init__(self):
        self.settings = {}

    def set(self, name, value):
        self.settings[name] = value


class AnyName(dict):
    """Evaluation namespace: unknown names (exception classes) evaluate to their own name."""

    def __missing__(self, key):
        return key


def run_expectation(path):
    source = open(path).read()
    source = re.sub(r"^\s*from \S+ import .*$", "", source, flags=re.M)
    source = re.sub(r"^\s*import .*$", "", source, flags=re.M)
    cfg = Cfg()
    namespace = AnyName(uri=lambda s: s, cfg=cfg, Config=lambda: cfg, __builtins__=__builtins__)
    exec(compile(source, path, "exec"), namespace)
    return namespace["request"], cfg.settings


def to_json_request(req):
    out = {
        "method": req["method"],
        "uri": req["uri"],
        "version": list(req["version"]),
        "headers": [list(h) for h in req["headers"]],
        "body": base64.b64encode(req["body"].encode("latin-1") if isinstance(req["body"], str) else req["body"]).decode(),
    }
    if "trailers" in req:
        out["trailers"] = [list(h) for h in req["trailers"]]
    return out


def main(root):
    entries = []
    for kind in ("valid", "invalid"):
        folder = os.path.join(root, kind)
        for name in sorted(f[:-5] for f in os.listdir(folder) if f.endswith(".http")):
            raw = decode_http(open(os.path.join(folder, name + ".http"), "rb").read())
            expected, cfg = run_expectation(os.path.join(folder, name + ".py"))
            entry = {"name": name, "kind": kind, "raw": base64.b64encode(raw).decode(), "cfg": cfg}
            if kind == "valid":
                reqs = expected if isinstance(expected, list) else [expected]
                entry["expected"] = [to_json_request(r) for r in reqs]
            else:
                entry["expected"] = expected if isinstance(expected, str) else getattr(expected, "__name__", str(expected))
            entries.append(entry)
    json.dump(entries, sys.stdout, indent=1, ensure_ascii=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
