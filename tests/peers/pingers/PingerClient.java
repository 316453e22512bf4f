// A correct UDP Pinger client in Java: ten pings "Ping SEQ TIME" (TIME in
// ms since 1970, System.currentTimeMillis()), a 1 s timeout for each, a
// reply that is not this ping's skipped, RTTs in ms, then the statistics.
//
// Usage: javac PingerClient.java && java PingerClient PORT
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

public class PingerClient {
    public static void main(String[] args) throws Exception {
        InetAddress server = InetAddress.getByName("localhost");
        int port = Integer.parseInt(args[0]);
        DatagramSocket socket = new DatagramSocket();
        long min = Long.MAX_VALUE, max = 0, sum = 0;
        int received = 0;
        for (int seq = 1; seq <= 10; seq++) {
            long sent = System.currentTimeMillis();
            byte[] data = ("Ping " + seq + " " + sent).getBytes(StandardCharsets.US_ASCII);
            socket.send(new DatagramPacket(data, data.length, server, port));
            String reply = null;
            try {
                while (reply == null) {
                    long left = 1000 - (System.currentTimeMillis() - sent);
                    if (left <= 0) throw new SocketTimeoutException();
                    socket.setSoTimeout((int) left);
                    DatagramPacket packet = new DatagramPacket(new byte[1024], 1024);
                    socket.receive(packet);
                    String text = new String(packet.getData(), 0, packet.getLength(), StandardCharsets.US_ASCII);
                    if (text.startsWith("PING " + seq + " ")) reply = text;
                }
                long rtt = System.currentTimeMillis() - sent;
                received++;
                sum += rtt;
                min = Math.min(min, rtt);
                max = Math.max(max, rtt);
                System.out.println("Reply: " + reply + " RTT=" + rtt + " ms");
            } catch (SocketTimeoutException e) {
                System.out.println("Request timed out");
            }
        }
        socket.close();
        if (received > 0) {
            System.out.printf("RTT min/avg/max = %d/%.1f/%d ms%n", min, (double) sum / received, max);
        }
        System.out.printf("Packet loss: %d%%%n", (10 - received) * 10);
    }
}
