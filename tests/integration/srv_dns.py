#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# srv_dns.py - a tiny DNS responder for test_cluster_srv.sh, run inside
# the test's own network namespace on 127.0.0.1:53 (UDP): the SRV query
# for NAME is answered with the records of the file RECORDS (one
# "PRIORITY WEIGHT PORT TARGET" a line, read at every query, so the test
# can change the service); any other query gets an empty answer
# (NODATA). Usage: srv_dns.py NAME RECORDS
import socket
import struct
import sys


def encode_name(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def question_end(msg):
    i = 12
    while msg[i] != 0:
        i += 1 + msg[i]
    return i + 1 + 4  # the zero byte, QTYPE, QCLASS


def qname(msg):
    i, labels = 12, []
    while msg[i] != 0:
        labels.append(msg[i + 1:i + 1 + msg[i]].decode())
        i += 1 + msg[i]
    return ".".join(labels).lower(), struct.unpack(">H", msg[i + 1:i + 3])[0]


def main():
    name, records = sys.argv[1].strip(".").lower(), sys.argv[2]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 53))
    print("listening on 127.0.0.1:53", flush=True)  # the test waits for this line
    while True:
        msg, peer = s.recvfrom(4096)
        try:
            q, qtype = qname(msg)
            end = question_end(msg)
        except (IndexError, struct.error, UnicodeDecodeError):
            continue
        answers = []
        if q == name and qtype == 33:
            with open(records) as f:
                for line in f:
                    if line.strip():
                        prio, weight, port, target = line.split()
                        rdata = struct.pack(">HHH", int(prio), int(weight), int(port))
                        rdata += encode_name(target)
                        answers.append(b"\xc0\x0c" + struct.pack(">HHIH", 33, 1, 5, len(rdata))
                                       + rdata)
        head = msg[:2] + struct.pack(">HHHHH", 0x8180, 1, len(answers), 0, 0)
        s.sendto(head + msg[12:end] + b"".join(answers), peer)


main()
