package archtest

import (
	"strings"
	"testing"
)

// testOnlyModules are dependencies that only tests may use: Keptn's Go SDK
// is how the integration test plays a real Keptn integration, and it
// brings the CloudEvents SDK and a NATS client with it, none of which the
// tend binary needs.
var testOnlyModules = []string{"github.com/keptn/go-utils"}

// TestTestOnlyDependencies fails when any package of the module, built
// without its tests, depends on a test-only module, directly or through
// another package (go list -deps of the non-test build).
func TestTestOnlyDependencies(t *testing.T) {
	for _, p := range goList(t, moduleRoot(t), "./...") {
		for _, dep := range append(append([]string(nil), p.Imports...), p.Deps...) {
			for _, m := range testOnlyModules {
				if dep == m || strings.HasPrefix(dep, m+"/") {
					t.Errorf("%s depends on %s: %s is for tests only (test/integration); keep it in _test.go files", p.ImportPath, dep, m)
					break
				}
			}
		}
	}
}
