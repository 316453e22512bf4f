import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;

/**
 * A right Java UDP server with the companion's 1,024-byte buffer: the
 * reply is made from the datagram's own length (getLength()), so a longer
 * datagram comes back cut to its first 1,024 bytes, as Python's
 * recvfrom(2048) cuts at 2,048. Bound to 127.0.0.1 on a free port.
 */
public class UDPServerLength {
    public static void main(String[] args) throws Exception {
        DatagramSocket serverSocket =
            new DatagramSocket(0, InetAddress.getByName("127.0.0.1"));
        System.out.println("The server is ready to receive on 127.0.0.1:"
            + serverSocket.getLocalPort());
        System.out.flush();
        byte[] receiveData = new byte[1024];
        while (true) {
            DatagramPacket receivePacket =
                new DatagramPacket(receiveData, receiveData.length);
            serverSocket.receive(receivePacket);
            String sentence = new String(receivePacket.getData(), 0,
                receivePacket.getLength(), "UTF-8");
            byte[] sendData = sentence.toUpperCase().getBytes("UTF-8");
            serverSocket.send(new DatagramPacket(sendData, sendData.length,
                receivePacket.getAddress(), receivePacket.getPort()));
        }
    }
}
