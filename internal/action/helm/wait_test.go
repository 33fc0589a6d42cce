package helm

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tendhq/tend/internal/delivery"
)

// TestWaitRolloutDeadlineDuringRead: when the wait's deadline ends a read
// of a Deployment (client-go's rate limiter refuses to wait past it), the
// rollout timed out: a RolloutError, not an error the runner retries.
func TestWaitRolloutDeadlineDuringRead(t *testing.T) {
	one := int32(1)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "carts", Namespace: "sockshop-dev", UID: "u1"}, Spec: appsv1.DeploymentSpec{Replicas: &one}}
	for _, tc := range []struct {
		name             string
		firstRead, early bool
	}{{"no read before", true, false}, {"read before", false, false}, {"refused before the deadline", true, true}} {
		firstRead := tc.firstRead
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset(dep)
			const timeout = 20 * time.Millisecond
			reads := 0
			cs.PrependReactor("get", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
				reads++
				if firstRead || reads > 1 {
					// Past the wait's deadline, as a request that
					// waited on the network; or at once, as client-go's
					// rate limiter refuses a wait that would end past
					// the deadline before the deadline has come.
					if !tc.early {
						time.Sleep(5 * timeout)
					}
					return true, nil, errors.New("client rate limiter Wait returned an error: rate: Wait(n=1) would exceed context deadline")
				}
				return false, nil, nil
			})
			d := &Deployer{cs: cs, log: slog.New(slog.DiscardHandler), poll: time.Millisecond}
			err := d.waitRollout(context.Background(), "sockshop-dev", []string{"carts"}, timeout)
			var re *delivery.RolloutError
			if !errors.As(err, &re) {
				t.Fatalf("waitRollout = %v, want a *delivery.RolloutError", err)
			}
			want := "deployment carts in sockshop-dev: 0 of 1 replicas ready"
			if firstRead {
				want = "deployment carts in sockshop-dev: not read before the 20ms timeout ended"
			}
			if !strings.Contains(re.Reason, want) {
				t.Errorf("reason %q does not say %q", re.Reason, want)
			}
		})
	}
}
