import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
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
 * <p>Built with {@code npm run build:java}; the compiled class is committed because a machine may
 * have only a JRE, and test/reliability/exposure.test.ts checks that it matches this source.
 */
public final class LoopbackDynamoDbLocal {
  private static final String LOOPBACK = "127.0.0.1";

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
    proxy.start();
    if (!server.isStarted()) {
      // start() prints why (a port in use) and stops the server; an exit code says it failed.
      System.exit(1);
    }
  }
}
