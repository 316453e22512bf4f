import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;

/**
 * Behaves as the textbook's Java companion UDPServer does: one 1,024-byte
 * receive buffer made once, and the reply made from the whole buffer
 * (new String(receivePacket.getData())), so each reply is 1,024 bytes:
 * the datagram upper-cased, then NULs, or what an earlier, longer datagram
 * left in the buffer. Bound to 127.0.0.1 on a free port.
 */
public class UDPServerCompanion {
    public static void main(String[] args) throws Exception {
        DatagramSocket serverSocket =
            new DatagramSocket(0, InetAddress.getByName("127.0.0.1"));
        System.out.println("The server is ready to receive on 127.0.0.1:"
            + serverSocket.getLocalPort());
        System.out.flush();
        byte[] receiveData = new byte[1024];
        byte[] sendData;
        while (true) {
            DatagramPacket receivePacket =
                new DatagramPacket(receiveData, receiveData.length);
            serverSocket.receive(receivePacket);
            String sentence = new String(receivePacket.getData(), "UTF-8");
            String capitalizedSentence = sentence.toUpperCase();
            sendData = capitalizedSentence.getBytes("UTF-8");
            serverSocket.send(new DatagramPacket(sendData, sendData.length,
                receivePacket.getAddress(), receivePacket.getPort()));
        }
    }
}
