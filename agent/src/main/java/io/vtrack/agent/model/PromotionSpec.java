package io.vtrack.agent.model;

public record PromotionSpec(String requireHealthyIn) {}
