// The zoo's JVM app: GET / answers a few lines computed with the JDK from fixed
// inputs (no time, pid or host name), so every run answers the same bytes.
import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;
import java.util.TreeMap;
import java.util.zip.CRC32;

public class Hello {
    static String answer() throws Exception {
        byte[] text = "whittle zoo".getBytes(StandardCharsets.UTF_8);
        CRC32 crc = new CRC32();
        crc.update(text);
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text));
        TreeMap<String, Integer> lengths = new TreeMap<>();
        for (String name : Arrays.asList("nginx", "postgres", "node", "java", "php", "shell")) {
            lengths.put(name, name.length());
        }
        StringBuilder out = new StringBuilder();
        out.append("app: zoo-java\n");
        out.append(String.format(Locale.ROOT, "java: %d%n", Runtime.version().feature()));
        out.append(String.format(Locale.ROOT, "crc32: %08x%n", crc.getValue()));
        out.append("sha256: ").append(sha).append('\n');
        out.append(String.format(Locale.ROOT, "pi: %.6f%n", Math.PI));
        out.append("lengths: ").append(lengths).append('\n');
        return out.toString();
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "18084"));
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 16);
        server.createContext("/", exchange -> {
            byte[] body;
            int status = 200;
            try {
                body = answer().getBytes(StandardCharsets.UTF_8);
            } catch (Exception e) {
                status = 500;
                body = (e + "\n").getBytes(StandardCharsets.UTF_8);
            }
            exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
            exchange.sendResponseHeaders(status, body.length);
            try (OutputStream os = exchange.getResponseBody()) {
                os.write(body);
            }
        });
        server.start();
        System.out.println("zoo-java listening on 127.0.0.1:" + port);
    }
}
