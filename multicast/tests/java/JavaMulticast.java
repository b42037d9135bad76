// A Java peer for tests/java_peer.rs: the classic java.net.MulticastSocket, on loopback.
//   java JavaMulticast listen GROUP     -> prints "ready PORT", then "java got: TEXT"
//   java JavaMulticast send GROUP PORT TEXT
import java.net.*;
import java.nio.charset.StandardCharsets;

public class JavaMulticast {
    public static void main(String[] args) throws Exception {
        InetAddress group = InetAddress.getByName(args[1]);
        NetworkInterface lo = NetworkInterface.getByInetAddress(InetAddress.getLoopbackAddress());
        if (args[0].equals("listen")) {
            MulticastSocket socket = new MulticastSocket(0); // any free port
            socket.joinGroup(new InetSocketAddress(group, 0), lo);
            System.out.println("ready " + socket.getLocalPort());
            byte[] buf = new byte[1500];
            DatagramPacket packet = new DatagramPacket(buf, buf.length);
            socket.setSoTimeout(5000);
            socket.receive(packet);
            String text = new String(packet.getData(), 0, packet.getLength(), StandardCharsets.UTF_8);
            System.out.println("java got: " + text);
        } else {
            MulticastSocket socket = new MulticastSocket();
            socket.setNetworkInterface(lo);
            socket.setTimeToLive(1);
            socket.setLoopbackMode(false); // Java's inverted flag: false means loopback ON
            byte[] bytes = args[3].getBytes(StandardCharsets.UTF_8);
            socket.send(new DatagramPacket(bytes, bytes.length, group, Integer.parseInt(args[2])));
            System.out.println("java sent");
        }
    }
}
