package io.vtrack.agent.source;

import io.vtrack.agent.model.SpecError;
import io.vtrack.agent.store.DeploymentRepository.DeploymentRow;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * At startup, the deployments the state store knows that no source gave. Only a source that
 * answered without a deployment removes it (its deletion policy runs). One that has not answered
 * yet (a git server or API server down after a power cut), or that agent.yaml no longer lists (a
 * hand, or a file cut short), removes nothing: the deployment is held as an invalid document naming
 * why (Stalled, what runs is left as it is), until that source answers — its own documents then
 * replace the placeholder — or comes back into agent.yaml.
 */
public final class UnsourcedDeployments {
  /** The registry's source of deployments whose source agent.yaml does not list. */
  public static final String UNCONFIGURED = "unconfigured";

  private static final String LEFT =
      "its document left its source while the agent was stopped: its deletionPolicy runs";

  private UnsourcedDeployments() {}

  /**
   * @param removed deployments whose source answered without them, as placeholders to show while
   *     their deletion policy runs
   * @param held placeholders by the source id to register them under
   */
  public record Decision(List<DesiredDocument> removed, Map<String, List<DesiredDocument>> held) {
    public List<String> removedNames() {
      return removed.stream().map(DesiredDocument::name).toList();
    }
  }

  /**
   * @param known the store's deployments
   * @param registered names some source gave
   * @param answered each configured source's id, and whether it answered its first read
   */
  public static Decision decide(
      List<DeploymentRow> known, Set<String> registered, Map<String, Boolean> answered) {
    List<DesiredDocument> removed = new ArrayList<>();
    Map<String, List<DesiredDocument>> held = new LinkedHashMap<>();
    for (DeploymentRow row : known) {
      if (registered.contains(row.name())) {
        continue;
      }
      SourceRef ref = sourceOf(row);
      List<String> ids =
          ref == null || ref.sourceId() == null ? List.of() : configured(ref.sourceId(), answered);
      String id = null;
      for (String candidate : ids) {
        if (id == null || (answered.get(id) && !answered.get(candidate))) {
          id = candidate;
        }
      }
      if (ref == null || ref.sourceId() == null) {
        // Never recorded where it came from: removed when every source answered, as before.
        if (!answered.containsValue(false)) {
          removed.add(placeholder(row, null, LEFT));
        }
      } else if (id == null) {
        held.computeIfAbsent(UNCONFIGURED, k -> new ArrayList<>())
            .add(
                placeholder(
                    row,
                    ref,
                    "its source "
                        + ref.sourceId().replaceFirst("\\[\\d+]", "")
                        + " is not in agent.yaml any more: what runs is left as it is. Put the"
                        + " source back to manage it again (a document removed from its source"
                        + " then follows its deletionPolicy)"));
      } else if (!answered.get(id)) {
        held.computeIfAbsent(id, k -> new ArrayList<>())
            .add(
                placeholder(
                    row,
                    ref,
                    "its source "
                        + id
                        + " has not answered since the agent started: what runs is left as it is"
                        + " until it does"));
      } else {
        removed.add(placeholder(row, ref, LEFT));
      }
    }
    return new Decision(removed, held);
  }

  /** A source's id without its place in agent.yaml: reordering sources changes no deployment. */
  static String key(String sourceId) {
    return sourceId.replaceFirst("^(\\w+)\\[\\d+]", "$1");
  }

  /**
   * The configured sources a recorded source id names: the one with the same key, or for an id that
   * is a bare kind ("kubernetes": resources record only that) every source of that kind.
   */
  private static List<String> configured(String recorded, Map<String, Boolean> answered) {
    List<String> out = new ArrayList<>();
    boolean bareKind = recorded.matches("\\w+");
    for (String id : answered.keySet()) {
      if (bareKind ? key(id).startsWith(recorded + ":") : key(id).equals(key(recorded))) {
        out.add(id);
      }
    }
    return out;
  }

  private static SourceRef sourceOf(DeploymentRow row) {
    if (row.source() == null) {
      return null;
    }
    try {
      return DocumentReader.CANONICAL.readValue(row.source(), SourceRef.class);
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static DesiredDocument placeholder(DeploymentRow row, SourceRef ref, String why) {
    return new DesiredDocument(
        row.name(), null, List.of(new SpecError("", null, why)), ref, row.generation(), null);
  }
}
