package io.vtrack.agent.source;

import io.vtrack.agent.model.SpecError;
import io.vtrack.agent.model.VTrackDeployment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The documents addressed to this agent, from every source. A document is for this agent when it
 * has no {@code vtrack.io/agent} label or the label equals the agent's name. Two documents with one
 * name are both reported as duplicates. Confined to the event loop.
 */
public final class DesiredStateRegistry {
  private final String agentName;
  private final Map<String, List<DesiredDocument>> bySource = new LinkedHashMap<>();
  private final Map<String, List<String>> unattributed = new HashMap<>();
  private final Map<String, Set<String>> elsewhereBySource = new HashMap<>();
  private final Map<String, Entry> leaving = new HashMap<>();

  public DesiredStateRegistry(String agentName) {
    this.agentName = agentName;
  }

  /** What one name resolves to: the document, or all documents claiming it when duplicated. */
  public record Entry(String name, DesiredDocument document, List<DesiredDocument> duplicates) {
    public boolean duplicated() {
      return duplicates.size() > 1;
    }
  }

  /**
   * Replaces the documents of a source; returns every name whose entry may have changed. A file
   * that yields a document no deployment can be attributed to (empty, truncated, not YAML, no name)
   * is never a removal: each deployment that file held before and does not name now stays, as an
   * invalid document naming the file, until the file is readable again or really gone.
   */
  public Set<String> update(String sourceId, List<DesiredDocument> docs) {
    List<DesiredDocument> previous = bySource.getOrDefault(sourceId, List.of());
    Set<String> before = names(previous);
    List<DesiredDocument> mine = new ArrayList<>();
    List<String> orphans = new ArrayList<>();
    Map<String, List<String>> unreadable = new LinkedHashMap<>();
    for (DesiredDocument d : docs) {
      if (d.name() == null || d.document() == null) {
        unreadable
            .computeIfAbsent(d.source().file(), f -> new ArrayList<>())
            .add(String.valueOf(d.errors()));
      }
      String label = d.agentLabel();
      if (label != null && !label.equals(agentName)) {
        continue;
      }
      if (d.name() == null) {
        orphans.add(d.source().where() + ": " + d.errors());
        continue;
      }
      mine.add(d);
    }
    Set<String> present = names(mine);
    for (DesiredDocument old : previous) {
      List<String> why = unreadable.get(old.source().file());
      if (why != null && !present.contains(old.name())) {
        mine.add(keptUnreadable(old, why));
        present.add(old.name());
      }
    }
    bySource.put(sourceId, List.copyOf(mine));
    unattributed.put(sourceId, List.copyOf(orphans));
    if (!sourceId.equals(UnsourcedDeployments.UNCONFIGURED)) {
      // A deployment held because its source left agent.yaml is given again: that placeholder
      // goes (a source listed again comes back under a new id).
      List<DesiredDocument> held = bySource.get(UnsourcedDeployments.UNCONFIGURED);
      if (held != null) {
        bySource.put(
            UnsourcedDeployments.UNCONFIGURED,
            held.stream().filter(d -> !present.contains(d.name())).toList());
      }
    }
    Set<String> changed = new TreeSet<>(before);
    changed.addAll(present);
    for (String name : changed) {
      if (get(name) != null) {
        leaving.remove(name);
      } else {
        for (DesiredDocument d : previous) {
          if (name.equals(d.name())) {
            leaving.put(name, new Entry(name, d, List.of(d)));
          }
        }
      }
    }
    return changed;
  }

  /**
   * A deployment whose document left every source while its deletion policy runs (the API still
   * shows it meanwhile), or null.
   */
  public Entry leaving(String name) {
    return leaving.get(name);
  }

  /**
   * Shows {@code gone}, a deployment no source gives any more, as {@link #leaving} until its
   * deletion policy has run (at startup: the store knew it, its source answered without it).
   */
  public void leave(DesiredDocument gone) {
    if (get(gone.name()) == null) {
      leaving.put(gone.name(), new Entry(gone.name(), gone, List.of(gone)));
    }
  }

  /** The names of {@link #leaving} deployments. */
  public Set<String> leavingNames() {
    return new TreeSet<>(leaving.keySet());
  }

  /** The deletion policy of a {@link #leaving} deployment has run (or was not needed). */
  public void left(String name) {
    leaving.remove(name);
  }

  /** The deployment {@code old} described, held while its file cannot be read. */
  private static DesiredDocument keptUnreadable(DesiredDocument old, List<String> why) {
    String what = why.size() == 1 ? why.get(0) : why.toString();
    return new DesiredDocument(
        old.name(),
        null,
        List.of(
            new SpecError(
                "",
                null,
                "cannot be read any more ("
                    + what
                    + "); what runs is left as it is until the file is fixed or removed")),
        old.source(),
        old.generation(),
        old.effectiveRepoUrl());
  }

  /**
   * Names addressed to this agent that another agent acts on now (it holds their Lease), as a
   * source reports them: when one leaves the registry it is forgotten, never treated as removed.
   */
  public Set<String> setHeldElsewhere(String sourceId, Set<String> names) {
    Set<String> before = elsewhereBySource.getOrDefault(sourceId, Set.of());
    elsewhereBySource.put(sourceId, Set.copyOf(names));
    Set<String> changed = new TreeSet<>(before);
    changed.addAll(names);
    return changed;
  }

  /** Whether another agent acts on {@code name} (and this one must leave what runs alone). */
  public boolean heldElsewhere(String name) {
    for (Set<String> s : elsewhereBySource.values()) {
      if (s.contains(name)) {
        return true;
      }
    }
    return false;
  }

  private static Set<String> names(List<DesiredDocument> docs) {
    Set<String> out = new HashSet<>();
    for (DesiredDocument d : docs) {
      out.add(d.name());
    }
    return out;
  }

  public Entry get(String name) {
    List<DesiredDocument> all = new ArrayList<>();
    for (List<DesiredDocument> docs : bySource.values()) {
      for (DesiredDocument d : docs) {
        if (name.equals(d.name())) {
          all.add(d);
        }
      }
    }
    if (all.isEmpty()) {
      return null;
    }
    return new Entry(name, all.get(0), List.copyOf(all));
  }

  public Set<String> names() {
    Set<String> out = new TreeSet<>();
    for (List<DesiredDocument> docs : bySource.values()) {
      out.addAll(names(docs));
    }
    return out;
  }

  /** Problems with documents that could not be attributed to any name. */
  public List<String> unattributedErrors() {
    List<String> out = new ArrayList<>();
    unattributed.values().forEach(out::addAll);
    return out;
  }

  /** Repository URLs of every valid document, for fetching. */
  public Set<String> appRepositories() {
    Set<String> out = new TreeSet<>();
    for (List<DesiredDocument> docs : bySource.values()) {
      for (DesiredDocument d : docs) {
        if (d.effectiveRepoUrl() != null) {
          out.add(d.effectiveRepoUrl());
        }
      }
    }
    return out;
  }

  public boolean addressedHere(VTrackDeployment doc) {
    String label =
        doc.metadata() == null ? null : doc.metadata().labels().get(VTrackDeployment.AGENT_LABEL);
    return label == null || label.equals(agentName);
  }
}
