import java.io.BufferedReader;
import java.io.DataOutputStream;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;

/**
 * Behaves as the textbook's Java companion TCPServer does, for tests.
 *
 * <p>Usage: javac -d /tmp/j tests/peers/TCPServer.java
 * && java -cp /tmp/j TCPServer [PORT] (PORT defaults to 0, a free one).
 *
 * <p>One thread: accept a connection, read ONE line, write it back
 * upper-cased with a newline through DataOutputStream.writeBytes, which
 * keeps only the low byte of each char (text beyond Latin-1 comes back
 * garbled; the line is decoded with the platform's default charset). The
 * connection is never closed. A client that closes without sending a line
 * makes readLine() return null, and toUpperCase() then throws a
 * NullPointerException that ends the program. Bound to 127.0.0.1 only;
 * stdout carries the ready line and nothing else.
 */
public class TCPServer {
    public static void main(String[] args) throws Exception {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 0;
        ServerSocket welcomeSocket =
            new ServerSocket(port, 50, InetAddress.getByName("127.0.0.1"));
        System.out.println("The server is ready to receive on 127.0.0.1:"
            + welcomeSocket.getLocalPort());
        System.out.flush();

        while (true) {
            Socket connectionSocket = welcomeSocket.accept();
            BufferedReader fromClient = new BufferedReader(
                new InputStreamReader(connectionSocket.getInputStream()));
            DataOutputStream toClient =
                new DataOutputStream(connectionSocket.getOutputStream());

            String clientSentence = fromClient.readLine();
            System.err.println("Received: " + clientSentence);
            String capitalizedSentence = clientSentence.toUpperCase() + '\n';
            toClient.writeBytes(capitalizedSentence);
            // connectionSocket is left open, as in the book.
        }
    }
}
