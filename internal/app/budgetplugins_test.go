package app

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/config"
)

// slothExamples returns the examples folder of the Sloth module tend
// builds with, in the module cache.
func slothExamples(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/slok/sloth").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Skipf("the Sloth module is not in the module cache (go list -m: %v); run go mod download", err)
	}
	return filepath.Join(dir, "examples")
}

// TestBudgetPluginDirsSetting: the server loads budget.pluginDirs when it
// starts, refusing to start on a directory that is not there, and its
// alert-rules route generates the rules of a stored spec whose SLI is a
// plugin of those directories.
func TestBudgetPluginDirsSetting(t *testing.T) {
	examples := slothExamples(t)
	missing := filepath.Join(t.TempDir(), "no-plugins")
	cfg := config.Default()
	cfg.Budget.PluginDirs = []string{missing}
	if _, err := New(context.Background(), Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Config: &cfg}); err == nil ||
		!strings.Contains(err.Error(), "budget.pluginDirs: plugin directory "+missing) {
		t.Fatalf("New with a missing plugin directory: %v; want the setting and the directory named", err)
	}

	cfg.Budget.PluginDirs = []string{filepath.Join(examples, "plugins")}
	ta := startTestApp(t, Options{Config: &cfg})
	ctx := context.Background()
	if _, err := ta.c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: evalShipyard}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.CreateService(ctx, "sockshop", "carts"); err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile(filepath.Join(examples, "plugin-getting-started.yml"))
	if err != nil {
		t.Fatal(err)
	}
	ref := client.ResourceRef{Project: "sockshop", Stage: "production", Service: "carts"}
	if _, err := ta.c.PutResources(ctx, ref, []client.ResourceFile{{URI: "slo/availability.yaml", Content: spec}}); err != nil {
		t.Fatal(err)
	}
	got, err := ta.c.GetAlertRules(ctx, "sockshop", "carts", client.AlertRulesOptions{Stage: "production"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Stages) != 1 || got.Stages[0].Status != apitypes.AlertRulesGenerated {
		t.Fatalf("stages = %+v; want production generated", got.Stages)
	}
	// The plugin's query, with the spec's options.
	if !strings.Contains(got.RuleFile, `job="myservice"`) || !strings.Contains(got.RuleFile, "MyServiceHighErrorRate") {
		t.Errorf("rule file lacks the plugin's rules:\n%s", got.RuleFile)
	}
}
