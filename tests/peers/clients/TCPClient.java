// The Java companion's TCPClient, as it behaves: writeBytes(sentence + '\n')
// (one byte per character) and readLine(); the port from argv[0].
import java.io.*;
import java.net.*;

class TCPClient {
  public static void main(String argv[]) throws Exception {
    String sentence;
    String modifiedSentence;
    BufferedReader inFromUser =
        new BufferedReader(new InputStreamReader(System.in));
    Socket clientSocket = new Socket("localhost", Integer.parseInt(argv[0]));
    DataOutputStream outToServer =
        new DataOutputStream(clientSocket.getOutputStream());
    BufferedReader inFromServer = new BufferedReader(
        new InputStreamReader(clientSocket.getInputStream()));
    sentence = inFromUser.readLine();
    outToServer.writeBytes(sentence + '\n');
    modifiedSentence = inFromServer.readLine();
    System.out.println("FROM SERVER: " + modifiedSentence);
    clientSocket.close();
  }
}
