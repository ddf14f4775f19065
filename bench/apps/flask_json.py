"""The Flask scenario: one JSON route."""
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/json")
def hello_json():
    return jsonify(message="Hello, WSGI World!", items=list(range(10)))
