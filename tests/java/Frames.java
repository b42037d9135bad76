// Writes three length-prefixed frames to stdout exactly as a Java program of the tutorial era
// would: DataOutputStream.writeInt(length) (4 bytes, big-endian), then the bytes.
// Run by tests/tests/java.rs as `java Frames.java` (single-file source launch, Java 11+).
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

public class Frames {
    public static void main(String[] args) throws IOException {
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(System.out));
        for (String text : new String[] {"hello", "", "caf\u00e9 au lait"}) {
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            out.writeInt(bytes.length);
            out.write(bytes);
        }
        out.flush();
    }
}
