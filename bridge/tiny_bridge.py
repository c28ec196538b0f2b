#!/usr/bin/env python3
"""A minimal agijobs bridge (protocol 1, bridge/PROTOCOL.md), standard library only.

Accepts every dispatch with a default receipt and answers governance commands with the same
multisig payloads as bridge.mjs. Run: python3 bridge/tiny_bridge.py
"""

import hashlib
import json
import sys

NAME, VERSION, PROTOCOL = "agijobs-tiny-bridge", "1.0.0", 1


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def refuse(request_id, error):
    return {"id": request_id, "ok": False, "error": error}


def hello(req, session):
    asked = req.get("protocol")
    session["greeted"] = asked == PROTOCOL and not isinstance(asked, bool)
    if not session["greeted"]:
        error = f"unsupported protocol {canonical(asked)}; this bridge speaks {PROTOCOL}"
        return {**refuse(req["id"], error), "protocol": PROTOCOL}
    return {"id": req["id"], "ok": True, "protocol": PROTOCOL, "name": NAME, "version": VERSION}


def payload(g):
    nonce = hashlib.sha256(canonical(g).encode("utf-8")).hexdigest()[:16]
    body = {"to": "fabric-governor", "method": g["command"], "params": g["args"]}
    return {"command": g["command"], "payload": {**body, "memo": g["reason"], "nonce": nonce}}


def receipt(d):
    return {"job": d["job"], "attempt": d["attempt"], "status": "accepted"}


def tick(req, session):
    if not session["greeted"]:
        return refuse(req["id"], "handshake required: send hello first")
    receipts, govern = list(map(receipt, req["dispatch"])), list(map(payload, req["govern"]))
    return {"id": req["id"], "ok": True, "receipts": receipts, "govern": govern}


HANDLERS = {"hello": hello, "tick": tick}


def answer(number, line, session):
    try:
        req = json.loads(line, parse_constant=int)  # NaN, Infinity: int() raises ValueError
    except (ValueError, RecursionError) as error:
        return refuse(None, f"line {number}: invalid JSON ({error})")
    if not isinstance(req, dict) or not isinstance(req.get("id"), str):
        return refuse(None, f"line {number}: a request must be a JSON object with a string `id`")
    op = req.get("op")
    if not isinstance(op, str) or op not in HANDLERS:
        return refuse(req["id"], f"unknown op `{op if isinstance(op, str) else canonical(op)}`")
    try:
        return HANDLERS[op](req, session)
    except Exception as error:  # a malformed request: answer it, keep serving
        return refuse(req["id"], f"{op}: bad request ({type(error).__name__}: {error})")


def main():
    session = {"greeted": False}
    for number, raw in enumerate(sys.stdin.buffer, 1):
        line = raw.decode("utf-8", "replace")
        if line.strip(" \t\r\n"):
            out = canonical(answer(number, line, session)).encode("utf-8", "backslashreplace")
            sys.stdout.buffer.write(out + b"\n")
            sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
