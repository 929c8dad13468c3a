#!/usr/bin/env python3
"""A short end-to-end smoke test of a running messenger, through its public port only.

    python3 docker/smoke.py http://127.0.0.1:8080

Registers two users, opens a private chat, connects one WebSocket per user, sends a message from one
(ack) to the other (message), reads it (read receipt back to the sender), and finds it read in the
history. With METRICS_URL set (and METRICS_TOKEN when the server wants one), it also checks that the
send was counted. Python 3.8+ standard library only: it runs on a CI runner or a bare server as it is.
Exits non-zero, saying which step failed, on the first thing that is not as the contract says.
"""

import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

TIMEOUT = 10.0
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class SmokeFailure(Exception):
    pass


def check(condition, what):
    if not condition:
        raise SmokeFailure(what)


def http(method, url, body=None, token=None, headers=None):
    """One request; returns (status, headers, parsed JSON or text)."""
    data = None
    request_headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        request_headers["Content-Type"] = "application/json"
    if token:
        request_headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request(url, data=data, method=method, headers=request_headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            status, answer_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, error.headers, error.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, answer_headers, json.loads(text) if text else None
    except ValueError:
        return status, answer_headers, text


class WebSocket:
    """The client side of RFC 6455, as much as the smoke test needs: text frames, pings, close."""

    def __init__(self, base, token):
        parts = urllib.parse.urlsplit(base)
        check(parts.scheme == "http", "the smoke test speaks plain HTTP (put TLS in front, test behind it)")
        host, port = parts.hostname, parts.port or 80
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            "GET /ws HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            check(chunk, "the server closed the socket during the WebSocket upgrade")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        check(lines[0].split(" ")[1] == "101", f"WebSocket upgrade answered {lines[0]!r}")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        answered = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        check(answered.get("sec-websocket-accept") == accept, "wrong Sec-WebSocket-Accept")

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            check(chunk, "the server closed the WebSocket")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _send_frame(self, opcode, payload):
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, frame):
        self._send_frame(0x1, json.dumps(frame).encode())

    def next_frame(self):
        message = b""
        while True:
            first, second = self._read(2)
            fin, opcode, length = first & 0x80, first & 0x0F, second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self._read(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._read(8))
            payload = self._read(length)
            if opcode == 0x9:
                self._send_frame(0xA, payload)
            elif opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise SmokeFailure(f"the server closed the WebSocket (code {code})")
            elif opcode in (0x1, 0x0):
                message += payload
                if fin:
                    return json.loads(message.decode())

    def next_of(self, kind):
        """The next frame of `kind`, skipping others (typing, presence, read_all, ...)."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            frame = self.next_frame()
            if frame.get("type") == kind:
                return frame
            check(frame.get("type") != "error", f"an error frame while waiting for {kind}: {frame}")
        raise SmokeFailure(f"no {kind} frame within {TIMEOUT} s")

    def close(self):
        try:
            self._send_frame(0x8, struct.pack("!H", 1000))
        finally:
            self.sock.close()


def register(base, name):
    email = f"smoke-{name}-{uuid.uuid4().hex[:12]}@example.org"
    status, _, user = http("POST", base + "/auth/register", {"name": name, "email": email, "password": "password123"})
    check(status == 201, f"register {name} answered {status}: {user}")
    status, _, session = http("POST", base + "/auth/token", {"email": email, "password": "password123"})
    check(status == 200 and session.get("access_token"), f"sign-in {name} answered {status}: {session}")
    return user["id"], session["access_token"]


def sample(text, name, labels):
    """The value of the sample `name` whose labels include `labels`, summed; None when absent."""
    total = None
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        series_name, _, rest = series.partition("{")
        if series_name == name and all(f'{k}="{v}"' in rest for k, v in labels.items()):
            total = (total or 0.0) + float(value)
    return total


def check_metrics(url, token):
    headers = {"Authorization": "Bearer " + token} if token else {}
    deadline = time.monotonic() + TIMEOUT
    while True:
        status, _, text = http("GET", url, headers=headers)
        check(status == 200, f"GET {url} answered {status}")
        stored = sample(text, "messenger_sends_total", {"transport": "ws", "outcome": "stored"})
        if (stored or 0) >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    check((stored or 0) >= 1, "the WebSocket send is not counted in messenger_sends_total")
    check(sample(text, "messenger_ws_connections", {}) is not None, "no messenger_ws_connections")
    check((sample(text, "messenger_ws_send_ack_seconds_count", {}) or 0) >= 1, "no send-to-ack latency observed")
    history = sample(text, "messenger_http_requests_total", {"route": "/history/{chat_id}", "status": "200"})
    check((history or 0) >= 1, "GET /history is not counted under its route pattern")


def run(base):
    status, headers, body = http("GET", base + "/healthz", headers={"X-Request-Id": "smoke-healthz-1"})
    check(status == 200 and body == {"status": "ok"}, f"/healthz answered {status}: {body}")
    check(headers.get("X-Request-Id") == "smoke-healthz-1", "the request id is not answered")
    status, _, body = http("GET", base + "/readyz")
    check(status == 200, f"/readyz answered {status}: {body}")
    print("ok   health and readiness")

    alice_id, alice = register(base, "alice")
    bob_id, bob = register(base, "bob")
    status, _, chat = http("POST", base + "/chats/private", {"user_id": bob_id}, token=alice)
    check(status == 201, f"POST /chats/private answered {status}: {chat}")
    chat_id = chat["id"]
    print(f"ok   two users registered, private chat {chat_id}")

    alice_ws, bob_ws = WebSocket(base, alice), WebSocket(base, bob)
    try:
        client_id = str(uuid.uuid4())
        alice_ws.send({"type": "send", "chat_id": chat_id, "client_id": client_id, "text": "smoke test"})
        ack = alice_ws.next_of("ack")
        check(ack["client_id"] == client_id and not ack["duplicate"], f"unexpected ack {ack}")
        message = ack["message"]
        check(message["sender_id"] == alice_id and message["seq"] == 1, f"unexpected message {message}")
        delivered = bob_ws.next_of("message")["message"]
        check(delivered["id"] == message["id"], f"bob got {delivered}, not {message}")
        print(f"ok   message {message['id']} acked to alice and delivered to bob over WebSocket")

        bob_ws.send({"type": "read", "chat_id": chat_id, "message_id": message["id"]})
        receipt = alice_ws.next_of("read")
        check(receipt["reader_id"] == bob_id and receipt["message_id"] == message["id"], f"unexpected {receipt}")
        # The `read` frame goes out when bob's pointer moves; the message's `read` flag flips just after,
        # and `read_all` tells the sender once it has.
        read_all = alice_ws.next_of("read_all")
        check(read_all["sender_id"] == alice_id and read_all["message_id"] == message["id"], f"unexpected {read_all}")
        print("ok   read receipt and read_all from bob's read reached alice")
    finally:
        alice_ws.close()
        bob_ws.close()

    status, _, history = http("GET", f"{base}/history/{chat_id}", token=alice)
    check(status == 200 and len(history) == 1, f"history answered {status}: {history}")
    check(history[0]["id"] == message["id"] and history[0]["text"] == "smoke test", f"history holds {history}")
    check(history[0]["read"] is True, "the message is not read in the history after the receipt")
    print("ok   history holds the message, read")

    metrics_url = os.environ.get("METRICS_URL")
    if metrics_url:
        check_metrics(metrics_url, os.environ.get("METRICS_TOKEN"))
        print(f"ok   {metrics_url} counted the send, its ack latency and the history route")


def main():
    base = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080").rstrip("/")
    try:
        run(base)
    except (SmokeFailure, OSError, ValueError, KeyError, TypeError) as failure:
        print(f"FAIL {failure}", file=sys.stderr)
        return 1
    print("ok   smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
