// A right TCP client in Java: every line on a connection of its own, in
// UTF-8 with a newline, the reply read as a line; the port from argv[0].
import java.io.*;
import java.net.*;
import java.nio.charset.StandardCharsets;

class TcpLines {
  public static void main(String[] args) throws Exception {
    BufferedReader keyboard = new BufferedReader(
        new InputStreamReader(System.in, StandardCharsets.UTF_8));
    PrintStream out = new PrintStream(System.out, true, "UTF-8");
    String sentence;
    while ((sentence = keyboard.readLine()) != null) {
      try (Socket socket = new Socket("localhost", Integer.parseInt(args[0]))) {
        Writer toServer = new OutputStreamWriter(
            socket.getOutputStream(), StandardCharsets.UTF_8);
        toServer.write(sentence + "\n");
        toServer.flush();
        BufferedReader fromServer = new BufferedReader(new InputStreamReader(
            socket.getInputStream(), StandardCharsets.UTF_8));
        out.println(fromServer.readLine());
      }
    }
  }
}
