package kubernetes

import (
	"errors"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// RESTConfig finds how to reach the cluster, in this order:
//  1. the kubeconfig file kubeconfigPath, when it is not empty;
//  2. the pod's service account, when tend runs inside a cluster;
//  3. the files in $KUBECONFIG, else ~/.kube/config, with their current
//     context.
//
// An explicit path comes first so a tend running in one cluster can be
// told to act on another.
func RESTConfig(kubeconfigPath string) (*rest.Config, error) {
	var cfg *rest.Config
	if kubeconfigPath == "" {
		c, err := rest.InClusterConfig()
		switch {
		case err == nil:
			cfg = c
		case !errors.Is(err, rest.ErrNotInCluster):
			return nil, fmt.Errorf("kubernetes: in-cluster config: %w", err)
		}
	}
	if cfg == nil {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = kubeconfigPath
		c, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			where := kubeconfigPath
			if where == "" {
				where = "$KUBECONFIG or ~/.kube/config"
				if env := os.Getenv("KUBECONFIG"); env != "" {
					where = env
				}
			}
			return nil, fmt.Errorf("kubernetes: no usable cluster configuration (not in a pod, and kubeconfig %s: %w)", where, err)
		}
		cfg = c
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	cfg.UserAgent = "tend"
	return cfg, nil
}

// NewClientset returns a Kubernetes client configured as RESTConfig
// describes, for New.
func NewClientset(kubeconfigPath string) (kubernetes.Interface, error) {
	cfg, err := RESTConfig(kubeconfigPath)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: create client for %s: %w", cfg.Host, err)
	}
	return cs, nil
}
