package io.vtrack.agent.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonPathTest {
  private final Object doc =
      Map.of("data", List.of(Map.of("id", 1, "tags", List.of("a", "b"))), "version", "2.0.0");

  @Test
  void readsNestedKeysAndIndexes() {
    assertThat(JsonPath.get(doc, "data[0].id")).isEqualTo(1);
    assertThat(JsonPath.get(doc, "data[0].tags[1]")).isEqualTo("b");
    assertThat(JsonPath.get(doc, "version")).isEqualTo("2.0.0");
  }

  @Test
  void reportsMissingPaths() {
    assertThat(JsonPath.get(doc, "data[1].id")).isSameAs(JsonPath.missing());
    assertThat(JsonPath.get(doc, "data.id")).isSameAs(JsonPath.missing());
    assertThat(JsonPath.exists(doc, "nope")).isFalse();
  }

  @Test
  void validatesSyntax() {
    assertThat(JsonPath.isValid("a.b[0].c")).isTrue();
    assertThat(JsonPath.isValid("[2]")).isTrue();
    assertThat(JsonPath.isValid("a..b")).isFalse();
    assertThat(JsonPath.isValid("a[x]")).isFalse();
    assertThat(JsonPath.isValid("")).isFalse();
    // An index no list can have is a malformed path, not an exception out of validation.
    assertThat(JsonPath.isValid("data[99999999999].id")).isFalse();
  }
}
