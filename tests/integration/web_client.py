#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""web_client.py - hostile and ordinary clients of the node's web port for
test_web_limits.sh (plain sockets: the test controls every byte).

  web_client.py PORT TOKEN slowloris N SECONDS
      N connections that send a request line, then one header byte every
      2 s; after SECONDS prints "slowloris open=K closed=C" (closed: the
      node ended them).
  web_client.py PORT TOKEN partial N SECONDS
      N WebSocket upgrades (with the key) missing their final empty line;
      prints "partial open=K closed=C" after SECONDS.
  web_client.py PORT TOKEN page
      GET /?t=TOKEN: prints "page STATUS".
  web_client.py PORT TOKEN id
      opens the WebSocket, sends {"cmd":"id"}: prints "id ok" or why not.
  web_client.py PORT TOKEN stall FILE
      opens the WebSocket, listens, and stops reading; when FILE appears,
      drains what is queued: prints "stall closed after B bytes" (the node
      dropped it) or "stall open after B bytes".
  web_client.py PORT TOKEN good FILE
      listens and acknowledges every 32 frames as the page does, until
      FILE appears: prints "good open frames=N" (or "good closed ...").
"""
import base64
import json
import os
import select
import socket
import struct
import sys
import time

PORT, TOKEN, MODE = int(sys.argv[1]), sys.argv[2], sys.argv[3]
HOST = f"127.0.0.1:{PORT}"


def connect(rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", PORT))
    return s


def upgrade_request(final=True):
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET /ws?t={TOKEN} HTTP/1.1\r\nHost: {HOST}\r\nOrigin: http://{HOST}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            + ("\r\n" if final else "")).encode()


def ws_open(rcvbuf=None):
    s = connect(rcvbuf)
    s.sendall(upgrade_request())
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        if not d:
            raise SystemExit("ws: closed during the handshake")
        head += d
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit("ws: refused: " + head.split(b"\r\n")[0].decode())
    return s


def ws_send(s, text):
    data = text.encode()
    mask = os.urandom(4)
    n = len(data)
    hdr = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        d = s.recv(n - len(out))
        if not d:
            return None
        out += d
    return out


def ws_recv(s):
    """(opcode, payload), or None at the end of the stream."""
    h = recv_exact(s, 2)
    if h is None:
        return None
    n = h[1] & 0x7F
    if n == 126:
        n = struct.unpack(">H", recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", recv_exact(s, 8))[0]
    p = recv_exact(s, n)
    return None if p is None else (h[0] & 0x0F, p)


def closed(s):
    """Whether the node ended the connection (reads what is there)."""
    try:
        r, _, _ = select.select([s], [], [], 0)
        if not r:
            return False
        return s.recv(65536) == b""
    except OSError:
        return True


def hold(conns, seconds, drip):
    end = time.time() + seconds
    ended = set()
    while time.time() < end:
        for i, s in enumerate(conns):
            if i in ended:
                continue
            if closed(s):
                ended.add(i)
            elif drip:
                try:
                    s.send(b"X")
                except OSError:
                    ended.add(i)
        time.sleep(2)
    for i, s in enumerate(conns):
        if i not in ended and closed(s):
            ended.add(i)
    return len(conns) - len(ended), len(ended)


def many(n, first):
    conns = []
    for _ in range(n):
        try:
            s = connect()
            s.sendall(first)
            conns.append(s)
        except OSError:
            pass  # refused at the cap: counted as closed below
    return conns, n - len(conns)


if MODE in ("slowloris", "partial"):
    n, secs = int(sys.argv[4]), float(sys.argv[5])
    first = (f"GET / HTTP/1.1\r\nHost: {HOST}\r\nX-Slow: ".encode() if MODE == "slowloris"
             else upgrade_request(final=False))
    conns, failed = many(n, first)
    print(f"{MODE} started {len(conns)}", flush=True)
    k, c = hold(conns, secs, MODE == "slowloris")
    print(f"{MODE} open={k} closed={c + failed}", flush=True)
elif MODE == "page":
    s = connect()
    s.sendall(f"GET /?t={TOKEN} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
    s.settimeout(10)
    print("page", s.recv(64).split(b" ")[1].decode())
elif MODE == "id":
    s = ws_open()
    s.settimeout(10)
    ws_send(s, '{"cmd":"id"}')
    op, p = ws_recv(s)
    print("id ok" if json.loads(p).get("ok") else "id refused: " + p.decode())
elif MODE == "stall":
    s = ws_open(rcvbuf=4096)
    ws_send(s, '{"cmd":"listen"}')
    print("stall listening", flush=True)
    while not os.path.exists(sys.argv[4]):
        time.sleep(0.2)
    s.settimeout(5)
    got = 0
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                print(f"stall closed after {got} bytes")
                break
            got += len(d)
    except socket.timeout:
        print(f"stall open after {got} bytes")
    except OSError as e:
        print(f"stall closed after {got} bytes ({e})")
elif MODE == "good":
    s = ws_open()
    ws_send(s, '{"cmd":"listen"}')
    frames = 0
    s.settimeout(10)
    state = "open"
    while not os.path.exists(sys.argv[4]):
        r, _, _ = select.select([s], [], [], 0.5)
        if not r:
            continue
        f = ws_recv(s)
        if f is None or f[0] == 8:
            state = "closed"
            break
        if f[0] != 1:
            continue
        frames += 1
        if frames % 32 == 0:
            ws_send(s, json.dumps({"ack": frames}))
    print(f"good {state} frames={frames}")
