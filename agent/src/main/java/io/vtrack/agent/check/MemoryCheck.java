package io.vtrack.agent.check;

import io.vertx.core.WorkerExecutor;
import io.vtrack.agent.model.CheckSpec;
import io.vtrack.agent.model.Quantities;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToLongFunction;

/**
 * Resident memory of a service's whole process group, against an absolute {@code max} and, during
 * verification, against the last healthy commit's baseline by {@code maxIncrease}.
 */
final class MemoryCheck extends BlockingCheck implements Baselined {
  private final ToLongFunction<String> residentBytes;
  private final Double baselineBytes;
  private final boolean verifying;
  private final List<Double> seen = new ArrayList<>();

  MemoryCheck(
      CheckSpec spec,
      WorkerExecutor pool,
      ToLongFunction<String> residentBytes,
      Double baselineBytes,
      boolean verifying) {
    super(spec, pool);
    this.residentBytes = residentBytes;
    this.baselineBytes = baselineBytes;
    this.verifying = verifying;
  }

  @Override
  public synchronized Double baselineValue() {
    return seen.isEmpty() ? null : LatencyCheck.percentile(seen, 50);
  }

  @Override
  protected CheckResult check(long start) {
    CheckSpec.Memory m = spec.memory();
    long rss = residentBytes.applyAsLong(m.service());
    if (rss < 0) {
      return result(CheckStatus.Failing, null, "service " + m.service() + " is not running", start)
          .as(Failure.NotReady);
    }
    synchronized (this) {
      seen.add((double) rss);
    }
    String value = Quantities.formatSize(rss - rss % 1024);
    String human = (rss >> 20) + "Mi";
    if (m.max() != null && rss > m.max().bytes()) {
      return result(
          CheckStatus.Failing, value, "resident " + human + " above max " + m.max().text(), start);
    }
    if (verifying && m.maxIncrease() != null && baselineBytes != null) {
      double limit = baselineBytes * (1 + m.maxIncrease().fraction());
      String vs = " vs baseline " + ((long) (baselineBytes / (1 << 20))) + "Mi";
      if (rss > limit) {
        return result(
            CheckStatus.Failing,
            value,
            "resident " + human + vs + ": above +" + m.maxIncrease().text(),
            start);
      }
      return result(CheckStatus.Passing, value, "resident " + human + vs, start);
    }
    return result(CheckStatus.Passing, value, "resident " + human, start);
  }
}
