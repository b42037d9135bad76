"""Attach to an ipc shared-memory ring with Python's multiprocessing.shared_memory and consume
every published message, written from ipc/PROTOCOL.md alone.

    python3 ring_reader.py NAME     # prints one message per line, then "drained N"

Python has no compare-and-swap, so this reader must be the ONLY consumer attached (PROTOCOL.md,
"A consumer without compare-and-swap"). Producers may keep running.

It makes no futex calls: a producer asleep on a full ring is not woken by this reader and looks
again by itself within 100 ms (PROTOCOL.md, "Waking sleepers": after freeing slots a waker
would need a full fence, then read producers_waiting, and only if it is non-zero bump `spaces`
and call FUTEX_WAKE; plain Python has neither the fence nor the system call).
"""
import struct
import sys
from multiprocessing import resource_tracker, shared_memory

MAGIC = 0x52435049          # b"IPCR" read as a little-endian u32
VERSION = 1
HEADER_BYTES = 256
MAX_CAPACITY = 65536
MAX_SLOT_BYTES = 1024 * 1024
W_CAPACITY, W_SLOT_BYTES, W_TAIL, W_HEAD = 2, 3, 16, 32
MASK32 = 0xFFFFFFFF


def word(buf, index):
    return struct.unpack_from("<I", buf, index * 4)[0]


def put(buf, index, value):
    struct.pack_into("<I", buf, index * 4, value & MASK32)


def check(buf, size):
    if size < HEADER_BYTES:
        raise SystemExit(f"refused: {size} bytes is smaller than the header")
    if word(buf, 0) != MAGIC or word(buf, 1) != VERSION:
        raise SystemExit("refused: wrong magic or version")
    capacity, slot_bytes = word(buf, W_CAPACITY), word(buf, W_SLOT_BYTES)
    if capacity < 2 or capacity & (capacity - 1) or capacity > MAX_CAPACITY:
        raise SystemExit(f"refused: bad capacity {capacity}")
    if slot_bytes == 0 or slot_bytes % 4 or slot_bytes > MAX_SLOT_BYTES:
        raise SystemExit(f"refused: bad slot size {slot_bytes}")
    if HEADER_BYTES + capacity * (8 + slot_bytes) != size:
        raise SystemExit("refused: header does not match the segment size")
    if (word(buf, W_TAIL) - word(buf, W_HEAD)) & MASK32 > capacity:
        raise SystemExit("refused: counters out of range")
    return capacity, slot_bytes


def drain(buf, capacity, slot_bytes):
    head = word(buf, W_HEAD)
    count = 0
    while True:
        start = (HEADER_BYTES + (head & (capacity - 1)) * (8 + slot_bytes)) // 4
        if word(buf, start) != (head + 1) & MASK32:
            return count                      # empty, or its producer is still writing
        length = word(buf, start + 1)
        if length > slot_bytes:
            raise SystemExit(f"corrupt slot: length {length}")
        offset = (start + 2) * 4
        print(bytes(buf[offset:offset + length]).decode("utf-8", "replace"))
        put(buf, start, head + capacity)      # free the slot for the producer's next lap
        head = (head + 1) & MASK32
        put(buf, W_HEAD, head)
        count += 1


def main():
    shm = shared_memory.SharedMemory(name=sys.argv[1])
    # Python 3.11 would unlink the segment at exit as if it had created it; we only attached.
    resource_tracker.unregister(shm._name, "shared_memory")
    try:
        capacity, slot_bytes = check(shm.buf, shm.size)
        print(f"drained {drain(shm.buf, capacity, slot_bytes)}")
    finally:
        shm.close()


if __name__ == "__main__":
    main()
