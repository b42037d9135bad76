#!/usr/bin/env python3
"""An rpc-lite client written from rpc-lite/PROTOCOL.md (and framing/PROTOCOL.md) alone.

Standard library only. It exists to prove the protocol document is precise enough for
another language: nothing here was taken from the Rust sources.

usage: python3 rpc_client.py HOST:PORT [--transport tcp|udp] [--max-frame BYTES] [--max-keys N]

--max-frame and --max-keys tell the script the server's settings of the same names (defaults
1048576 and 10000, the server's defaults); the TCP size-limit and StoreFull checks use them.

The script plays two different machines in turn: a big-endian 32-bit one (profile be32,
label 4c 01 00 04) and a little-endian 64-bit one (profile le64, label 4c 01 01 08). Each
writes its calls in its own representation and decodes every answer under the label the
answer carries. Against the demo service (program 0x20007470, version 1) it runs checks,
printing `PASS name` or `FAIL name: reason` for each, then `N passed, M failed`; the exit
status is 0 only if every check passed (2 for a usage mistake).

Every socket operation has a timeout, so the script never hangs; it only ever talks to
the address it is given. Run it against a server of its own: the counter (`incr`) and
StoreFull checks assume no other client changes the counter or fills the store meanwhile.
A run takes about 6 s (the sleeps and deadline checks dominate).
"""
import argparse
import math
import os
import socket
import struct
import sys
import time

# ---------------------------------------------------------------------------------------
# Constants from PROTOCOL.md
# ---------------------------------------------------------------------------------------

MAGIC = b"RPCL"  # section 3, offset 0, raw bytes in every byte order
HEADER_LEN = 36  # section 3
PROTOCOL_VERSION = 1  # section 3, offset 8
KIND_CALL, KIND_REPLY, KIND_ERROR = 1, 2, 3  # section 3, offset 9

LABEL_MAGIC, LABEL_VERSION = 0x4C, 0x01  # section 2

DEMO_PROGRAM = 0x20007470  # section 9
DEMO_VERSION = 1
PROC_DESCRIBE, PROC_ADD, PROC_DIVIDE, PROC_GET, PROC_PUT = 0, 1, 2, 3, 4
PROC_DELETE, PROC_ECHO, PROC_SLEEP, PROC_INCR = 5, 6, 7, 8
DEMO_PROCEDURES = {
    1: "add", 2: "divide", 3: "get", 4: "put", 5: "delete", 6: "echo", 7: "sleep", 8: "incr",
}

# Fault codes (section 4).
UNKNOWN_PROGRAM, VERSION_MISMATCH, UNKNOWN_PROCEDURE = 1, 2, 3
BAD_REQUEST, TOO_LARGE, UNREPRESENTABLE, APPLICATION = 4, 5, 6, 7
BUSY = 8  # UDP only: not run; detail u32 ms to wait before resending
UDP_AMPLIFICATION_LIMIT = 3  # section 8: no answer is larger than 3x its datagram

# Application error tags of the demo service (section 9).
APP_DIVISION_BY_ZERO, APP_OVERFLOW, APP_STORE_FULL, APP_TOO_LONG = 1, 2, 3, 4
SLEEP_MAX_MS = 60_000

SERVER_MAX_FRAME = 1 << 20  # section 1: default 1 MiB per TCP message
SERVER_MAX_KEYS = 10_000  # `rpc-lite serve --help`: keys the demo store holds at most
CLIENT_MAX_FRAME = 16 << 20  # what this client accepts before allocating (framing default)
UDP_MAX_DATAGRAM = 65_507  # section 1

IO_TIMEOUT_S = 5.0  # every socket operation
UDP_BACKOFF_FIRST_S, UDP_BACKOFF_MAX_S = 0.020, 1.0  # section 8

I32 = (-(1 << 31), (1 << 31) - 1)
I64 = (-(1 << 63), (1 << 63) - 1)
U64_MAX = (1 << 64) - 1


class ProtocolError(Exception):
    """The peer sent bytes that do not follow PROTOCOL.md."""


class EncodeError(Exception):
    """A value cannot be written in this profile (e.g. a Long beyond 32 bits under be32)."""


class CheckFailed(Exception):
    """A check saw something other than what PROTOCOL.md promises."""


class ConnectionClosed(Exception):
    """The server closed the TCP connection (EOF or reset)."""


# ---------------------------------------------------------------------------------------
# Data representation (section 2)
# ---------------------------------------------------------------------------------------


class Profile:
    """A machine's data representation: byte order and word size (the size of C `long`)."""

    def __init__(self, name, big_endian, word):
        self.name = name
        self.big_endian = big_endian
        self.word = word
        self.order = ">" if big_endian else "<"
        self.label = bytes([LABEL_MAGIC, LABEL_VERSION, 0 if big_endian else 1, word])

    def __repr__(self):
        return self.name


BE32 = Profile("be32", True, 4)
LE64 = Profile("le64", False, 8)
BE64 = Profile("be64", True, 8)  # the representation of connection-level errors (section 5)
PROFILES = [BE32, LE64]


def profile_from_label(label):
    """Reads a 4-byte label; raises ProtocolError naming what is wrong."""
    if len(label) != 4:
        raise ProtocolError(f"label is {len(label)} bytes, not 4")
    magic, version, order, word = label
    if magic != LABEL_MAGIC:
        raise ProtocolError(f"label magic 0x{magic:02x}, expected 0x4c")
    if version != LABEL_VERSION:
        raise ProtocolError(f"label version {version}, expected 1")
    if order not in (0, 1):
        raise ProtocolError(f"label byte order code {order}, expected 0 or 1")
    if word not in (4, 8):
        raise ProtocolError(f"label word size {word}, expected 4 or 8")
    big = order == 0
    return Profile(f"{'be' if big else 'le'}{word * 8}", big, word)


class Writer:
    """Encodes values under one profile, field after field, no padding."""

    def __init__(self, profile):
        self.p = profile
        self.buf = bytearray()

    def _pack(self, fmt, value):
        self.buf += struct.pack(self.p.order + fmt, value)
        return self

    def u8(self, v):
        return self._pack("B", v)

    def bool(self, v):
        return self.u8(1 if v else 0)

    def u32(self, v):
        return self._pack("I", v)

    def u64(self, v):
        return self._pack("Q", v)

    def i64(self, v):
        return self._pack("q", v)

    def long(self, v):
        """C `long`: 4 bytes under a 32-bit label, 8 under a 64-bit one."""
        lo, hi = I32 if self.p.word == 4 else I64
        if not lo <= v <= hi:
            raise EncodeError(f"{v} does not fit a {self.p.word * 8}-bit long ({self.p})")
        return self._pack("i" if self.p.word == 4 else "q", v)

    def bytes(self, data):
        return self.u32(len(data)).raw(data)

    def string(self, text):
        return self.bytes(text.encode("utf-8"))

    def raw(self, data):
        self.buf += data
        return self

    def done(self):
        return bytes(self.buf)


class Reader:
    """Decodes values under one profile; every length is checked against what is left."""

    def __init__(self, profile, data):
        self.p = profile
        self.data = data
        self.pos = 0

    def remaining(self):
        return len(self.data) - self.pos

    def take(self, n, what):
        if n > self.remaining():
            raise ProtocolError(f"{what}: needs {n} bytes, {self.remaining()} left")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def _unpack(self, fmt, what):
        size = struct.calcsize(fmt)
        return struct.unpack(self.p.order + fmt, self.take(size, what))[0]

    def u8(self, what="u8"):
        return self._unpack("B", what)

    def bool(self, what="bool"):
        b = self.u8(what)
        if b not in (0, 1):
            raise ProtocolError(f"{what}: bool byte 0x{b:02x} is neither 00 nor 01")
        return b == 1

    def u32(self, what="u32"):
        return self._unpack("I", what)

    def u64(self, what="u64"):
        return self._unpack("Q", what)

    def i64(self, what="i64"):
        return self._unpack("q", what)

    def long(self, what="Long"):
        return self._unpack("i" if self.p.word == 4 else "q", what)

    def bytes(self, what="Bytes"):
        n = self.u32(what + " length")
        return bytes(self.take(n, what))

    def string(self, what="String"):
        raw = self.bytes(what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError(f"{what}: invalid UTF-8 ({e})") from None

    def option(self, read_value, what="Option"):
        tag = self.u8(what + " tag")
        if tag == 0:
            return None
        if tag == 1:
            return read_value()
        raise ProtocolError(f"{what}: tag 0x{tag:02x} is neither 00 nor 01")

    def vec(self, read_item, what="Vec"):
        count = self.u32(what + " count")
        return [read_item() for _ in range(count)]

    def rest(self):
        return bytes(self.take(self.remaining(), "rest"))

    def end(self, what):
        if self.remaining():
            raise ProtocolError(f"{what}: {self.remaining()} trailing bytes")


# ---------------------------------------------------------------------------------------
# Messages (sections 3 and 4)
# ---------------------------------------------------------------------------------------


def encode_message(profile, call_id, procedure, body=b"", *, program=DEMO_PROGRAM,
                   version=DEMO_VERSION, deadline_ms=0, kind=KIND_CALL,
                   protocol_version=PROTOCOL_VERSION, reserved=b"\x00\x00", label=None):
    """The 36-byte header in `profile`'s representation, then the body.

    The keyword arguments beyond the header fields exist so checks can build messages
    that break one rule at a time.
    """
    w = Writer(profile)
    w.raw(MAGIC).raw(profile.label if label is None else label)
    w.u8(protocol_version).u8(kind).raw(reserved)
    w.u64(call_id).u32(program).u32(version).u32(procedure).u32(deadline_ms)
    return w.raw(body).done()


def remaining_ms(deadline):
    """Section 6: the remaining time, rounded up, never 0 (0 would mean no deadline)."""
    return max(1, math.ceil((deadline - time.monotonic()) * 1000))


class Answer:
    """A decoded reply or error, with its raw bytes for exact comparisons."""

    def __init__(self, raw):
        self.raw = raw
        if len(raw) < HEADER_LEN:
            raise ProtocolError(f"message of {len(raw)} bytes is shorter than the header")
        if raw[0:4] != MAGIC:
            raise ProtocolError(f"magic {raw[0:4].hex()} is not RPCL")
        self.profile = profile_from_label(raw[4:8])
        r = Reader(self.profile, raw)
        r.take(8, "magic and label")
        self.protocol_version = r.u8()
        self.kind = r.u8()
        self.reserved = bytes(r.take(2, "reserved"))
        self.call_id = r.u64()
        self.program = r.u32()
        self.version = r.u32()
        self.procedure = r.u32()
        self.deadline_ms = r.u32()
        self.body = bytes(raw[HEADER_LEN:])
        if self.protocol_version != PROTOCOL_VERSION:
            raise ProtocolError(f"protocol version {self.protocol_version}")
        if self.reserved != b"\x00\x00":
            raise ProtocolError(f"reserved bytes {self.reserved.hex()}")
        if self.kind not in (KIND_REPLY, KIND_ERROR):
            raise ProtocolError(f"kind {self.kind} is neither reply (2) nor error (3)")

    def reader(self):
        return Reader(self.profile, self.body)

    def fault(self):
        """Decodes an error body: u32 code, String message, detail = the rest."""
        if self.kind != KIND_ERROR:
            raise CheckFailed(f"expected an error, got a reply (body {self.body.hex()})")
        r = self.reader()
        return Fault(r.u32("fault code"), r.string("fault message"), r.rest(), self.profile)

    def __repr__(self):
        what = "reply" if self.kind == KIND_REPLY else repr(self.fault())
        return f"<{what} id={self.call_id} {self.profile}>"


class Fault:
    """A kind-3 answer's body."""

    def __init__(self, code, message, detail, profile):
        self.code, self.message, self.detail, self.profile = code, message, detail, profile

    def app_tag(self):
        """The demo service's application error: (tag, reader positioned after it)."""
        r = Reader(self.profile, self.detail)
        return r.u32("application error tag"), r

    def __repr__(self):
        return f"fault {self.code} {self.message!r} detail={self.detail.hex()}"


# ---------------------------------------------------------------------------------------
# Transports (sections 1, 5 and 8)
# ---------------------------------------------------------------------------------------


class Call:
    """One call this client sent: what it must find copied into the answer."""

    def __init__(self, profile, call_id, procedure, program=DEMO_PROGRAM, version=DEMO_VERSION):
        self.profile, self.call_id, self.procedure = profile, call_id, procedure
        self.program, self.version = program, version


class TcpClient:
    """One TCP connection; messages are framed with a 4-byte big-endian length."""

    def __init__(self, addr):
        self.sock = socket.create_connection(addr, timeout=IO_TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.next_id = 1  # section 5: "this client counts from 1"

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def fresh_id(self):
        call_id = self.next_id
        self.next_id += 1
        return call_id

    def send_frame(self, message):
        self.sock.sendall(struct.pack(">I", len(message)) + message)

    def send_call(self, profile, procedure, body=b"", deadline_ms=0, **fields):
        call = Call(profile, self.fresh_id(), procedure,
                    fields.get("program", DEMO_PROGRAM), fields.get("version", DEMO_VERSION))
        self.send_frame(encode_message(profile, call.call_id, procedure, body,
                                       deadline_ms=deadline_ms, **fields))
        return call

    def recv_exact(self, n, timeout=IO_TIMEOUT_S):
        self.sock.settimeout(timeout)
        chunks, got = [], 0
        while got < n:
            try:
                chunk = self.sock.recv(min(n - got, 1 << 20))
            except ConnectionResetError:
                raise ConnectionClosed("connection reset") from None
            if not chunk:
                raise ConnectionClosed(f"EOF with {n - got} of {n} bytes still expected")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def read_frame(self, timeout=IO_TIMEOUT_S):
        """The next frame's payload (raw bytes); the length is checked before reading it."""
        (length,) = struct.unpack(">I", self.recv_exact(4, timeout))
        if length > CLIENT_MAX_FRAME:
            raise ProtocolError(f"frame length {length} above this client's {CLIENT_MAX_FRAME}")
        return self.recv_exact(length, timeout)

    def read_answer(self, timeout=IO_TIMEOUT_S):
        return Answer(self.read_frame(timeout))

    def call(self, profile, procedure, body=b"", deadline_ms=0, **fields):
        """Sends one call and waits for its answer (nothing else may be outstanding)."""
        call = self.send_call(profile, procedure, body, deadline_ms, **fields)
        answer = self.read_answer()
        check_answer_matches(call, answer)
        return answer

    def closed_by_peer(self, timeout=IO_TIMEOUT_S):
        """True if the server closes the connection within `timeout` (extra bytes: False)."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


class UdpClient:
    """One UDP socket connected to the server: only its datagrams are received."""

    def __init__(self, addr):
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.connect(addr)
        # Section 8: ids start from the clock, so a restarted client does not collide
        # with its predecessor's cached calls.
        self.next_id = time.time_ns() & ((1 << 63) - 1)
        self.stray = []  # answers that arrived for calls nobody is waiting for yet

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def fresh_id(self):
        self.next_id += 1
        return self.next_id

    def send(self, datagram):
        self.sock.settimeout(IO_TIMEOUT_S)
        self.sock.send(datagram)

    def recv_answer(self, timeout):
        """The next valid answer within `timeout` seconds, or None."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(UDP_MAX_DATAGRAM + 1)
            except socket.timeout:
                return None
            except ConnectionRefusedError:
                raise ConnectionClosed("ICMP port unreachable: no server there") from None
            return Answer(data)

    def call(self, profile, procedure, body=b"", timeout_s=IO_TIMEOUT_S, call_id=None,
             **fields):
        """Sends a call, resends it unchanged but for the deadline with backoff, returns
        the answer or None when the deadline passes. Answers for other ids are kept."""
        call = Call(profile, call_id if call_id is not None else self.fresh_id(), procedure,
                    fields.get("program", DEMO_PROGRAM), fields.get("version", DEMO_VERSION))
        deadline = time.monotonic() + timeout_s
        backoff = UDP_BACKOFF_FIRST_S
        for i, answer in enumerate(self.stray):
            if answer.call_id == call.call_id:
                return self.stray.pop(i)
        while time.monotonic() < deadline:
            self.send(encode_message(profile, call.call_id, procedure, body,
                                     deadline_ms=remaining_ms(deadline), **fields))
            resend_at = min(deadline, time.monotonic() + backoff)
            while True:
                answer = self.recv_answer(resend_at - time.monotonic())
                if answer is None:
                    break
                if answer.call_id == call.call_id:
                    check_answer_matches(call, answer)
                    wait = busy_wait_s(answer)
                    if wait is None:
                        return answer
                    # Section 8: BUSY means "not run"; resend the same call later.
                    time.sleep(min(max(wait, backoff), max(0, deadline - time.monotonic())))
                    break
                self.stray.append(answer)
            backoff = min(backoff * 2, UDP_BACKOFF_MAX_S)
        return None


def busy_wait_s(answer):
    """Seconds a BUSY answer asks to wait, or None if the answer is not BUSY."""
    if answer.kind != KIND_ERROR or len(answer.body) < 4:
        return None
    r = Reader(answer.profile, answer.body)
    if r.u32() != BUSY:
        return None
    r.string("message")
    return r.u32("retry after") / 1000


def check_answer_matches(call, answer):
    """Section 3/4: an answer copies id, program, version and procedure, speaks the
    caller's representation, and carries deadline 0."""
    expect(answer.call_id == call.call_id, f"answer id {answer.call_id}, call id {call.call_id}")
    expect(answer.program == call.program,
           f"answer program 0x{answer.program:08x}, call 0x{call.program:08x}")
    expect(answer.version == call.version, f"answer version {answer.version}, call {call.version}")
    expect(answer.procedure == call.procedure,
           f"answer procedure {answer.procedure}, call {call.procedure}")
    expect(answer.profile.label == call.profile.label,
           f"answer label {answer.profile.label.hex()} differs from the call's "
           f"{call.profile.label.hex()}")
    expect(answer.deadline_ms == 0, f"answer deadline {answer.deadline_ms}, expected 0")


# ---------------------------------------------------------------------------------------
# Small helpers for checks
# ---------------------------------------------------------------------------------------


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


def expect_eq(got, want, what):
    if got != want:
        raise CheckFailed(f"{what}: got {got!r}, expected {want!r}")


def reply_value(answer, decode):
    """Decodes a kind-2 answer with `decode(reader)`, insisting on no trailing bytes."""
    if answer is None:
        raise CheckFailed("no answer")
    if answer.kind != KIND_REPLY:
        raise CheckFailed(f"expected a reply, got {answer.fault()!r}")
    r = answer.reader()
    value = decode(r)
    r.end("reply body")
    return value


def expect_fault(answer, code):
    if answer is None:
        raise CheckFailed(f"no answer (expected fault {code})")
    fault = answer.fault()
    expect_eq(fault.code, code, f"fault code (message {fault.message!r})")
    return fault


def expect_app_error(answer, tag):
    """A code-7 fault whose detail is the demo's application error `tag`; returns the
    reader positioned after the tag (for StoreFull / TooLong fields)."""
    fault = expect_fault(answer, APPLICATION)
    got, r = fault.app_tag()
    expect_eq(got, tag, f"application error tag (message {fault.message!r})")
    return fault, r


def hexdump_bytes(text):
    """Parses the `0000  00 11 ... |ascii|` dumps of PROTOCOL.md section 10."""
    out = bytearray()
    for line in text.strip().splitlines():
        line = line.split("|")[0]
        out += bytes.fromhex("".join(line.split()[1:]))
    return bytes(out)


def args(profile):
    return Writer(profile)


def long_pair(profile, a, b):
    return args(profile).long(a).long(b).done()


def i64_pair(profile, a, b):
    return args(profile).i64(a).i64(b).done()


# ---------------------------------------------------------------------------------------
# Golden bytes from PROTOCOL.md section 10 (call id 1, deadline 5000 ms, TCP framing)
# ---------------------------------------------------------------------------------------

DOC_ADD_CALL = {
    "be32": """
0000  00 00 00 2c 52 50 43 4c  4c 01 00 04 01 01 00 00
0010  00 00 00 00 00 00 00 01  20 00 74 70 00 00 00 01
0020  00 00 00 01 00 00 13 88  00 00 00 02 00 00 00 03
""",
    "le64": """
0000  00 00 00 34 52 50 43 4c  4c 01 01 08 01 01 00 00
0010  01 00 00 00 00 00 00 00  70 74 00 20 01 00 00 00
0020  01 00 00 00 88 13 00 00  02 00 00 00 00 00 00 00
0030  03 00 00 00 00 00 00 00
""",
}

DOC_ADD_REPLY = {
    "be32": """
0000  00 00 00 28 52 50 43 4c  4c 01 00 04 01 02 00 00
0010  00 00 00 00 00 00 00 01  20 00 74 70 00 00 00 01
0020  00 00 00 01 00 00 00 00  00 00 00 05
""",
    "le64": """
0000  00 00 00 2c 52 50 43 4c  4c 01 01 08 01 02 00 00
0010  01 00 00 00 00 00 00 00  70 74 00 20 01 00 00 00
0020  01 00 00 00 00 00 00 00  05 00 00 00 00 00 00 00
""",
}

DOC_DIVIDE_ERROR = {
    "be32": """
0000  00 00 00 40 52 50 43 4c  4c 01 00 04 01 03 00 00
0010  00 00 00 00 00 00 00 01  20 00 74 70 00 00 00 01
0020  00 00 00 02 00 00 00 00  00 00 00 07 00 00 00 10
0030  64 69 76 69 73 69 6f 6e  20 62 79 20 7a 65 72 6f
0040  00 00 00 01
""",
    "le64": """
0000  00 00 00 40 52 50 43 4c  4c 01 01 08 01 03 00 00
0010  01 00 00 00 00 00 00 00  70 74 00 20 01 00 00 00
0020  02 00 00 00 00 00 00 00  07 00 00 00 10 00 00 00
0030  64 69 76 69 73 69 6f 6e  20 62 79 20 7a 65 72 6f
0040  01 00 00 00
""",
}

DOC_VERSION_MISMATCH_BE32 = """
0000  00 00 00 6b 52 50 43 4c  4c 01 00 04 01 03 00 00
0010  00 00 00 00 00 00 00 01  20 00 74 70 00 00 00 02
0020  00 00 00 01 00 00 00 00  00 00 00 02 00 00 00 37
0030  70 72 6f 67 72 61 6d 20  30 78 32 30 30 30 37 34
0040  37 30 20 76 65 72 73 69  6f 6e 20 32 20 69 73 20
0050  6e 6f 74 20 73 65 72 76  65 64 3b 20 73 65 72 76
0060  65 64 3a 20 5b 31 5d 00  00 00 01 00 00 00 01
"""


def framed(message):
    return struct.pack(">I", len(message)) + message


# ---------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------


class Runner:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, check):
        try:
            check()
        except CheckFailed as e:
            self.fail(name, str(e))
        except (ProtocolError, EncodeError, ConnectionClosed) as e:
            self.fail(name, f"{type(e).__name__}: {e}")
        except socket.timeout:
            self.fail(name, f"timed out after {IO_TIMEOUT_S} s")
        except OSError as e:
            self.fail(name, f"socket error: {e}")
        else:
            self.passed += 1
            print(f"PASS {name}", flush=True)

    def fail(self, name, reason):
        self.failed += 1
        print(f"FAIL {name}: {reason}", flush=True)


def unique_key(profile, transport, what):
    return f"py-{transport}-{profile.name}-{os.getpid()}-{time.time_ns()}-{what}-clé"


class DemoChecks:
    """The checks both transports share. `self.call(profile, proc, body, **fields)` returns
    the answer (TCP: over a fresh connection; UDP: with retransmission)."""

    transport = "?"

    def call(self, profile, procedure, body=b"", **fields):
        raise NotImplementedError

    def checks(self, p):
        t = self.transport
        return [
            (f"{t} {p} add", lambda: self.add(p)),
            (f"{t} {p} add beyond 32 bits", lambda: self.add_beyond_32_bits(p)),
            (f"{t} {p} add overflow", lambda: self.add_overflow(p)),
            (f"{t} {p} divide", lambda: self.divide(p)),
            (f"{t} {p} divide by zero", lambda: self.divide_by_zero(p)),
            (f"{t} {p} divide overflow", lambda: self.divide_overflow(p)),
            (f"{t} {p} key-value put/get/delete", lambda: self.key_value(p)),
            (f"{t} {p} echo", lambda: self.echo(p)),
            (f"{t} {p} sleep", lambda: self.sleep(p)),
            (f"{t} {p} sleep too long", lambda: self.sleep_too_long(p)),
            (f"{t} {p} incr and overflow", lambda: self.incr(p)),
            (f"{t} {p} describe (procedure 0)", lambda: self.describe(p)),
            (f"{t} {p} version mismatch", lambda: self.version_mismatch(p)),
            (f"{t} {p} unknown procedure", lambda: self.unknown_procedure(p)),
            (f"{t} {p} unknown program", lambda: self.unknown_program(p)),
            (f"{t} {p} undecodable arguments", lambda: self.bad_arguments(p)),
        ]

    # -- calculator -------------------------------------------------------------------

    def add(self, p):
        for a, b, want in [(2, 3, 5), (-7, 3, -4), (I32[1], I32[0], -1)]:
            got = reply_value(self.call(p, PROC_ADD, long_pair(p, a, b)), lambda r: r.long())
            expect_eq(got, want, f"add({a}, {b})")

    def add_beyond_32_bits(self, p):
        """Section 9: a sum that does not fit 32 bits is UNREPRESENTABLE for a 32-bit
        caller, the plain sum for a 64-bit one."""
        for a, b in [(I32[1], 1), (I32[0], -1)]:
            answer = self.call(p, PROC_ADD, long_pair(p, a, b))
            if p.word == 4:
                fault = expect_fault(answer, UNREPRESENTABLE)
                expect_eq(fault.detail, b"", "UNREPRESENTABLE detail")
            else:
                expect_eq(reply_value(answer, lambda r: r.long()), a + b, f"add({a}, {b})")
        if p.word == 4:
            try:
                long_pair(p, 1 << 31, 0)
            except EncodeError:
                pass
            else:
                raise CheckFailed("the be32 encoder accepted a Long of 2^31")

    def add_overflow(self, p):
        lo, hi = I32 if p.word == 4 else I64
        if p.word == 8:
            expect_app_error(self.call(p, PROC_ADD, long_pair(p, hi, 1)), APP_OVERFLOW)
            expect_app_error(self.call(p, PROC_ADD, long_pair(p, lo, -1)), APP_OVERFLOW)
        else:
            # A 32-bit sum never overflows i64; the largest values still add up.
            expect_eq(reply_value(self.call(p, PROC_ADD, long_pair(p, hi, lo)),
                                  lambda r: r.long()), -1, "add(max, min)")

    def divide(self, p):
        cases = [(-7, 2, -3), (7, -2, -3), (1 << 40, 2, 1 << 39), (I64[0], 1, I64[0])]
        for a, b, want in cases:
            got = reply_value(self.call(p, PROC_DIVIDE, i64_pair(p, a, b)), lambda r: r.i64())
            expect_eq(got, want, f"divide({a}, {b})")

    def divide_by_zero(self, p):
        fault, r = expect_app_error(self.call(p, PROC_DIVIDE, i64_pair(p, 1, 0)),
                                    APP_DIVISION_BY_ZERO)
        r.end("DivisionByZero detail")
        expect_eq(fault.message, "division by zero", "fault message")

    def divide_overflow(self, p):
        _, r = expect_app_error(self.call(p, PROC_DIVIDE, i64_pair(p, I64[0], -1)), APP_OVERFLOW)
        r.end("Overflow detail")

    # -- key-value store --------------------------------------------------------------

    def key_value(self, p):
        key = unique_key(p, self.transport, "kv")
        opt_str = lambda r: r.option(r.string)  # noqa: E731
        key_arg = args(p).string(key).done()

        def put(value):
            return reply_value(self.call(p, PROC_PUT, args(p).string(key).string(value).done()),
                               opt_str)

        expect_eq(reply_value(self.call(p, PROC_GET, key_arg), opt_str), None, "get (new key)")
        expect_eq(put("first ✓"), None, "put (new key) old value")
        expect_eq(put(""), "first ✓", "put (again) old value")
        expect_eq(reply_value(self.call(p, PROC_GET, key_arg), opt_str), "", "get")
        expect_eq(put("second"), "", "put (third) old value")
        expect_eq(reply_value(self.call(p, PROC_GET, key_arg), opt_str), "second", "get")
        expect_eq(reply_value(self.call(p, PROC_DELETE, key_arg), lambda r: r.bool()), True,
                  "delete (present)")
        expect_eq(reply_value(self.call(p, PROC_DELETE, key_arg), lambda r: r.bool()), False,
                  "delete (absent)")
        expect_eq(reply_value(self.call(p, PROC_GET, key_arg), opt_str), None, "get (deleted)")

    # -- echo, sleep, incr --------------------------------------------------------------

    echo_sizes = (0, 1, 256 * 3)

    def echo(self, p):
        for n in self.echo_sizes:
            data = bytes(i % 251 for i in range(n))
            got = reply_value(self.call(p, PROC_ECHO, args(p).bytes(data).done()),
                              lambda r: r.bytes())
            expect(got == data, f"echo of {n} bytes came back as {len(got)} different bytes")

    def sleep(self, p):
        start = time.monotonic()
        got = reply_value(self.call(p, PROC_SLEEP, args(p).u32(50).done(), deadline_ms=3000),
                          lambda r: r.u32())
        expect_eq(got, 50, "sleep(50) result")
        expect(time.monotonic() - start >= 0.050, "sleep(50) answered in under 50 ms")

    def sleep_too_long(self, p):
        answer = self.call(p, PROC_SLEEP, args(p).u32(SLEEP_MAX_MS + 1).done(), deadline_ms=3000)
        _, r = expect_app_error(answer, APP_TOO_LONG)
        expect_eq(r.u32("TooLong max_ms"), SLEEP_MAX_MS, "TooLong max_ms")
        r.end("TooLong detail")

    def incr_value(self, p, by, **kw):
        return reply_value(self.call(p, PROC_INCR, args(p).u64(by).done(), **kw),
                           lambda r: r.u64())

    def incr(self, p):
        before = self.incr_value(p, 0)
        expect_eq(self.incr_value(p, 5), before + 5, "incr(5)")
        # The counter is now at least 5, so adding u64::MAX overflows.
        _, r = expect_app_error(self.call(p, PROC_INCR, args(p).u64(U64_MAX).done()),
                                APP_OVERFLOW)
        r.end("Overflow detail")
        expect_eq(self.incr_value(p, 0), before + 5, "counter after the failed incr")

    # -- introspection and faults -------------------------------------------------------

    def describe(self, p):
        def decode(r):
            name = r.string("service name")
            program, version = r.u32("program"), r.u32("version")
            procs = r.vec(lambda: (r.u32("number"), r.string("name"), r.string("signature")))
            return name, program, version, procs

        name, program, version, procs = reply_value(self.call(p, PROC_DESCRIBE), decode)
        expect(name != "", "empty service name")
        expect_eq(program, DEMO_PROGRAM, "described program")
        expect_eq(version, DEMO_VERSION, "described version")
        by_number = {number: (pname, sig) for number, pname, sig in procs}
        for number, pname in DEMO_PROCEDURES.items():
            expect(number in by_number, f"procedure {number} ({pname}) not described: {procs}")
            expect_eq(by_number[number][0], pname, f"name of procedure {number}")
            expect(by_number[number][1].startswith(pname + "("),
                   f"signature of {pname}: {by_number[number][1]!r}")
        expect("Long" in by_number[PROC_ADD][1], f"add signature {by_number[PROC_ADD][1]!r}")

    def version_mismatch(self, p):
        fault = expect_fault(self.call(p, PROC_ADD, long_pair(p, 2, 3), version=2),
                             VERSION_MISMATCH)
        r = Reader(fault.profile, fault.detail)
        served = r.vec(lambda: r.u32("served version"), "served versions")
        r.end("VERSION_MISMATCH detail")
        expect_eq(served, [DEMO_VERSION], "served versions")

    def unknown_procedure(self, p):
        fault = expect_fault(self.call(p, 99, b""), UNKNOWN_PROCEDURE)
        expect_eq(fault.detail, b"", "UNKNOWN_PROCEDURE detail")

    def unknown_program(self, p):
        fault = expect_fault(self.call(p, PROC_ADD, long_pair(p, 2, 3),
                                       program=DEMO_PROGRAM + 1), UNKNOWN_PROGRAM)
        expect_eq(fault.detail, b"", "UNKNOWN_PROGRAM detail")

    def bad_arguments(self, p):
        """Section 4: wrong length, bad UTF-8, trailing bytes: BAD_REQUEST on the call."""
        cases = [
            ("add with 3 bytes", PROC_ADD, b"\x00\x00\x01"),
            ("add with a trailing byte", PROC_ADD, long_pair(p, 2, 3) + b"\x00"),
            ("get with invalid UTF-8", PROC_GET, args(p).bytes(b"\xff\xfe").done()),
            ("echo with a lying length", PROC_ECHO, args(p).u32(1000).raw(b"abc").done()),
        ]
        for what, proc, body in cases:
            fault = expect_fault(self.call(p, proc, body), BAD_REQUEST)
            expect(fault.detail == b"", f"{what}: BAD_REQUEST detail {fault.detail.hex()}")


class TcpChecks(DemoChecks):
    transport = "tcp"

    def __init__(self, addr, max_frame=SERVER_MAX_FRAME, max_keys=SERVER_MAX_KEYS):
        self.addr = addr
        self.max_frame = max_frame
        self.max_keys = max_keys

    def call(self, profile, procedure, body=b"", **fields):
        with TcpClient(self.addr) as c:
            return c.call(profile, procedure, body, **fields)

    def connect(self):
        return TcpClient(self.addr)

    def checks(self, p):
        t = self.transport
        return super().checks(p) + [
            (f"{t} {p} echo of {self.big_echo_len()} bytes", lambda: self.big_echo(p)),
            (f"{t} {p} a message of exactly --max-frame bytes is served",
             lambda: self.largest_message(p)),
            (f"{t} {p} wire bytes of add(2, 3) as in PROTOCOL.md", lambda: self.doc_add(p)),
            (f"{t} {p} wire bytes of divide(1, 0) as in PROTOCOL.md", lambda: self.doc_divide(p)),
            (f"{t} {p} many calls on one connection", lambda: self.sequential(p)),
            (f"{t} {p} bad arguments keep the connection open", lambda: self.bad_args_open(p)),
            (f"{t} {p} three calls in flight, answered in completion order",
             lambda: self.in_flight(p)),
            (f"{t} {p} expired deadline gets no answer", lambda: self.deadline(p)),
        ] + ([(f"{t} {p} wire bytes of a version mismatch as in PROTOCOL.md",
               self.doc_version_mismatch)] if p is BE32 else []) + (
            [(f"{t} {p} a full store answers StoreFull with its limit",
              lambda: self.store_full(p))] if p is LE64 else [])

    def big_echo_len(self):
        return min(200_000, self.max_frame - HEADER_LEN - 4)

    def big_echo(self, p):
        """Many TCP segments each way: the framing must reassemble them."""
        data = os.urandom(self.big_echo_len())
        got = reply_value(self.call(p, PROC_ECHO, args(p).bytes(data).done()), lambda r: r.bytes())
        expect(got == data, f"{len(data)}-byte echo came back different")

    def largest_message(self, p):
        """Section 1: the limit is "per message", the length the frame declares; a message
        of exactly that many bytes is fine (only one above it is TOO_LARGE)."""
        data = bytes(range(256)) * ((self.max_frame - HEADER_LEN - 4) // 256 + 1)
        data = data[:self.max_frame - HEADER_LEN - 4]
        with self.connect() as c:
            call = c.send_call(p, PROC_ECHO, args(p).bytes(data).done())
            answer = c.read_answer()
            check_answer_matches(call, answer)
            expect_eq(len(answer.raw), self.max_frame, "reply message length")
            expect(reply_value(answer, lambda r: r.bytes()) == data, "echo came back different")

    def exact_exchange(self, call_bytes, want_answer, what):
        with self.connect() as c:
            c.sock.sendall(call_bytes)
            payload = c.read_frame()
            got = framed(payload)
            expect(got == want_answer,
                   f"{what}: server answered\n  {got.hex(' ')}\nPROTOCOL.md shows\n"
                   f"  {want_answer.hex(' ')}")

    def doc_add(self, p):
        want_call = hexdump_bytes(DOC_ADD_CALL[p.name])
        mine = framed(encode_message(p, 1, PROC_ADD, long_pair(p, 2, 3), deadline_ms=5000))
        expect(mine == want_call, f"this encoder wrote {mine.hex(' ')}, the document shows "
                                  f"{want_call.hex(' ')}")
        self.exact_exchange(mine, hexdump_bytes(DOC_ADD_REPLY[p.name]), "add(2, 3)")

    def doc_divide(self, p):
        call = framed(encode_message(p, 1, PROC_DIVIDE, i64_pair(p, 1, 0), deadline_ms=5000))
        self.exact_exchange(call, hexdump_bytes(DOC_DIVIDE_ERROR[p.name]), "divide(1, 0)")

    def doc_version_mismatch(self):
        call = framed(encode_message(BE32, 1, PROC_ADD, long_pair(BE32, 2, 3), version=2,
                                     deadline_ms=5000))
        self.exact_exchange(call, hexdump_bytes(DOC_VERSION_MISMATCH_BE32), "version mismatch")

    def sequential(self, p):
        with self.connect() as c:
            for i in range(50):
                got = reply_value(c.call(p, PROC_ADD, long_pair(p, i, i)), lambda r: r.long())
                expect_eq(got, 2 * i, f"add({i}, {i})")

    def mixed_representations(self):
        """Section 2: every message carries its own label, so one connection may carry calls
        from both representations; each answer comes back in its call's."""
        with self.connect() as c:
            for i in range(4):
                for p in PROFILES:
                    got = reply_value(c.call(p, PROC_ADD, long_pair(p, -i, 1000)),
                                      lambda r: r.long())
                    expect_eq(got, 1000 - i, f"{p} add(-{i}, 1000)")

    def bad_args_open(self, p):
        with self.connect() as c:
            expect_fault(c.call(p, PROC_ADD, b"\x01"), BAD_REQUEST)
            got = reply_value(c.call(p, PROC_ADD, long_pair(p, 20, 22)), lambda r: r.long())
            expect_eq(got, 42, "add after BAD_REQUEST on the same connection")

    def in_flight(self, p):
        """Section 5: calls of one connection run concurrently; replies come in completion
        order and are matched by call id."""
        with self.connect() as c:
            slow = Call(p, c.fresh_id(), PROC_SLEEP)
            medium = Call(p, c.fresh_id(), PROC_SLEEP)
            fast = Call(p, c.fresh_id(), PROC_ECHO)
            batch = b"".join(framed(encode_message(p, call.call_id, call.procedure, body,
                                                   deadline_ms=5000))
                             for call, body in [(slow, args(p).u32(800).done()),
                                                (medium, args(p).u32(400).done()),
                                                (fast, args(p).bytes(b"fast").done())])
            c.sock.sendall(batch)  # all three leave in one write
            pending = {call.call_id: call for call in (slow, medium, fast)}
            order, values = [], {}
            while pending:
                answer = c.read_answer()
                call = pending.pop(answer.call_id, None)
                expect(call is not None, f"answer for unexpected id {answer.call_id}")
                check_answer_matches(call, answer)
                decode = (lambda r: r.bytes()) if call is fast else (lambda r: r.u32())
                values[call.call_id] = reply_value(answer, decode)
                order.append(call.call_id)
            expect_eq(values, {slow.call_id: 800, medium.call_id: 400, fast.call_id: b"fast"},
                      "values by call id")
            # Run one after the other, in call order, they would answer slow, medium, fast.
            expect_eq(order, [fast.call_id, medium.call_id, slow.call_id],
                      "answer order by call id (completion order)")

    def store_full(self, p):
        """Section 9: put fails with StoreFull (tag 3, then u32 limit) once the store holds
        its maximum of keys. Puts new keys, a window at a time, until that happens (at most
        max_keys + 1 of them), then deletes them all again."""
        prefix = unique_key(p, "tcp", "full")
        window = 100
        mine, full = [], None
        with self.connect() as c:
            while full is None and len(mine) <= self.max_keys:
                batch = []
                for _ in range(window):
                    key = f"{prefix}-{len(mine) + len(batch)}"
                    batch.append((c.send_call(p, PROC_PUT, args(p).string(key).string("v").done()),
                                  key))
                by_id = {call.call_id: (call, key) for call, key in batch}
                while by_id:  # answers come in completion order: match by id
                    answer = c.read_answer()
                    call, key = by_id.pop(answer.call_id)
                    check_answer_matches(call, answer)
                    if answer.kind == KIND_REPLY:
                        expect_eq(reply_value(answer, lambda r: r.option(r.string)), None,
                                  f"old value of new key {key}")
                        mine.append(key)
                    else:
                        full = answer
            try:
                expect(full is not None, f"{len(mine)} new keys stored, no StoreFull")
                _, r = expect_app_error(full, APP_STORE_FULL)
                expect_eq(r.u32("StoreFull limit"), self.max_keys, "StoreFull limit")
                r.end("StoreFull detail")
            finally:
                for i in range(0, len(mine), window):
                    calls = [c.send_call(p, PROC_DELETE, args(p).string(key).done())
                             for key in mine[i:i + window]]
                    for _ in calls:
                        expect_eq(reply_value(c.read_answer(), lambda r: r.bool()), True,
                                  "delete of a key this check stored")
            key = f"{prefix}-after"
            expect_eq(reply_value(c.call(p, PROC_PUT, args(p).string(key).string("v").done()),
                                  lambda r: r.option(r.string)), None, "put after emptying")
            c.call(p, PROC_DELETE, args(p).string(key).done())

    def deadline(self, p):
        """Section 6: a call whose deadline passes while it runs is cancelled, no answer."""
        with self.connect() as c:
            doomed = c.send_call(p, PROC_SLEEP, args(p).u32(1000).done(), deadline_ms=200)
            try:
                answer = c.read_answer(timeout=1.5)
            except socket.timeout:
                answer = None
            if answer is not None:
                raise CheckFailed(f"got {answer!r} for sleep(1000) with a 200 ms deadline "
                                  f"(id {doomed.call_id})")
            # The connection is still fine, and nothing more arrives for the doomed call.
            got = reply_value(c.call(p, PROC_ECHO, args(p).bytes(b"after").done()),
                              lambda r: r.bytes())
            expect_eq(got, b"after", "echo after the expired call")
            got = reply_value(c.call(p, PROC_SLEEP, args(p).u32(30).done(), deadline_ms=2000),
                              lambda r: r.u32())
            expect_eq(got, 30, "sleep(30) within a 2000 ms deadline")

    # -- malformed input, each on its own connection ------------------------------------

    def malformed_checks(self):
        bad_label = bytes([0x4C, 0x01, 0x02, 0x04])
        return [
            ("tcp unreadable label: BAD_REQUEST on id 0 in be64, then close",
             lambda: self.connection_error(
                 framed(encode_message(BE32, 7, PROC_ADD, long_pair(BE32, 1, 2),
                                       label=bad_label)), BAD_REQUEST, BE64)),
            ("tcp wrong magic: BAD_REQUEST on id 0, then close",
             lambda: self.connection_error(
                 framed(b"XPCL" + encode_message(LE64, 7, PROC_ADD, long_pair(LE64, 1, 2))[4:]),
                 BAD_REQUEST, None)),
            ("tcp frame shorter than a header: BAD_REQUEST on id 0, then close",
             lambda: self.connection_error(framed(b"RPCL\x4c\x01\x01\x08\x01\x01"),
                                           BAD_REQUEST, None)),
            ("tcp empty frame: BAD_REQUEST on id 0 in be64, then close",
             lambda: self.connection_error(framed(b""), BAD_REQUEST, BE64)),
            ("tcp frame cut inside the label: BAD_REQUEST on id 0 in be64, then close",
             lambda: self.connection_error(framed(b"RPCL\x4c\x01"), BAD_REQUEST, BE64)),
            ("tcp frame length above the limit: TOO_LARGE on id 0 in be64, then close",
             lambda: self.connection_error(struct.pack(">I", self.max_frame + 1), TOO_LARGE,
                                           BE64)),
            ("tcp frame length 0xffffffff: TOO_LARGE on id 0, then close",
             lambda: self.connection_error(b"\xff\xff\xff\xff", TOO_LARGE, BE64)),
            ("tcp a reply sent to the server is rejected",
             lambda: self.rejected_header(dict(kind=KIND_REPLY))),
            ("tcp unknown protocol version is rejected",
             lambda: self.rejected_header(dict(protocol_version=2))),
            ("tcp nonzero reserved bytes are rejected",
             lambda: self.rejected_header(dict(reserved=b"\x00\x01"))),
            ("tcp reset in the middle of a frame", self.mid_frame_close),
            ("tcp be32 and le64 calls on one connection", self.mixed_representations),
        ]

    def expect_still_serving(self):
        """The server must keep serving others: a fresh connection gets a correct answer."""
        for p in PROFILES:
            got = reply_value(self.call(p, PROC_ADD, long_pair(p, 40, 2)), lambda r: r.long())
            expect_eq(got, 42, f"add on a fresh {p} connection afterwards")

    def connection_error(self, to_send, code, label_profile):
        """Section 5: a connection-level error is answered with call id 0, program, version
        and procedure 0 (be64 if the label was unreadable), then the server closes."""
        with self.connect() as c:
            c.sock.sendall(to_send)
            answer = c.read_answer()
            fault = expect_fault(answer, code)
            expect_eq(answer.call_id, 0, "call id of a connection-level error")
            expect_eq((answer.program, answer.version, answer.procedure), (0, 0, 0),
                      "program, version, procedure")
            expect_eq(answer.deadline_ms, 0, "deadline")
            if label_profile is not None:
                expect_eq(answer.profile.label.hex(), label_profile.label.hex(), "answer label")
            expect(fault.detail == b"", f"detail {fault.detail.hex()}")
            expect(c.closed_by_peer(), "the server did not close the connection")
        self.expect_still_serving()

    def rejected_header(self, fields):
        """A readable header that breaks a rule. PROTOCOL.md lists "not a call" under
        BAD_REQUEST and says receivers reject a nonzero reserved field, but not whether
        this is a connection-level error (id 0, then close) or one on the call's own id
        (connection stays open). Either is accepted if it is consistent."""
        with self.connect() as c:
            c.send_frame(encode_message(LE64, 9, PROC_ADD, long_pair(LE64, 1, 2), **fields))
            answer = c.read_answer()
            expect_fault(answer, BAD_REQUEST)
            if answer.call_id == 0:
                expect(c.closed_by_peer(), "id-0 error but the connection stays open")
            else:
                expect_eq(answer.call_id, 9, "call id of the error")
                got = reply_value(c.call(LE64, PROC_ADD, long_pair(LE64, 1, 2)),
                                  lambda r: r.long())
                expect_eq(got, 3, "add on the same connection afterwards")
        self.expect_still_serving()

    def mid_frame_close(self):
        with self.connect() as c:
            whole = framed(encode_message(BE32, 1, PROC_ECHO, args(BE32).bytes(b"x" * 100).done()))
            c.sock.sendall(whole[:50])
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.expect_still_serving()


class UdpChecks(DemoChecks):
    transport = "udp"
    echo_sizes = (0, 1, 256 * 3, UDP_MAX_DATAGRAM - HEADER_LEN - 4)

    def __init__(self, addr):
        self.addr = addr
        self.client = UdpClient(addr)

    def call(self, profile, procedure, body=b"", **fields):
        deadline_ms = fields.pop("deadline_ms", None)
        timeout_s = deadline_ms / 1000 if deadline_ms else IO_TIMEOUT_S
        answer = self.client.call(profile, procedure, body, timeout_s=timeout_s, **fields)
        if answer is None:
            raise CheckFailed(f"no answer within {timeout_s} s despite retransmissions")
        return answer

    def describe(self, p):
        """Section 8: the description is larger than 3x the 36-byte call, so over UDP it
        is refused with a short TOO_LARGE instead (no reflection amplification)."""
        call = encode_message(p, self.client.fresh_id(), PROC_DESCRIBE, b"", deadline_ms=5000)
        self.client.send(call)
        answer = self.client.recv_answer(IO_TIMEOUT_S)
        expect(answer is not None, "no answer to describe")
        expect_fault(answer, TOO_LARGE)
        expect(len(answer.raw) <= UDP_AMPLIFICATION_LIMIT * len(call),
               f"answer of {len(answer.raw)} bytes to a call of {len(call)}")

    def checks(self, p):
        t = self.transport
        return super().checks(p) + [
            (f"{t} {p} three calls in flight on one socket", lambda: self.in_flight(p)),
            (f"{t} {p} a resent call is not executed again", lambda: self.at_most_once(p)),
            (f"{t} {p} a call resent while it runs is ignored",
             lambda: self.resent_while_running(p)),
            (f"{t} {p} expired deadline gets no answer", lambda: self.deadline(p)),
        ]

    def in_flight(self, p):
        with UdpClient(self.addr) as c:
            calls = [(Call(p, c.fresh_id(), PROC_SLEEP), args(p).u32(ms).done(), ms)
                     for ms in (600, 300, 0)]
            for call, body, _ in calls:
                c.send(encode_message(p, call.call_id, call.procedure, body, deadline_ms=5000))
            pending = {call.call_id: (call, ms) for call, _, ms in calls}
            order = []
            while pending:
                answer = c.recv_answer(IO_TIMEOUT_S)
                expect(answer is not None, f"no answer for ids {sorted(pending)}")
                if answer.call_id not in pending:
                    continue  # a duplicate; section 8 says to ignore it
                call, ms = pending.pop(answer.call_id)
                check_answer_matches(call, answer)
                expect_eq(reply_value(answer, lambda r: r.u32()), ms, f"sleep({ms})")
                order.append(ms)
            # Run one after the other, in call order, they would answer 600, 300, 0.
            expect_eq(order, [0, 300, 600], "answers (sleep ms) in arrival order")

    def at_most_once(self, p):
        """Section 8: resent while running is ignored, resent after finishing gets the stored
        answer; either way the procedure runs once."""
        with UdpClient(self.addr) as c:
            def incr(by, call_id=None):
                return reply_value(c.call(p, PROC_INCR, args(p).u64(by).done(), call_id=call_id),
                                   lambda r: r.u64())

            before = incr(0)
            call_id = c.fresh_id()
            message = encode_message(p, call_id, PROC_INCR, args(p).u64(1).done(),
                                     deadline_ms=5000)
            for _ in range(3):  # the same datagram three times, as a lossy network might
                c.send(message)
            totals = []
            wait = IO_TIMEOUT_S  # for the first answer; then a little longer for duplicates
            while True:
                answer = c.recv_answer(wait)
                if answer is None:
                    break
                if answer.call_id == call_id:
                    totals.append(reply_value(answer, lambda r: r.u64()))
                    wait = 0.3
            expect(totals, "no answer to incr(1) sent three times")
            expect(all(t == before + 1 for t in totals),
                   f"answers {totals}, expected each to be {before + 1}")
            # Resent after it finished: the stored answer again, not a second execution.
            expect_eq(incr(1, call_id=call_id), before + 1, "incr(1) resent after finishing")
            expect_eq(incr(0), before + 1, "counter after the duplicates")

    def resent_while_running(self, p):
        """Section 8: resends of a call still running are ignored: one answer, not four.

        The call sleeps 1000 ms; three copies leave at once and a fourth 200 ms later, so
        all of them reach the server long before the first copy has finished (a resend
        after it finished would rightly get the stored answer again)."""
        with UdpClient(self.addr) as c:
            call = Call(p, c.fresh_id(), PROC_SLEEP)
            message = encode_message(p, call.call_id, PROC_SLEEP, args(p).u32(1000).done(),
                                     deadline_ms=5000)
            start = time.monotonic()
            for _ in range(3):
                c.send(message)
            time.sleep(0.2)
            c.send(message)
            last_sent_ms = round((time.monotonic() - start) * 1000)
            answers_ms = []
            end = start + 2.0
            while (answer := c.recv_answer(end - time.monotonic())) is not None:
                check_answer_matches(call, answer)
                expect_eq(reply_value(answer, lambda r: r.u32()), 1000, "sleep(1000) result")
                answers_ms.append(round((time.monotonic() - start) * 1000))
            expect(len(answers_ms) == 1,
                   f"sleep(1000) sent 3 times at 0 ms and once at {last_sent_ms} ms was answered "
                   f"{len(answers_ms)} times, at {answers_ms} ms (expected once)")

    def deadline(self, p):
        with UdpClient(self.addr) as c:
            start = time.monotonic()
            answer = c.call(p, PROC_SLEEP, args(p).u32(1000).done(), timeout_s=0.2)
            expect(answer is None, f"got {answer!r} for sleep(1000) with a 200 ms deadline")
            late = c.recv_answer(1.5 - (time.monotonic() - start))
            expect(late is None, f"a late answer arrived: {late!r}")
            got = reply_value(c.call(p, PROC_ECHO, args(p).bytes(b"after").done()),
                              lambda r: r.bytes())
            expect_eq(got, b"after", "echo after the expired call")

    def malformed_checks(self):
        def dropped(datagram):
            def check():
                with UdpClient(self.addr) as c:
                    c.send(datagram)
                    answer = c.recv_answer(0.3)
                    expect(answer is None, f"the server answered: {answer!r}")
                    got = reply_value(c.call(LE64, PROC_ADD, long_pair(LE64, 40, 2)),
                                      lambda r: r.long())
                    expect_eq(got, 42, "add afterwards from the same socket")
            return check

        reply = encode_message(BE32, 5, PROC_ADD, long_pair(BE32, 1, 2), kind=KIND_REPLY)
        bad_label = encode_message(BE32, 5, PROC_ADD, long_pair(BE32, 1, 2),
                                   label=bytes([0x4C, 0x01, 0x00, 0x05]))
        return [
            ("udp garbage datagram is dropped", dropped(b"hello, are you a server?")),
            ("udp empty datagram is dropped", dropped(b"")),
            ("udp datagram with a bad label is dropped", dropped(bad_label)),
            ("udp reply sent to the server is dropped", dropped(reply)),
            ("udp datagram with protocol version 2 is dropped",
             dropped(encode_message(LE64, 5, PROC_ADD, long_pair(LE64, 1, 2),
                                    protocol_version=2))),
            ("udp datagram with nonzero reserved bytes is dropped",
             dropped(encode_message(LE64, 5, PROC_ADD, long_pair(LE64, 1, 2),
                                    reserved=b"\x01\x00"))),
            ("udp datagram shorter than a header is dropped",
             dropped(encode_message(LE64, 5, PROC_ADD)[:30])),
            ("udp TCP-framed call (length prefix) is dropped",
             dropped(framed(encode_message(BE32, 5, PROC_ADD, long_pair(BE32, 1, 2))))),
        ]


def parse_addr(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("addr", help="HOST:PORT of an rpc-lite demo server")
    parser.add_argument("--transport", choices=["tcp", "udp"], default="tcp")
    parser.add_argument("--max-frame", type=int, default=SERVER_MAX_FRAME,
                        help="the server's --max-frame (default %(default)s)")
    parser.add_argument("--max-keys", type=int, default=SERVER_MAX_KEYS,
                        help="the server's --max-keys (default %(default)s)")
    opts = parser.parse_args()
    try:
        addr = parse_addr(opts.addr)
    except ValueError as e:
        parser.error(str(e))

    runner = Runner()
    try:
        suite = (TcpChecks(addr, opts.max_frame, opts.max_keys) if opts.transport == "tcp"
                 else UdpChecks(addr))
    except OSError as e:
        print(f"error: cannot reach {opts.addr}: {e}", file=sys.stderr)
        return 1
    for profile in PROFILES:
        for name, check in suite.checks(profile):
            runner.run(name, check)
    for name, check in suite.malformed_checks():
        runner.run(name, check)
    print(f"{runner.passed} passed, {runner.failed} failed", flush=True)
    return 0 if runner.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
