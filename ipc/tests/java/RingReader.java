// Attaches to an ipc shared-memory ring with FileChannel.map and consumes COUNT messages with the
// compare-and-swap protocol of ipc/PROTOCOL.md, from which it was written alone.
//
//     java RingReader.java NAME COUNT    # one message per line, then "read COUNT"
//
// Source-launch mode, JDK 11 or newer, no dependencies. It is a full consumer (it takes part in
// the compare-and-swap on head), so other consumers may stay attached. A refused segment or a
// ring that stays empty for TIMEOUT_MS ends it with one line on stderr and exit status 1; a
// usage mistake with status 2.

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

public class RingReader {
    static final int MAGIC = 0x52435049; // the bytes "IPCR" read as a little-endian u32
    static final int VERSION = 1;
    static final int HEADER_BYTES = 256;
    static final long MAX_SEGMENT_BYTES = 256L * 1024 * 1024;
    static final int MAX_CAPACITY = 65536;
    static final int MAX_SLOT_BYTES = 1024 * 1024;
    // Byte offsets of the header fields.
    static final int CAPACITY = 0x08, SLOT_BYTES = 0x0c, TAIL = 0x40, HEAD = 0x80;
    static final int SPACES = 0xc4;
    static final long TIMEOUT_MS = 10_000;

    /** 32-bit little-endian views of the mapping, with plain, acquire/release and CAS access. */
    static final VarHandle INT =
            MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;

        Refused(String why) {
            super(why);
        }
    }

    public static void main(String[] args) {
        if (args.length != 2 || !args[1].matches("[0-9]{1,9}")) {
            System.err.println("RingReader: error: usage: java RingReader.java NAME COUNT");
            System.exit(2);
        }
        try {
            consume(Path.of("/dev/shm", args[0]), Integer.parseInt(args[1]));
        } catch (Refused | IOException e) {
            System.err.println("RingReader: error: " + args[0] + ": " + e.getMessage());
            System.exit(1);
        }
    }

    static void consume(Path path, int count) throws IOException, Refused {
        long size = checkFile(path);
        try (FileChannel channel =
                FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            // Read-write: a consumer stores head, seq and spaces.
            MappedByteBuffer ring = channel.map(FileChannel.MapMode.READ_WRITE, 0, size);
            int[] geometry = checkHeader(ring, size);
            for (int i = 0; i < count; i++) {
                System.out.println(pop(ring, geometry[0], geometry[1]));
            }
            System.out.println("read " + count);
        }
    }

    /** Checks 1 and 2: owner, mode, size, before mapping. */
    static long checkFile(Path path) throws IOException, Refused {
        if (!Files.exists(path)) {
            throw new Refused("no such segment (" + path + ")");
        }
        int owner = (Integer) Files.getAttribute(path, "unix:uid");
        int me = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        int mode = (Integer) Files.getAttribute(path, "unix:mode") & 0777;
        if (owner != me || (mode & 0077) != 0) {
            throw new Refused(String.format(
                    "not private (owner uid %d, mode %04o): refused", owner, mode));
        }
        long size = Files.size(path);
        if (size < HEADER_BYTES || size > MAX_SEGMENT_BYTES || size % 4 != 0) {
            throw new Refused(size + " bytes is not a ring's size: refused");
        }
        return size;
    }

    /** Checks 3 to 6 on the mapped header; returns {capacity, slot_bytes}. */
    static int[] checkHeader(MappedByteBuffer ring, long size) throws Refused {
        int magic = (int) INT.getAcquire(ring, 0);
        int version = (int) INT.get(ring, 4);
        if (magic != MAGIC) {
            throw new Refused(String.format("wrong magic 0x%08x (want 0x%08x): refused", magic, MAGIC));
        }
        if (version != VERSION) {
            throw new Refused("version " + Integer.toUnsignedString(version) + " (want 1): refused");
        }
        int capacity = (int) INT.get(ring, CAPACITY);
        int slotBytes = (int) INT.get(ring, SLOT_BYTES);
        if (capacity < 2 || capacity > MAX_CAPACITY || Integer.bitCount(capacity) != 1) {
            throw new Refused("capacity " + Integer.toUnsignedString(capacity) + ": refused");
        }
        if (slotBytes < 4 || slotBytes > MAX_SLOT_BYTES || slotBytes % 4 != 0) {
            throw new Refused("slot_bytes " + Integer.toUnsignedString(slotBytes) + ": refused");
        }
        long claimed = HEADER_BYTES + (long) capacity * (8 + slotBytes);
        if (claimed != size) {
            throw new Refused("header says " + claimed + " bytes, the segment has " + size + ": refused");
        }
        long used = Integer.toUnsignedLong((int) INT.get(ring, TAIL) - (int) INT.get(ring, HEAD));
        if (used > capacity) {
            throw new Refused("counters out of range (tail - head = " + used + "): refused");
        }
        return new int[] {capacity, slotBytes};
    }

    /** One message: the consumer's compare-and-swap on head, waiting while the ring is empty. */
    static String pop(MappedByteBuffer ring, int capacity, int slotBytes) throws Refused {
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        while (true) {
            int pos = (int) INT.getVolatile(ring, HEAD);
            int slot = HEADER_BYTES + (pos & (capacity - 1)) * (8 + slotBytes);
            int seq = (int) INT.getAcquire(ring, slot);
            int diff = seq - (pos + 1); // signed 32-bit difference
            if (diff == 0) {
                if (INT.compareAndSet(ring, HEAD, pos, pos + 1)) {
                    return take(ring, slot, pos, capacity, slotBytes);
                }
            } else if (diff < 0) {
                // Empty, or its producer is still writing: poll (waking by futex is optional).
                if (System.currentTimeMillis() > deadline) {
                    throw new Refused("no message for " + TIMEOUT_MS + " ms");
                }
                Thread.onSpinWait();
                Thread.yield();
            }
            // diff > 0: another consumer took this position; reread head.
        }
    }

    /** Copies the slot we own, then frees it for the producer's next lap. */
    static String take(MappedByteBuffer ring, int slot, int pos, int capacity, int slotBytes) {
        int len = (int) INT.get(ring, slot + 4);
        String text;
        if (Integer.compareUnsigned(len, slotBytes) > 0) {
            text = "corrupt slot at position " + Integer.toUnsignedString(pos)
                    + ": length " + Integer.toUnsignedString(len) + " (released, not read)";
        } else {
            byte[] payload = new byte[len];
            java.nio.ByteBuffer view = ring.duplicate(); // absolute bulk get is JDK 13+
            view.position(slot + 8);
            view.get(payload);
            text = new String(payload, StandardCharsets.UTF_8);
        }
        INT.setRelease(ring, slot, pos + capacity);
        INT.getAndAdd(ring, SPACES, 1);
        return text;
    }
}
