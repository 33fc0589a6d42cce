package archtest

import (
	"strings"
	"testing"
)

// edgePackages serve requests: they parse, check and store what arrives and
// read back what is stored. They hand work to the runners through the store
// (the outbox) and through interfaces they declare, which app fills.
var edgePackages = []string{"internal/api", "internal/ui"}

// runnerPackages carry work out: the durable job runner and the loops it
// drives, which call SLI providers and action executors.
var runnerPackages = []string{"internal/worker", "internal/evaluator", "internal/remediator", "internal/sequencer", "internal/deliverer"}

// reachAdapters are the adapters an edge must not reach through any import:
// the systems that runners call.
var reachAdapters = []string{"internal/action/...", "internal/sli/..."}

// TestEdgesImportNoRunner keeps the API and the web UI free of runners: they
// import no runner, and none of their imports reaches an action executor or
// an SLI provider, however indirectly (go list -deps). What they need of a
// runner they declare as an interface, and app hands the runner in.
func TestEdgesImportNoRunner(t *testing.T) {
	root := moduleRoot(t)
	var args []string
	for _, e := range edgePackages {
		args = append(args, module+"/"+e)
	}
	graph := map[string]listedPackage{}
	for _, p := range goList(t, root, append([]string{"-deps"}, args...)...) {
		graph[p.ImportPath] = p
	}
	for _, edge := range edgePackages {
		p, ok := graph[module+"/"+edge]
		if !ok {
			t.Errorf("go list does not list %s", edge)
			continue
		}
		for _, imp := range p.Imports {
			dep, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			why := forbiddenForEdge(dep, graph[imp].Deps)
			if why == "" {
				continue
			}
			t.Errorf("%s imports %s, which %s: declare the interface %s needs and let app hand the runner's value in (as api.Options.Problems does)", edge, dep, why, edge)
		}
	}
}

// forbiddenForEdge says why an edge may not import dep, whose dependencies
// are deps, or "" when it may.
func forbiddenForEdge(dep string, deps []string) string {
	if matches(dep, runnerPackages) {
		return "is a runner"
	}
	if matches(dep, reachAdapters) {
		return "is an adapter"
	}
	for _, d := range deps {
		if rel, ok := strings.CutPrefix(d, module+"/"); ok && matches(rel, reachAdapters) {
			return "reaches the adapter " + rel
		}
	}
	return ""
}
