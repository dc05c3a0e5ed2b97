package io.vtrack.agent.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class QuantitiesTest {
  @ParameterizedTest
  @CsvSource({"500ms,500", "10s,10000", "5m,300000", "1h,3600000", "1m30s,90000", "1.5s,1500"})
  void parsesDurations(String text, long millis) {
    assertThat(Quantities.parseDuration(text)).isEqualTo(Duration.ofMillis(millis));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "10", "ten seconds", "10x", "s", "-5s", "10s junk"})
  void rejectsBadDurations(String text) {
    assertThatThrownBy(() -> Quantities.parseDuration(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("duration");
  }

  @ParameterizedTest
  @CsvSource({"512Mi,536870912", "1Gi,1073741824", "1048576,1048576", "10M,10000000", "4Ki,4096"})
  void parsesSizes(String text, long bytes) {
    assertThat(Quantities.parseSize(text)).isEqualTo(bytes);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "12 Mi", "1Zi", "lots", "-1"})
  void rejectsBadSizes(String text) {
    assertThatThrownBy(() -> Quantities.parseSize(text)).hasMessageContaining("size");
  }

  @ParameterizedTest
  @CsvSource({"10%,0.10", "0%,0.0", "12.5%,0.125", "200%,2.0"})
  void parsesPercentages(String text, double fraction) {
    assertThat(Quantities.parsePercent(text)).isEqualTo(fraction);
  }

  @ParameterizedTest
  @ValueSource(strings = {"10", "%", "ten%", "0.1"})
  void rejectsBadPercentages(String text) {
    assertThatThrownBy(() -> Quantities.parsePercent(text)).hasMessageContaining("percentage");
  }

  @ParameterizedTest
  @ValueSource(strings = {"500ms", "10s", "5m", "1h"})
  void formatsWhatItParses(String text) {
    assertThat(Quantities.formatDuration(Quantities.parseDuration(text))).isEqualTo(text);
  }
}
