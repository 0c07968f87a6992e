import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Starts DynamoDB Local listening on 127.0.0.1 only. DynamoDB Local has no bind option: its proxy
 * builds a Jetty {@code Server(port)}, which listens on every interface, and it answers anyone
 * without checking a signature, so the LAN and every container on this machine (through the
 * docker bridge) could read and rewrite Berth's table. This takes the same command line as
 * DynamoDB Local's own main ({@code -port}, {@code -dbPath}, {@code -sharedDb}, ...), builds the
 * proxy with DynamoDB Local's own code, sets its connectors' host before anything listens, and
 * starts it. Telemetry is not configured, so none is sent (Berth runs air-gapped too).
 *
 * <p>Loopback is not enough on its own: a task with {@code networkMode: host} shares this
 * machine's 127.0.0.1. So every request must also be signed with the access key id Berth chose for
 * this store (the environment variable {@code BERTH_DYNAMODB_ACCESS_KEY_ID}: the environment of a
 * process is readable by its owner only, its command line by everyone). DynamoDB Local checks no
 * signature; the key id is a shared secret over loopback, compared in constant time, and a request
 * without it is answered as DynamoDB answers an unknown key.
 *
 * <p>Built with {@code npm run build:java}; the compiled class is committed because a machine may
 * have only a JRE, and test/reliability/exposure.test.ts checks that it matches this source.
 */
public final class LoopbackDynamoDbLocal {
  private static final String LOOPBACK = "127.0.0.1";

  /** Printed once this JVM listens; local/dynamodb.ts waits for it. */
  static final String READY = "berth: DynamoDB Local listening";

  private LoopbackDynamoDbLocal() {}

  public static void main(String[] args) throws Exception {
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    // The Jetty server is a private final field with no getter: reflection is the only way in.
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    int bound = 0;
    for (Connector connector : server.getConnectors()) {
      if (connector instanceof ServerConnector) {
        ((ServerConnector) connector).setHost(LOOPBACK);
        bound++;
      }
    }
    // Listening on every interface is what this class exists to prevent: never start if any
    // connector could not be restricted (a future DynamoDB Local built differently).
    if (bound == 0 || bound != server.getConnectors().length) {
      System.err.println("berth: DynamoDB Local's connectors could not be bound to " + LOOPBACK);
      System.exit(2);
    }
    String accessKeyId = System.getenv("BERTH_DYNAMODB_ACCESS_KEY_ID");
    if (accessKeyId == null || accessKeyId.isEmpty()) {
      System.err.println("berth: BERTH_DYNAMODB_ACCESS_KEY_ID is not set; refusing to serve unauthenticated");
      System.exit(2);
    }
    server.setHandler(new RequireAccessKey(server.getHandler(), accessKeyId));
    proxy.start();
    if (!server.isStarted()) {
      // start() prints why (a port in use) and stops the server; an exit code says it failed.
      System.exit(1);
    }
    // Berth sends no request (each carries the access key id) before this line: until then the
    // port may still be another process's.
    System.out.println(READY);
    System.out.flush();
  }

  /** Answers only requests whose SigV4 credential names the store's access key id. */
  static final class RequireAccessKey extends Handler.Wrapper {
    private static final Pattern CREDENTIAL = Pattern.compile("Credential=([^/,\\s]*)/");
    private static final byte[] REFUSAL =
        ("{\"__type\":\"com.amazonaws.dynamodb.v20120810#UnrecognizedClientException\","
                + "\"message\":\"The security token included in the request is invalid.\"}")
            .getBytes(StandardCharsets.UTF_8);
    private final byte[] expected;

    RequireAccessKey(Handler next, String accessKeyId) {
      super(next);
      this.expected = digest(accessKeyId);
    }

    private static byte[] digest(String text) {
      try {
        return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
      String authorization = request.getHeaders().get("Authorization");
      Matcher matcher = authorization == null ? null : CREDENTIAL.matcher(authorization);
      // Digests of equal length, compared whole: the time taken says nothing about the key.
      if (matcher != null && matcher.find() && MessageDigest.isEqual(expected, digest(matcher.group(1)))) {
        return super.handle(request, response, callback);
      }
      response.setStatus(400);
      response.getHeaders().put("Content-Type", "application/x-amz-json-1.0");
      response.write(true, ByteBuffer.wrap(REFUSAL), callback);
      return true;
    }
  }
}
