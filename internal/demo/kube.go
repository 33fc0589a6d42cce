package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// DeploymentReplicas reads the replica count of a Kubernetes Deployment,
// so that scaling the Deployment (as tend's scaling action does) changes
// the carts service's capacity. It polls spec.replicas, the count the
// scale subresource writes; the test cluster has no pods, so the wanted
// count is the one that matters.
type DeploymentReplicas struct {
	// Client reaches the cluster.
	Client kubernetes.Interface
	// Namespace and Name name the Deployment.
	Namespace, Name string
	// Interval between polls; 0 means 1s.
	Interval time.Duration
	// Logger receives one line per outage and one when it ends.
	Logger *slog.Logger
}

// String names the Deployment for messages.
func (d *DeploymentReplicas) String() string {
	return "Kubernetes Deployment " + d.Namespace + "/" + d.Name
}

// Fetch reads the Deployment's spec.replicas once; unset means 1, as
// Kubernetes defaults it.
func (d *DeploymentReplicas) Fetch(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dep, err := d.Client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("read replicas of %s: %w", d, err)
	}
	if dep.Spec.Replicas == nil {
		return 1, nil
	}
	return int(*dep.Spec.Replicas), nil
}

// Run polls until ctx ends and calls set with the count after every
// successful poll; while the cluster cannot be reached the last count
// stays, and the outage is logged once.
func (d *DeploymentReplicas) Run(ctx context.Context, set func(n int)) {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	interval := d.Interval
	if interval <= 0 {
		interval = time.Second
	}
	failing := false
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := d.Fetch(ctx)
		switch {
		case err != nil && (ctx.Err() != nil || errors.Is(err, context.Canceled)):
			return
		case err != nil:
			if !failing {
				log.Warn("kubernetes deployment unreadable, keeping the last replica count", "namespace", d.Namespace, "deployment", d.Name, "err", err)
				failing = true
			}
		default:
			if failing {
				log.Info("kubernetes deployment readable again", "namespace", d.Namespace, "deployment", d.Name)
				failing = false
			}
			set(n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
