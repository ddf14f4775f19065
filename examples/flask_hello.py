"""The Flask app examples/express-with-flask.ts mounts under /py."""
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/")
def index():
    return "Hello from Flask"


@app.get("/where")
def where():
    return jsonify(script_root=request.script_root, path=request.path, url=request.url)
