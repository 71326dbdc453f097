#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""xmpp_client.py - a small XMPP client for tests/integration/test_gateway_xmpp.sh.

Python standard library only. It speaks c2s to a server on loopback:
stream, SASL PLAIN over a plaintext stream (the test's Prosody allows it),
resource binding, initial presence. Then it runs until killed, taking
commands one a line from the FIFO given and printing what it receives, one
JSON object a line on stdout:

  {"kind": "message", "from": ..., "type": ..., "body": ..., "error": ...}
  {"kind": "presence", "from": ..., "type": ..., "show": ...}
  {"kind": "ready", "jid": ...}

Commands:  msg TO TEXT          a chat message
           presence TO [SHOW]   directed presence (SHOW: away, dnd, off)
           raw XML              bytes as they are

usage: xmpp_client.py HOST PORT USER@DOMAIN PASSWORD FIFO
"""
import base64
import json
import os
import selectors
import socket
import sys
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

NS_CLIENT = "{jabber:client}"
NS_STREAM = "{http://etherx.jabber.org/streams}"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"


def out(obj):
    print(json.dumps(obj), flush=True)


class Stream:
    def __init__(self, sock, domain):
        self.sock = sock
        self.domain = domain
        self.stanzas = []
        self.restart()

    def restart(self):
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.sock.sendall(
            ("<?xml version='1.0'?><stream:stream to=%s xmlns='jabber:client' "
             "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
             % quoteattr(self.domain)).encode())

    def feed(self):
        data = self.sock.recv(65536)
        if not data:
            raise SystemExit("xmpp_client: the server closed the connection")
        self.parser.feed(data)
        for ev, el in self.parser.read_events():
            if ev == "start":
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 1:
                    self.stanzas.append(el)
                elif self.depth == 0:
                    raise SystemExit("xmpp_client: the server ended the stream")

    def next(self):
        while not self.stanzas:
            self.feed()
        return self.stanzas.pop(0)


def login(st, user, password):
    feats = st.next()
    if feats.tag != NS_STREAM + "features":
        raise SystemExit("xmpp_client: no stream features: " + feats.tag)
    auth = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
    st.sock.sendall(("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (NS_SASL, auth)).encode())
    res = st.next()
    if not res.tag.endswith("success"):
        raise SystemExit("xmpp_client: SASL PLAIN refused: " + res.tag)
    st.restart()
    st.next()  # features
    st.sock.sendall(("<iq type='set' id='bind1'><bind xmlns='%s'><resource>test</resource>"
                     "</bind></iq>" % NS_BIND).encode())
    res = st.next()
    jid = res.find(".//{%s}jid" % NS_BIND)
    if res.get("type") != "result" or jid is None:
        raise SystemExit("xmpp_client: bind refused")
    st.sock.sendall(b"<presence/>")
    return jid.text


def report(el):
    tag = el.tag.replace(NS_CLIENT, "")
    if tag not in ("message", "presence"):
        return
    o = {"kind": tag, "from": el.get("from", ""), "type": el.get("type", "")}
    body = el.find(NS_CLIENT + "body")
    show = el.find(NS_CLIENT + "show")
    err = el.find(NS_CLIENT + "error")
    if body is not None:
        o["body"] = body.text or ""
    if show is not None:
        o["show"] = show.text or ""
    if err is not None and len(err):
        o["error"] = err[0].tag.split("}")[-1]
    out(o)


def command(st, line):
    verb, _, rest = line.partition(" ")
    if verb == "msg":
        to, _, text = rest.partition(" ")
        st.sock.sendall(("<message to=%s type='chat'><body>%s</body></message>"
                         % (quoteattr(to), escape(text))).encode())
    elif verb == "presence":
        to, _, show = rest.partition(" ")
        if show == "off":
            st.sock.sendall(("<presence to=%s type='unavailable'/>" % quoteattr(to)).encode())
        elif show:
            st.sock.sendall(("<presence to=%s><show>%s</show></presence>"
                             % (quoteattr(to), escape(show))).encode())
        else:
            st.sock.sendall(("<presence to=%s/>" % quoteattr(to)).encode())
    elif verb == "raw":
        st.sock.sendall(rest.encode())


def main():
    host, port, user_at, password, fifo = sys.argv[1:6]
    user, _, domain = user_at.partition("@")
    sock = socket.create_connection((host, int(port)), timeout=10)
    st = Stream(sock, domain)
    jid = login(st, user, password)
    sock.settimeout(None)
    out({"kind": "ready", "jid": jid})
    for el in st.stanzas:
        report(el)
    st.stanzas = []
    cmd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # RDWR: no EOF between writers
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "sock")
    sel.register(cmd, selectors.EVENT_READ, "cmd")
    pending = b""
    while True:
        for key, _ in sel.select():
            if key.data == "sock":
                st.feed()
                for el in st.stanzas:
                    report(el)
                st.stanzas = []
            else:
                pending += os.read(cmd, 65536)
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    command(st, line.decode())


if __name__ == "__main__":
    main()
