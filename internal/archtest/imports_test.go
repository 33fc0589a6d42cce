package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/tendhq/tend"

// corePackages are the pure domain packages. Those not written yet are
// skipped, so the rule holds from the day each one lands.
var corePackages = []string{"slo", "spec", "budget", "event", "action", "intake", "remediation", "evaluation", "sequence", "yamlnode", "jsonpos"}

// allowedRoots are the outside packages core code may import: the YAML
// library (line:col errors). Their own dependencies are allowed too, since
// core code cannot help importing them. The CloudEvents SDK's event
// package is not needed either: internal/event parses CloudEvents with
// the standard library (the SDK cannot read Keptn 0.6's specversion 0.2 and
// pulls in json-iterator), so the module is not required and not allowed.
var allowedRoots = []string{"gopkg.in/yaml.v3"}

// forbiddenStd are standard-library packages the core must not use although
// the standard library is otherwise allowed: the core does no network or
// database I/O (no HTTP client, no database driver).
var forbiddenStd = []string{"net/http", "database/sql", "os/exec"}

type listedPackage struct {
	ImportPath string
	Standard   bool
	Deps       []string
	Imports    []string
	// Error is set (with go list -e) when the package cannot be loaded.
	Error *struct{ Err string }
}

// goList runs `go list -json` with args in the module root.
func goList(t testing.TB, root string, args ...string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, stderr.String())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func moduleRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s has no go.mod: %v", root, err)
	}
	return root
}

// hasGoFiles reports whether dir holds a non-test Go file.
func hasGoFiles(dir string) bool {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, m := range matches {
		if !strings.HasSuffix(m, "_test.go") {
			return true
		}
	}
	return false
}

func TestCoreImportsOnlyAllowedPackages(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH; cannot list imports")
	}
	root := moduleRoot(t)

	allowed := map[string]bool{}
	for _, p := range goList(t, root, append([]string{"-deps"}, allowedRoots...)...) {
		allowed[p.ImportPath] = true
	}

	var core []string
	coreSet := map[string]bool{}
	for _, name := range corePackages {
		if !hasGoFiles(filepath.Join(root, "internal", name)) {
			t.Logf("internal/%s does not exist yet; skipped", name)
			continue
		}
		core = append(core, module+"/internal/"+name)
	}
	if len(core) == 0 {
		t.Fatal("no core package found; the test would check nothing")
	}
	listed := goList(t, root, core...)
	for _, p := range listed {
		coreSet[p.ImportPath] = true
	}

	for _, p := range listed {
		t.Run(strings.TrimPrefix(p.ImportPath, module+"/"), func(t *testing.T) {
			for _, dep := range p.Deps {
				switch {
				case isForbiddenStd(dep):
					t.Errorf("depends on %s: core packages do no network, database or process I/O", dep)
				case coreSet[dep] || allowed[dep]:
				case strings.HasPrefix(dep, module+"/"):
					t.Errorf("imports %s: core packages may import only other core packages of tend", dep)
				case isStandard(dep):
				default:
					t.Errorf("depends on %s: core packages may import only the standard library, %s", dep, strings.Join(allowedRoots, " and "))
				}
			}
		})
	}
}

func isForbiddenStd(path string) bool {
	for _, bad := range forbiddenStd {
		if path == bad || strings.HasPrefix(path, bad+"/") {
			return true
		}
	}
	return false
}

// isStandard tells standard-library import paths by their first element,
// which has no dot (vendored golang.org/x copies are listed as "vendor/...").
func isStandard(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".") || first == "vendor"
}

// TestForbiddenListIsStandard keeps the forbidden list meaningful: each entry
// must be a real standard-library package, or the check above could never
// fire for it.
func TestForbiddenListIsStandard(t *testing.T) {
	root := moduleRoot(t)
	for _, p := range goList(t, root, forbiddenStd...) {
		if !p.Standard {
			t.Errorf("%s is not a standard-library package", p.ImportPath)
		}
	}
	if len(forbiddenStd) == 0 || slices.Contains(forbiddenStd, "") {
		t.Error("the forbidden list is empty or has an empty entry")
	}
}
