package alertrules_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/alertrules"
	"github.com/tendhq/tend/internal/testenv"
	"github.com/tendhq/tend/internal/yamlnode/yamlnodetest"
)

var receiver = alertrules.Receiver{Project: "sockshop", URL: "http://tend.example:8080", Token: "tend_intake_secret"}

// amtoolCheck runs amtool check-config on data.
func amtoolCheck(t testing.TB, data []byte) {
	t.Helper()
	amtool := testenv.Amtool(t)
	path := filepath.Join(t.TempDir(), "alertmanager.yml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(amtool, "check-config", path).CombinedOutput()
	if err != nil {
		t.Fatalf("amtool check-config: %v\n%s\n%s", err, out, data)
	}
}

func TestAlertmanagerConfig(t *testing.T) {
	tests := []struct {
		name string
		r    alertrules.Receiver
	}{
		{"inline-token", receiver},
		{"credentials-file", alertrules.Receiver{Project: "sockshop", URL: "https://tend.example/prefix/", CredentialsFile: "/etc/alertmanager/tend-token", Name: "tend-sockshop"}},
		{"receiver-named-null", alertrules.Receiver{Project: `odd"name`, URL: "http://tend.example" + alertrules.IntakePath, Token: "t", Name: "null"}},
		// The intake configured with intake.labels {project: team, stage:
		// env, service: app}: the route must match and group by those.
		{"custom-label-names", alertrules.Receiver{Project: "sockshop", URL: "http://tend.example:8080", Token: "t",
			Labels: alertrules.LabelNames{Project: "team", Stage: "env", Service: "app"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := alertrules.AlertmanagerConfig(tt.r)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "alertmanager-"+tt.name+".yml", out)
			if tt.r.CredentialsFile == "" {
				amtoolCheck(t, out)
			}
		})
	}
}

// TestAlertmanagerLabelNames checks the route's matcher and the grouping
// for the intake's label names. Names outside [a-zA-Z_][a-zA-Z0-9_]* are
// quoted as Alertmanager 0.27's UTF-8 matchers read them; the amtool of
// the test machines may predate those, so amtool checks only the classic
// names here (TestAlertmanagerConfig checks the whole file).
func TestAlertmanagerLabelNames(t *testing.T) {
	tests := []struct {
		name            string
		labels          alertrules.LabelNames
		matcher, groups string
		amtool          bool
	}{
		{"defaults", alertrules.LabelNames{}, `project="sockshop"`, "[alertname, project, stage, service]", true},
		{"custom project only", alertrules.LabelNames{Project: "k8s_namespace"}, `k8s_namespace="sockshop"`, "[alertname, k8s_namespace, stage, service]", true},
		{"UTF-8 names", alertrules.LabelNames{Project: "team.name", Service: "app.kubernetes.io/name"},
			`"team.name"="sockshop"`, `[alertname, "team.name", stage, "app.kubernetes.io/name"]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := receiver
			r.Labels = tt.labels
			out, err := alertrules.AlertmanagerConfig(r)
			if err != nil {
				t.Fatal(err)
			}
			wantMatcher(t, out, tt.matcher)
			if !strings.Contains(string(out), "group_by: "+tt.groups+"\n") {
				t.Errorf("want group_by: %s in\n%s", tt.groups, out)
			}
			merged, err := alertrules.MergeAlertmanager("team.yml", []byte("route: {receiver: team}\nreceivers: [{name: team}]\n"), r)
			if err != nil {
				t.Fatal(err)
			}
			wantMatcher(t, merged, tt.matcher)
			if tt.amtool {
				amtoolCheck(t, out)
				amtoolCheck(t, merged)
			}
		})
	}
}

// wantMatcher asserts that the configuration out has one route, tend's,
// with the one matcher want.
func wantMatcher(t testing.TB, out []byte, want string) {
	t.Helper()
	var cfg struct {
		Route struct {
			Routes []struct {
				Matchers []string `yaml:"matchers"`
			} `yaml:"routes"`
		} `yaml:"route"`
	}
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, out)
	}
	if rs := cfg.Route.Routes; len(rs) != 1 || len(rs[0].Matchers) != 1 || rs[0].Matchers[0] != want {
		t.Errorf("routes %+v, want one with the matcher %s\n%s", rs, want, out)
	}
}

// TestAlertmanagerCredentialsFile checks the credentials_file form with
// amtool, which insists that the file exists.
func TestAlertmanagerCredentialsFile(t *testing.T) {
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := alertrules.AlertmanagerConfig(alertrules.Receiver{Project: "p", URL: "http://tend", CredentialsFile: tok})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "credentials_file: "+tok) || strings.Contains(string(out), "secret") {
		t.Errorf("want credentials_file %s and no token in\n%s", tok, out)
	}
	amtoolCheck(t, out)
}

// TestMergeAlertmanager merges into the files of testdata/alertmanager,
// compares with golden files, checks the result with amtool and merges
// again to prove the merge idempotent.
func TestMergeAlertmanager(t *testing.T) {
	files, err := filepath.Glob("testdata/alertmanager/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			once, err := alertrules.MergeAlertmanager(file, data, receiver)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "merged-"+name+".yml", once)
			amtoolCheck(t, once)
			checkMerged(t, once, "tend")

			twice, err := alertrules.MergeAlertmanager(file, once, receiver)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(once, twice) {
				t.Errorf("merging twice differs from merging once:\n--- once\n%s\n--- twice\n%s", once, twice)
			}
		})
	}
}

// TestMergeKeepsComments checks that the user's comments survive.
func TestMergeKeepsComments(t *testing.T) {
	data, err := os.ReadFile("testdata/alertmanager/team.yml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := alertrules.MergeAlertmanager("team.yml", data, receiver)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"# The team's Alertmanager configuration.", "# Inhibit warnings", "# the default", "# Databases page the DBAs.", "# the DBAs"} {
		if !strings.Contains(string(out), c) {
			t.Errorf("comment %q lost:\n%s", c, out)
		}
	}
}

// checkMerged asserts the invariants of a merge: tend's route first with
// continue: true, exactly one receiver of that name. It reads the output
// as nodes, since the user's parts may have any shape and any keys.
func checkMerged(t testing.TB, out []byte, name string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(out, &doc); err != nil || len(doc.Content) != 1 {
		t.Fatalf("merged output is not one YAML document: %v\n%s", err, out)
	}
	root := doc.Content[0]
	first := get(get(get(root, "route"), "routes"), "0")
	if v := get(first, "receiver"); v == nil || v.Value != name {
		t.Errorf("first route is not %s's:\n%s", name, out)
	}
	if v := get(first, "continue"); v == nil || v.Value != "true" {
		t.Errorf("first route lacks continue: true:\n%s", out)
	}
	n := 0
	if receivers := get(root, "receivers"); receivers != nil {
		for _, r := range receivers.Content {
			if v := get(r, "name"); v != nil && v.Value == name {
				n++
			}
		}
	}
	if n != 1 {
		t.Errorf("%d receivers named %s, want 1:\n%s", n, name, out)
	}
}

// get returns the value of key in a mapping node, or item "0" of a
// sequence node; nil when there is none.
func get(n *yaml.Node, key string) *yaml.Node {
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.SequenceNode && key == "0" && len(n.Content) > 0:
		return n.Content[0]
	case n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
	}
	return nil
}

func TestMergeErrors(t *testing.T) {
	tests := []struct {
		name, data string
		want       string
	}{
		{"empty file", "", "the file is empty"},
		{"not YAML", "route: [", "not YAML"},
		{"two documents", "route: {receiver: a}\n---\nx: 1\n", "a.yml:2:1: a second YAML document"},
		{"a list", "- a\n", "a.yml:1:1: the configuration must be a mapping"},
		{"no route", "receivers: []\n", "no route: block"},
		{"route is a string", "route: x\n", `a.yml:1:8: route must be a mapping (receiver:, routes:), not the value "x"`},
		{"routes is a mapping", "route:\n  routes: {a: b}\n", "a.yml:2:11: route.routes must be a list"},
		{"receivers is a string", "route: {receiver: a}\nreceivers: x\n", "a.yml:2:12: receivers must be a list"},
		{"route is an alias", "x: &r {receiver: a}\nroute: *r\n", "an alias (expand it in place)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := alertrules.MergeAlertmanager("a.yml", []byte(tt.data), receiver)
			if !errors.Is(err, alertrules.ErrMerge) {
				t.Fatalf("error %v, want ErrMerge", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

// TestMergeRefusesBillionLaughs: the configuration to merge into is a
// file from outside; a document whose aliases expand beyond tend's limits,
// or contain themselves, is refused before anything follows them, with an
// error that names the limit.
func TestMergeRefusesBillionLaughs(t *testing.T) {
	nested, nestedAlias := yamlnodetest.Nested(9, 10)
	wide, wideAlias := yamlnodetest.Wide(10000, 4000)
	tests := []struct{ name, data string }{
		{"nested", nested + "route: {receiver: a, group_by: " + nestedAlias + "}\nreceivers: [{name: a}]\n"},
		{"wide", wide + "route: {receiver: a, group_by: " + wideAlias + "}\nreceivers: [{name: a}]\n"},
		{"cycle", "route: &r {receiver: a, routes: [*r]}\nreceivers: [{name: a}]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := alertrules.MergeAlertmanager("a.yml", []byte(tt.data), receiver)
			if !errors.Is(err, alertrules.ErrMerge) || !strings.Contains(err.Error(), "over tend's limit") {
				t.Fatalf("merge = %d bytes, error %v; want ErrMerge naming the limit", len(out), err)
			}
		})
	}
}

func TestReceiverErrors(t *testing.T) {
	tests := []struct {
		name string
		r    alertrules.Receiver
		want string
	}{
		{"no project", alertrules.Receiver{URL: "http://t", Token: "x"}, "the project is empty"},
		{"no URL", alertrules.Receiver{Project: "p", Token: "x"}, `intake URL "" is not an http(s) URL`},
		{"URL with credentials", alertrules.Receiver{Project: "p", URL: "http://u:pw@t", Token: "x"}, "without user, query or fragment"},
		{"no token", alertrules.Receiver{Project: "p", URL: "http://t"}, "no intake token"},
		{"token and file", alertrules.Receiver{Project: "p", URL: "http://t", Token: "x", CredentialsFile: "/f"}, "give one"},
		{"two fields name one label", alertrules.Receiver{Project: "p", URL: "http://t", Token: "x", Labels: alertrules.LabelNames{Stage: "env", Service: "env"}},
			`the stage and service label names are both "env"`},
		{"a label tend groups by", alertrules.Receiver{Project: "p", URL: "http://t", Token: "x", Labels: alertrules.LabelNames{Project: "alertname"}},
			`the project label name is "alertname", a label tend sets itself`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := alertrules.AlertmanagerConfig(tt.r)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
			if err != nil && tt.r.Token != "" && strings.Contains(err.Error(), tt.r.Token+"\"") {
				t.Errorf("error %q carries the token", err)
			}
		})
	}
}

func TestIntakeURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://tend:8080", "http://tend:8080" + alertrules.IntakePath},
		{"http://tend:8080/", "http://tend:8080" + alertrules.IntakePath},
		{"https://proxy/tend", "https://proxy/tend" + alertrules.IntakePath},
		{"http://tend" + alertrules.IntakePath, "http://tend" + alertrules.IntakePath},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := alertrules.IntakeURL(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("IntakeURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// FuzzMergeAlertmanager merges into arbitrary input: it never panics, and
// a merge that succeeds yields YAML with tend's route first and one tend
// receiver.
func FuzzMergeAlertmanager(f *testing.F) {
	files, _ := filepath.Glob("testdata/alertmanager/*.yml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{"", "route:", "route: {routes: [1, [2], {receiver: tend}]}\nreceivers: [{name: tend}, {name: tend}, 3]", "route: &a {routes: [*a]}", "{route: {}, receivers: ~}", "!!binary x", "route: {<<: {receiver: a}}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := alertrules.MergeAlertmanager("fuzz.yml", data, receiver)
		if err != nil {
			if !errors.Is(err, alertrules.ErrMerge) {
				t.Fatalf("error %v does not wrap ErrMerge", err)
			}
			return
		}
		checkMerged(t, out, "tend")
	})
}
