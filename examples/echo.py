"""The echo app: answers with the environ it saw and the request body, as JSON (twin of examples/echo.ts)."""
import json


def snapshot(environ):
    seen = {}
    for key in sorted(environ):
        value = environ[key]
        if isinstance(value, (str, bool)):
            seen[key] = value
        elif key == "wsgi.version":
            seen[key] = list(value)
    return seen


def application(environ, start_response):
    stream = environ["wsgi.input"]
    chunks = []
    while True:
        # read(size), never read(): wsgiref.validate allows only the one-argument form.
        chunk = stream.read(65536)
        if not chunk:
            break
        chunks.append(chunk)
    body = b"".join(chunks)
    reply = json.dumps({"environ": snapshot(environ), "body": body.decode("latin-1")})
    start_response("200 OK", [("Content-Type", "application/json")])
    return [reply.encode("ascii")]
