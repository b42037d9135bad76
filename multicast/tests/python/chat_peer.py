"""A chat/1 peer written from multicast/PROTOCOL.md alone, for tests/python_peer.rs.

usage: python3 chat_peer.py GROUP PORT
Joins GROUP on 127.0.0.1, sends one chat line as "py", prints "ready", then prints
"py got: NAME: TEXT" for the first chat line from another instance, and exits.
"""
import os
import re
import socket
import struct
import sys

CHAT = re.compile(r"chat/1 ([0-9a-f]{16}) ([0-9]+) ([^\s:]{1,32}): (.*)", re.DOTALL)
MAX_CHAT_DATAGRAM = 1200


def main():
    group, port = sys.argv[1], int(sys.argv[2])
    me = "%016x" % int.from_bytes(os.urandom(8), "big")

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    rx.bind((group, port))
    mreq = socket.inet_aton(group) + socket.inet_aton("127.0.0.1")
    rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    rx.settimeout(10)

    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, struct.pack("b", 1))
    tx.sendto(f"chat/1 {me} 1 py: hello from python".encode(), (group, port))
    print("ready", flush=True)

    while True:
        data, _ = rx.recvfrom(MAX_CHAT_DATAGRAM + 1)
        if len(data) > MAX_CHAT_DATAGRAM:
            continue
        match = CHAT.fullmatch(data.decode("utf-8", "replace"))
        if match and match.group(1) != me:
            print(f"py got: {match.group(3)}: {match.group(4)}", flush=True)
            return


if __name__ == "__main__":
    main()
