// Package testenv tells integration tests where the real components they
// need are running. `make test` starts the components (scripts/*.sh) and
// exports one environment variable per component; a test asks for the
// component here and gets its address.
//
// When a variable is unset, plain `go test ./...` skips the test with a
// message saying how to run it; with CI=true the test fails instead, so CI
// can never pass by skipping.
//
// Adding a component (Prometheus, Alertmanager, Unleash, the Kubernetes
// cluster, Chromium) means: a script in scripts/ that starts it on a free port and
// prints NAME=value lines, a Component value here, and a small accessor like
// PostgresURL when tests need more than the raw value (such as a fresh
// database per test).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Component is a real external system that integration tests use.
type Component struct {
	// Name is how messages call it.
	Name string
	// Env is the environment variable that holds its address.
	Env string
	// Script starts it, for the skip message.
	Script string
}

// Postgres is the PostgreSQL server of the store and Unleash tests. Its
// variable holds a URL of a database the tests may create databases from,
// e.g. postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable.
var Postgres = Component{Name: "PostgreSQL", Env: "TEND_TEST_POSTGRES_URL", Script: "scripts/postgres.sh"}

// Require returns the value of c's variable. When it is unset the test is
// skipped, or fails when the environment variable CI is "true".
func Require(t testing.TB, c Component) string {
	t.Helper()
	v := os.Getenv(c.Env)
	if v != "" {
		return v
	}
	msg := fmt.Sprintf("%s not available: set %s (make test does this; or eval \"$(%s start)\")", c.Name, c.Env, c.Script)
	if IsCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// RequireAlso returns the variable env, one more of the lines c's script
// prints, after Require. The test fails when c is there but env is not
// set: the script's lines were exported only in part.
func RequireAlso(t testing.TB, c Component, env string) string {
	t.Helper()
	Require(t, c)
	v := os.Getenv(env)
	if v == "" {
		t.Fatalf("%s is set but %s is not: start %s with %s start and export all its lines", c.Env, env, c.Name, c.Script)
	}
	return v
}

// PostgresServerURL returns the URL of the test server's maintenance
// database as given in TEND_TEST_POSTGRES_URL. Most tests want PostgresURL.
func PostgresServerURL(t testing.TB) string {
	t.Helper()
	return Require(t, Postgres)
}

// PostgresURL creates a new, empty database with a random name on the test
// PostgreSQL server and returns its URL; the database is dropped when the
// test ends, so tests never see each other's data.
func PostgresURL(t testing.TB) string {
	t.Helper()
	server := PostgresServerURL(t)
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", Postgres.Env, err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "tend_test_" + hex.EncodeToString(b)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL at %s: %v", u.Redacted(), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		// FORCE ends connections a test left open.
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// IsCI reports whether tests run in CI, where missing components fail.
func IsCI() bool { return strings.EqualFold(os.Getenv("CI"), "true") }

// Prometheus is the Prometheus server of the SLI provider and alerting
// tests (scripts/prometheus.sh). Its variable holds the base URL, e.g.
// http://127.0.0.1:PORT. It scrapes every second the targets that tests
// announce with PrometheusTarget.
var Prometheus = Component{Name: "Prometheus", Env: "TEND_TEST_PROMETHEUS_URL", Script: "scripts/prometheus.sh"}

// PrometheusSDDirEnv names the directory of file-based service discovery
// that the test Prometheus watches for *.json target files.
const PrometheusSDDirEnv = "TEND_TEST_PROMETHEUS_SD_DIR"

// PrometheusURL returns the base URL of the test Prometheus.
func PrometheusURL(t testing.TB) string {
	t.Helper()
	return strings.TrimSuffix(Require(t, Prometheus), "/")
}

// PrometheusTarget makes the test Prometheus scrape http://addr/metrics
// with the label job=<job>, and waits (up to 30 s) until Prometheus reports
// that target up, so the test's first query can find data soon. The target
// is removed when the test ends. Use a job name unique to the test: the
// Prometheus instance is shared.
func PrometheusTarget(t testing.TB, job, addr string) {
	t.Helper()
	base := PrometheusURL(t)
	writePrometheusSD(t, PrometheusSDDirEnv, "target", map[string]any{"targets": []string{addr}, "labels": map[string]string{"job": job}})

	deadline := time.Now().Add(30 * time.Second)
	var last string
	for {
		up, state, err := prometheusTargetUp(base, job, addr)
		if err != nil {
			last = err.Error()
		} else {
			last = state
		}
		if up {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus at %s did not report target %s (job %q) up within 30s; last seen: %s", base, addr, job, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// prometheusTargetUp asks /api/v1/targets whether the target addr with
// label job is up, and otherwise what Prometheus says about it.
func prometheusTargetUp(base, job, addr string) (up bool, state string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/targets?state=active", nil)
	if err != nil {
		return false, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, "", err
	}
	var answer struct {
		Data struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				ScrapeURL string            `json:"scrapeUrl"`
				Health    string            `json:"health"`
				LastError string            `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return false, "", fmt.Errorf("read /api/v1/targets: %w", err)
	}
	for _, tg := range answer.Data.ActiveTargets {
		if tg.Labels["job"] != job || !strings.Contains(tg.ScrapeURL, "//"+addr+"/") {
			continue
		}
		if tg.Health == "up" {
			return true, "up", nil
		}
		return false, fmt.Sprintf("health %q, last error %q", tg.Health, tg.LastError), nil
	}
	return false, "target not discovered yet", nil
}

// Unleash is the Unleash 8 server of the feature-toggle tests
// (scripts/unleash.sh, on the test PostgreSQL). Its variable holds the base
// URL, e.g. http://127.0.0.1:PORT; UnleashAdminTokenEnv holds an admin API
// token generated when the script started it.
var Unleash = Component{Name: "Unleash", Env: "TEND_TEST_UNLEASH_URL", Script: "scripts/unleash.sh"}

// UnleashAdminTokenEnv names the variable holding the test Unleash's admin
// API token (sent as the Authorization header, without a scheme).
const UnleashAdminTokenEnv = "TEND_TEST_UNLEASH_ADMIN_TOKEN"

// UnleashURL returns the base URL of the test Unleash.
func UnleashURL(t testing.TB) string {
	t.Helper()
	return strings.TrimSuffix(Require(t, Unleash), "/")
}

// UnleashAdminToken returns the test Unleash's admin API token.
func UnleashAdminToken(t testing.TB) string {
	t.Helper()
	return RequireAlso(t, Unleash, UnleashAdminTokenEnv)
}

// UnleashFeature creates a release flag with a random name in the test
// Unleash's project "default", switches it on in each environment of
// enabledIn (it starts off everywhere; Unleash has development and
// production), and returns its name. The flag is archived when the test
// ends. The Unleash instance is shared, so tests never reuse a flag.
func UnleashFeature(t testing.TB, enabledIn ...string) string {
	t.Helper()
	base, token := UnleashURL(t), UnleashAdminToken(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "tend-test-" + hex.EncodeToString(b)
	features := base + "/api/admin/projects/default/features"
	if status, body, err := unleashCall(http.MethodPost, features, token, `{"name":"`+name+`","type":"release"}`); err != nil || status/100 != 2 {
		t.Fatalf("create Unleash feature %s: status %d, %s %v", name, status, body, err)
	}
	t.Cleanup(func() {
		status, body, err := unleashCall(http.MethodDelete, features+"/"+name, token, "")
		if err != nil || (status/100 != 2 && status != http.StatusNotFound) {
			t.Errorf("archive Unleash feature %s: status %d, %s %v", name, status, body, err)
		}
	})
	for _, env := range enabledIn {
		u := features + "/" + name + "/environments/" + url.PathEscape(env) + "/on"
		if status, body, err := unleashCall(http.MethodPost, u, token, ""); err != nil || status/100 != 2 {
			t.Fatalf("switch Unleash feature %s on in %s: status %d, %s %v", name, env, status, body, err)
		}
	}
	return name
}

// unleashCall makes one admin API call and returns the status and body.
func unleashCall(method, u, token, body string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var r io.Reader = http.NoBody
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(b), err
}

// Kubernetes is the test cluster of scripts/kube-cluster.sh: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok, which
// plays one fake node, kwok-node-0, without a kubelet. Its variable holds
// the path of a kubeconfig file with an admin (system:masters) token.
// Deployments get ReplicaSets and Pods; the Pods are scheduled onto the fake
// node and become Running and Ready, but run nothing. The cluster is shared
// by all tests, so each test uses namespaces of its own.
var Kubernetes = Component{Name: "Kubernetes test cluster", Env: "TEND_TEST_KUBECONFIG", Script: "scripts/kube-cluster.sh"}

// KubectlEnv names the variable holding the path of the kubectl that
// scripts/kube-cluster.sh built with the cluster.
const KubectlEnv = "TEND_TEST_KUBECTL"

// KubectlPath returns the path of the test cluster's kubectl.
func KubectlPath(t testing.TB) string {
	t.Helper()
	return RequireAlso(t, Kubernetes, KubectlEnv)
}

// KubeconfigPath returns the path of the test cluster's admin kubeconfig.
func KubeconfigPath(t testing.TB) string {
	t.Helper()
	path := Require(t, Kubernetes)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s names a kubeconfig that cannot be read (is the cluster still running? %s start): %v", Kubernetes.Env, Kubernetes.Script, err)
	}
	return path
}

// Promtool returns the path of Prometheus's promtool (Debian's prometheus
// package ships /usr/bin/promtool; $PROMTOOL overrides), for tests that
// check generated rule files. When it is missing the test is skipped, or
// fails under CI=true.
func Promtool(t testing.TB) string {
	t.Helper()
	return lookTool(t, "promtool", "PROMTOOL", "apt-get install prometheus")
}

// Amtool returns the path of Alertmanager's amtool (Debian's
// prometheus-alertmanager package ships /usr/bin/amtool; $AMTOOL
// overrides), for tests that check generated Alertmanager configurations.
// When it is missing the test is skipped, or fails under CI=true.
func Amtool(t testing.TB) string {
	t.Helper()
	return lookTool(t, "amtool", "AMTOOL", "apt-get install prometheus-alertmanager")
}

// lookTool finds an executable named by the variable env, else name on
// $PATH, without os/exec so that the lookup never runs anything.
func lookTool(t testing.TB, name, env, install string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
		t.Fatalf("%s=%s is not an executable file", env, p)
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found on $PATH: %s (or set %s to the binary)", name, install, env)
	if IsCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Alertmanager is the Alertmanager of the alerting tests
// (scripts/alertmanager.sh). Its variable holds the base URL, e.g.
// http://127.0.0.1:PORT; AlertmanagerConfigEnv holds the path of its
// configuration file, which tests may rewrite and then reload with
// AlertmanagerReload. The instance is shared: a test that rewrites the
// configuration restores it when it ends.
var Alertmanager = Component{Name: "Alertmanager", Env: "TEND_TEST_ALERTMANAGER_URL", Script: "scripts/alertmanager.sh"}

// AlertmanagerConfigEnv names the variable holding the path of the test
// Alertmanager's configuration file.
const AlertmanagerConfigEnv = "TEND_TEST_ALERTMANAGER_CONFIG"

// PrometheusRulesDirEnv and PrometheusAlertmanagerSDDirEnv name the test
// Prometheus's directory of rule files (*.yml, loaded on POST /-/reload)
// and of Alertmanager file-SD files (*.json, watched).
const (
	PrometheusRulesDirEnv          = "TEND_TEST_PROMETHEUS_RULES_DIR"
	PrometheusAlertmanagerSDDirEnv = "TEND_TEST_PROMETHEUS_ALERTMANAGER_SD_DIR"
)

// AlertmanagerURL returns the base URL of the test Alertmanager.
func AlertmanagerURL(t testing.TB) string {
	t.Helper()
	return strings.TrimSuffix(Require(t, Alertmanager), "/")
}

// AlertmanagerConfigPath returns the path of the test Alertmanager's
// configuration file.
func AlertmanagerConfigPath(t testing.TB) string {
	t.Helper()
	return RequireAlso(t, Alertmanager, AlertmanagerConfigEnv)
}

// AlertmanagerReload makes the test Alertmanager reread its configuration
// (POST /-/reload) and fails the test when it rejects it.
func AlertmanagerReload(t testing.TB) {
	t.Helper()
	if status, body, err := postReload(AlertmanagerURL(t) + "/-/reload"); err != nil || status != http.StatusOK {
		t.Fatalf("reload the test Alertmanager: status %d, %s %v", status, body, err)
	}
}

// PrometheusReload makes the test Prometheus reread its configuration and
// rule files (POST /-/reload) and fails the test when it rejects them.
func PrometheusReload(t testing.TB) {
	t.Helper()
	if status, body, err := postReload(PrometheusURL(t) + "/-/reload"); err != nil || status != http.StatusOK {
		t.Fatalf("reload the test Prometheus: status %d, %s %v", status, body, err)
	}
}

// PrometheusRules loads rules into the test Prometheus for the rest of the
// test: it writes them as tend-test-NAME.yml into the rules folder
// (TEND_TEST_PROMETHEUS_RULES_DIR, which it requires) and reloads; when the
// test ends it removes the file and reloads again.
func PrometheusRules(t testing.TB, name, rules string) {
	t.Helper()
	dir := RequireAlso(t, Prometheus, PrometheusRulesDirEnv)
	file := filepath.Join(dir, "tend-test-"+name+".yml")
	WriteFileAtomic(t, file, rules)
	t.Cleanup(func() {
		if err := os.Remove(file); err != nil {
			t.Errorf("remove rules file: %v", err)
		}
		PrometheusReload(t)
	})
	PrometheusReload(t)
}

func postReload(u string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, http.NoBody)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(b), err
}

// PrometheusAlertmanager makes the test Prometheus send its alerts to the
// test Alertmanager for the rest of the test (a file-SD entry, removed when
// the test ends) and waits (up to 30 s) until Prometheus lists it as an
// active Alertmanager. Call it after the test's last PrometheusReload: a
// reload rebuilds Prometheus's notifier, which can then go without
// Alertmanagers for a minute although the file-SD entry is still there.
func PrometheusAlertmanager(t testing.TB) {
	t.Helper()
	base := PrometheusURL(t)
	am, err := url.Parse(AlertmanagerURL(t))
	if err != nil || am.Host == "" {
		t.Fatalf("%s is not a URL with a host: %v", Alertmanager.Env, err)
	}
	writePrometheusSD(t, PrometheusAlertmanagerSDDirEnv, "alertmanager", map[string]any{"targets": []string{am.Host}})
	deadline := time.Now().Add(30 * time.Second)
	for {
		active, err := prometheusAlertmanagers(base)
		for _, u := range active {
			if strings.Contains(u, "//"+am.Host+"/") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus at %s did not list Alertmanager %s as active within 30s (active: %v, error: %v)", base, am.Host, active, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// prometheusAlertmanagers returns the URLs of the Alertmanagers the
// Prometheus at base sends alerts to.
func prometheusAlertmanagers(base string) ([]string, error) {
	body, err := Fetch(base + "/api/v1/alertmanagers")
	if err != nil {
		return nil, err
	}
	var answer struct {
		Data struct {
			Active []struct {
				URL string `json:"url"`
			} `json:"activeAlertmanagers"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, fmt.Errorf("read /api/v1/alertmanagers: %w", err)
	}
	var out []string
	for _, a := range answer.Data.Active {
		out = append(out, a.URL)
	}
	return out, nil
}

// Chromium is Debian's Chromium, driven by the web UI's browser tests
// through chromedp. Its variable holds the browser's path; each test starts
// its own headless instance with a fresh profile.
var Chromium = Component{Name: "Chromium", Env: "TEND_TEST_CHROMIUM", Script: "scripts/chromium.sh"}

// ChromiumPath returns the path of the Chromium binary, skipping the test
// (failing it in CI) when TEND_TEST_CHROMIUM is unset.
func ChromiumPath(t testing.TB) string {
	t.Helper()
	return Require(t, Chromium)
}

// KeptnCLI is the real keptn CLI 1.4.5, built from ../shared/keptn-cli, for
// the compatibility test of Keptn's API paths. Its variable holds the
// binary's path.
var KeptnCLI = Component{Name: "keptn CLI", Env: "TEND_TEST_KEPTN_CLI", Script: "scripts/keptn-cli.sh"}

// KeptnCLIPath returns the path of the keptn CLI, skipping the test
// (failing it in CI) when TEND_TEST_KEPTN_CLI is unset.
func KeptnCLIPath(t testing.TB) string {
	t.Helper()
	return Require(t, KeptnCLI)
}

// writePrometheusSD writes entry as a file-SD file of its own into the
// directory $dirEnv names and removes it when the test ends; what names the
// file in errors ("target", "alertmanager").
func writePrometheusSD(t testing.TB, dirEnv, what string, entry map[string]any) {
	t.Helper()
	dir := RequireAlso(t, Prometheus, dirEnv)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := filepath.Join(dir, "tend-test-"+hex.EncodeToString(b)+".json")
	data, err := json.Marshal([]map[string]any{entry})
	if err != nil {
		t.Fatal(err)
	}
	// Write under a name Prometheus ignores, then rename, so it never
	// reads half a file.
	if err := os.WriteFile(name+".tmp", data, 0o644); err != nil {
		t.Fatalf("write Prometheus %s file: %v", what, err)
	}
	if err := os.Rename(name+".tmp", name); err != nil {
		t.Fatalf("write Prometheus %s file: %v", what, err)
	}
	t.Cleanup(func() {
		if err := os.Remove(name); err != nil && !os.IsNotExist(err) {
			t.Errorf("remove Prometheus %s file: %v", what, err)
		}
	})
}

// WaitFor polls cond every interval until it holds, and fails the test
// with what it waited for and cond's last word once limit has passed.
// Tests wait this way for what a server does in the background, without
// asserting how long it took.
func WaitFor(t testing.TB, limit, interval time.Duration, what string, cond func() (ok bool, last string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %s; last: %s", what, limit, last)
		}
		time.Sleep(interval)
	}
}

// KeptnExamples returns the folder of Keptn's example files kept beside the
// module (../shared/keptn-examples from the module root, or
// $TEND_KEPTN_EXAMPLES). They are not part of the repository: tests that
// read them skip when the folder is absent.
func KeptnExamples(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("TEND_KEPTN_EXAMPLES")
	if dir == "" {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil || strings.TrimSpace(string(out)) == "" {
			t.Skipf("keptn examples: cannot find the module root: %v", err)
		}
		dir = filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "..", "shared", "keptn-examples")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("keptn examples not found at %s (set TEND_KEPTN_EXAMPLES): %v", dir, err)
	}
	return dir
}

// Fetch GETs u (10 s at most) and returns the body of a 200 answer, at
// most 4 MiB; any other status is an error quoting the body.
func Fetch(u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d: %s", u, resp.StatusCode, body)
	}
	return body, nil
}

// Describe is Fetch for a failure message: the body, or the error.
func Describe(u string) string {
	b, err := Fetch(u)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// WriteFileAtomic replaces path through a rename, so a component watching
// it (Prometheus's rules, Alertmanager's configuration) never reads half.
func WriteFileAtomic(t testing.TB, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// RandomHex returns n random bytes in hex, to keep a run's names (project,
// job, namespace) apart from other tests' on the shared components.
func RandomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
