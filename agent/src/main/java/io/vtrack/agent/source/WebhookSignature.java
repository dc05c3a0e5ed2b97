package io.vtrack.agent.source;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** GitHub's {@code X-Hub-Signature-256}: {@code sha256=<hex HMAC-SHA256 of the raw body>}. */
public final class WebhookSignature {
  private WebhookSignature() {}

  public static String sign(String secret, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      return "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** Constant-time comparison of the header against the expected signature. */
  public static boolean valid(String secret, byte[] body, String header) {
    if (header == null || secret == null || secret.isEmpty()) {
      return false;
    }
    byte[] expected = sign(secret, body).getBytes(StandardCharsets.UTF_8);
    return MessageDigest.isEqual(expected, header.trim().getBytes(StandardCharsets.UTF_8));
  }
}
