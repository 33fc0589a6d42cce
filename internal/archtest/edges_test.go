package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// edgePackages serve requests: they parse, check and store what arrives and
// read back what is stored. They hand work to the runners through the store
// (the outbox) and through interfaces they declare, which app fills.
var edgePackages = []string{"internal/api", "internal/ui"}

// runnerPackages carry work out: the durable job runner and the loops it
// drives, which call SLI providers and action executors.
var runnerPackages = []string{"internal/worker", "internal/evaluator", "internal/remediator"}

// reachAdapters are the adapters an edge must not reach through any import:
// the systems that runners call.
var reachAdapters = []string{"internal/action/...", "internal/sli/..."}

// edgeExceptions are the known imports of a runner by an edge, each with
// why it is there and the only identifiers the edge may use from it. The
// test fails when one is no longer needed, so the list stays exact.
var edgeExceptions = map[string]edgeException{
	// The settings branch replaces remediator/settings.go and these
	// handlers with a generic settings layer and removes this import.
	"internal/api -> internal/remediator": {
		why: "the settings handlers of api/remediation.go store remediator's setting types",
		use: []string{
			"CheckSecretName", "Duration", "KeyKubernetes", "KeyPaused", "KeyRemediation", "KeySecretPrefix",
			"KeyUnleash", "KubernetesSettings", "Pause", "Policy", "Secret", "UnleashSettings",
		},
	},
}

type edgeException struct {
	why string
	use []string
}

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
	used := map[string]bool{}
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
			name := edge + " -> " + dep
			if ex, ok := edgeExceptions[name]; ok {
				used[name] = true
				checkUses(t, root, edge, imp, name, ex.use)
				continue
			}
			t.Errorf("%s imports %s, which %s: declare the interface %s needs and let app hand the runner's value in (as api.Options.Problems does)", edge, dep, why, edge)
		}
	}
	var stale []string
	for name := range edgeExceptions {
		if !used[name] {
			stale = append(stale, name)
		}
	}
	sort.Strings(stale)
	for _, name := range stale {
		t.Errorf("exception %q is no longer needed; remove it from edgeExceptions and docs/ARCHITECTURE.md", name)
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

// checkUses fails when the non-test Go files of edge use an identifier of
// the package imp that allowed does not list, so that an exception cannot
// grow beyond what it was made for.
func checkUses(t *testing.T, root, edge, imp, name string, allowed []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, edge, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		local := ""
		for _, is := range file.Imports {
			if path, _ := strconv.Unquote(is.Path.Value); path == imp {
				local = filepath.Base(imp)
				if is.Name != nil {
					local = is.Name.Name
				}
			}
		}
		if local == "" {
			continue
		}
		ast.Inspect(file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == local && !slices.Contains(allowed, sel.Sel.Name) {
				t.Errorf("%s uses %s.%s; the exception %q allows only %s", fset.Position(sel.Pos()), local, sel.Sel.Name, name, strings.Join(allowed, ", "))
			}
			return true
		})
	}
}
