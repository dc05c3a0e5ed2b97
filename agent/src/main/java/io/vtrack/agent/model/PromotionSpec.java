package io.vtrack.agent.model;

import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;

public record PromotionSpec(@Required @Pattern(SchemaPatterns.DNS_LABEL) String requireHealthyIn) {}
