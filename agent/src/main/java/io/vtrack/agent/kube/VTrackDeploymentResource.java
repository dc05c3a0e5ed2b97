package io.vtrack.agent.kube;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;
import io.vtrack.agent.model.DeploymentSpec;
import io.vtrack.agent.reconcile.DeploymentStatus;

/**
 * The {@code VTrackDeployment} custom resource: the same spec and status records as the git and
 * file sources, so there is one model. The CRD in {@code crd/} is generated from this class.
 */
@Group("vtrack.io")
@Version("v1alpha1")
@Kind("VTrackDeployment")
@Plural("vtrackdeployments")
@ShortNames("vtd")
@AdditionalPrinterColumn(name = "Phase", jsonPath = ".status.phase")
@AdditionalPrinterColumn(name = "Desired", jsonPath = ".status.desiredRevision")
@AdditionalPrinterColumn(name = "Current", jsonPath = ".status.currentCommit")
@AdditionalPrinterColumn(name = "Last healthy", jsonPath = ".status.lastHealthyCommit")
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class VTrackDeploymentResource extends CustomResource<DeploymentSpec, DeploymentStatus>
    implements Namespaced {}
