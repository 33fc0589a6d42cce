// Package delivery holds what tend's built-in delivery executors agree on:
// the deployment strategies of a shipyard's deployment task, the names
// Keptn gave a service's Deployments, Services and Helm releases, and the
// contract between the runner that carries out deployment, release and
// rollback tasks (internal/deliverer) and the adapter that talks to the
// cluster (internal/action/helm). It is pure: no I/O.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Strategy is a deployment task's deploymentstrategy.
type Strategy string

// The strategies tend carries out.
const (
	// Direct installs the service's chart as it is.
	Direct Strategy = "direct"
	// BlueGreen keeps <service>-primary serving the released version and
	// deploys the chart's own Deployment as the canary; traffic switches
	// between the two with the selector of the chart's Service.
	BlueGreen Strategy = "blue_green_service"
)

// ParseStrategy reads a deploymentstrategy: "" and "direct" are Direct,
// "user_managed" (Keptn's chart-as-is) is Direct too, "blue_green_service"
// (and "blue_green") is BlueGreen.
func ParseStrategy(s string) (Strategy, error) {
	switch s {
	case "", "direct", "user_managed":
		return Direct, nil
	case "blue_green_service", "blue_green":
		return BlueGreen, nil
	}
	return "", fmt.Errorf("deploymentstrategy %q is not one tend carries out (direct, blue_green_service, user_managed)", s)
}

// Deployment kinds, Keptn's deploymentNames values and the $DEPLOYMENT of
// SLI queries.
const (
	KindDirect  = "direct"
	KindCanary  = "canary"
	KindPrimary = "primary"
)

// Namespace is the namespace of a project's stage, <project>-<stage>.
func Namespace(project, stage string) string { return project + "-" + stage }

// ReleaseName is the Helm release of a service's chart in a namespace,
// <namespace>-<service>, as Keptn's helm-service named it.
func ReleaseName(namespace, service string) string { return namespace + "-" + service }

// PrimaryReleaseName is the Helm release of a blue/green service's
// primary, <namespace>-<service>-generated.
func PrimaryReleaseName(namespace, service string) string {
	return ReleaseName(namespace, service) + "-generated"
}

// PrimaryName is the primary of a Deployment or Service named name.
func PrimaryName(name string) string { return name + "-primary" }

// Target is a service in a namespace.
type Target struct {
	Namespace string
	Service   string
	// Project is the project the service belongs to. The adapter marks
	// a namespace it creates as the project's and refuses one marked for
	// another project: <project>-<stage> is not unique (project a with
	// stage b-c, project a-b with stage c). "" checks nothing.
	Project string
}

// ProjectLabel marks a namespace tend created with the project it
// belongs to.
const ProjectLabel = "tendhq.github.io/project"

// DeployRequest asks for a service's chart to be installed or upgraded.
type DeployRequest struct {
	Target
	// Chart is the stored archive, helm/<service>.tgz.
	Chart []byte
	// Strategy says how.
	Strategy Strategy
	// Values are set over the chart's values.yaml: image, keptn.project,
	// keptn.stage, keptn.service, keptn.deployment and what the trigger's
	// configurationChange.values carried.
	Values map[string]any
	// Timeout bounds the wait for the rollout (ready replicas).
	Timeout time.Duration
}

// ReleaseRequest asks for a blue/green service's release or rollback; a
// direct service has nothing to do.
type ReleaseRequest struct {
	Target
	Timeout time.Duration
}

// Deployed is what a deployment, release or rollback left in the cluster,
// for the task's finished event.
type Deployed struct {
	Strategy Strategy
	// Kind is KindDirect, KindCanary (traffic on the canary) or
	// KindPrimary (traffic on the primary).
	Kind string
	// Deployments are the Kubernetes Deployments of the service, by name.
	Deployments []string
	// URIsLocal are the in-cluster URLs of the Service that takes the
	// traffic, http://<service>.<namespace>:<port>.
	URIsLocal []string
	// Image is the image that serves the traffic now.
	Image string
	// Revision is the Helm release revision written (0 when none was).
	Revision int
}

// Deployer carries out deployment, release and rollback tasks on a cluster;
// internal/action/helm implements it. Every method is idempotent: run again
// after a crash at any point, it converges to the same result.
type Deployer interface {
	Deploy(ctx context.Context, req DeployRequest) (Deployed, error)
	Release(ctx context.Context, req ReleaseRequest) (Deployed, error)
	Rollback(ctx context.Context, req ReleaseRequest) (Deployed, error)
}

// RolloutError says a rollout did not become ready in time, or a chart
// could not be rendered or applied: the task ends with result fail and
// this reason, it is not retried. Other errors (the API server
// unreachable) are retried.
type RolloutError struct {
	Reason string
}

func (e *RolloutError) Error() string { return e.Reason }

// IsRolloutError reports whether err is, or wraps, a *RolloutError.
func IsRolloutError(err error) bool {
	var re *RolloutError
	return errors.As(err, &re)
}
