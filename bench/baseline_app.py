"""The baseline: a bare Flask JSON endpoint that parses the body and answers, storing nothing."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/webhooks/forms/generic")
def accept():
    data = request.get_json(force=True)
    return jsonify(status="accepted", event_id=data.get("event_id"))
