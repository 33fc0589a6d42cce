package tutorial

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/yamlnode"
)

// httpClient makes the story's own calls to the components.
var httpClient = &http.Client{Timeout: 15 * time.Second}

// call makes one HTTP call and returns the status and at most 1 MiB of
// the answer.
func call(ctx context.Context, method, u string, header map[string]string, body string) (int, []byte, error) {
	var r io.Reader = http.NoBody
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// postReload makes Prometheus or Alertmanager reread its configuration.
func postReload(ctx context.Context, base string) error {
	status, body, err := call(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+"/-/reload", nil, "")
	if err != nil {
		return fmt.Errorf("reload %s: %w", base, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("reload %s: status %d: %s", base, status, bytes.TrimSpace(body))
	}
	return nil
}

// unleash is the admin API of an Unleash.
type unleash struct {
	url, token string
}

func (u *unleash) call(ctx context.Context, method, path, body string) (int, []byte, error) {
	return call(ctx, method, strings.TrimSuffix(u.url, "/")+path, map[string]string{"Authorization": u.token}, body)
}

// FlagState reads whether flag is on in env of project, through Unleash's
// admin API.
func FlagState(ctx context.Context, unleashURL, adminToken, project, flag, env string) (bool, error) {
	u := &unleash{url: unleashURL, token: adminToken}
	return u.state(ctx, project, flag, env)
}

func (u *unleash) state(ctx context.Context, project, flag, env string) (bool, error) {
	status, body, err := u.call(ctx, http.MethodGet, "/api/admin/projects/"+url.PathEscape(project)+"/features/"+url.PathEscape(flag), "")
	if err != nil {
		return false, fmt.Errorf("unleash: read flag %s: %w", flag, err)
	}
	if status != http.StatusOK {
		return false, fmt.Errorf("unleash: read flag %s: status %d: %s", flag, status, bytes.TrimSpace(body))
	}
	var f struct {
		Environments []struct {
			Name    string `json:"name"`
			Enabled bool   `json:"enabled"`
		} `json:"environments"`
	}
	if err := json.Unmarshal(body, &f); err != nil {
		return false, fmt.Errorf("unleash: read flag %s: %w", flag, err)
	}
	for _, e := range f.Environments {
		if e.Name == env {
			return e.Enabled, nil
		}
	}
	return false, fmt.Errorf("unleash: flag %s has no environment %s", flag, env)
}

// ensureFlag creates flag in project unless it exists, and switches it
// off in env. It reports whether it created the flag.
func (u *unleash) ensureFlag(ctx context.Context, project, flag, env string) (bool, error) {
	status, body, err := u.call(ctx, http.MethodPost, "/api/admin/projects/"+url.PathEscape(project)+"/features",
		fmt.Sprintf(`{"name":%q,"type":"release","description":"The carts promotion of tend's self-healing tutorial"}`, flag))
	if err != nil {
		return false, fmt.Errorf("unleash: create flag %s: %w", flag, err)
	}
	created := status/100 == 2
	if !created && status != http.StatusConflict {
		return false, fmt.Errorf("unleash: create flag %s: status %d: %s", flag, status, bytes.TrimSpace(body))
	}
	return created, u.switchFlag(ctx, project, flag, env, false)
}

// switchFlag switches flag on or off in env.
func (u *unleash) switchFlag(ctx context.Context, project, flag, env string, on bool) error {
	state := "off"
	if on {
		state = "on"
	}
	status, body, err := u.call(ctx, http.MethodPost, "/api/admin/projects/"+url.PathEscape(project)+"/features/"+url.PathEscape(flag)+"/environments/"+url.PathEscape(env)+"/"+state, "")
	if err != nil {
		return fmt.Errorf("unleash: switch %s %s in %s: %w", flag, state, env, err)
	}
	if status/100 != 2 {
		return fmt.Errorf("unleash: switch %s %s in %s: status %d: %s", flag, state, env, status, bytes.TrimSpace(body))
	}
	return nil
}

// clientToken creates a client (SDK) token for env.
func (u *unleash) clientToken(ctx context.Context, name, env string) (string, error) {
	status, body, err := u.call(ctx, http.MethodPost, "/api/admin/api-tokens",
		fmt.Sprintf(`{"tokenName":%q,"type":"client","environment":%q,"projects":["*"]}`, name, env))
	if err != nil {
		return "", fmt.Errorf("unleash: create a client token: %w", err)
	}
	if status/100 != 2 {
		return "", fmt.Errorf("unleash: create a client token: status %d: %s", status, bytes.TrimSpace(body))
	}
	var t struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.Secret == "" {
		return "", fmt.Errorf("unleash: create a client token: no secret in the answer (%v)", err)
	}
	return t.Secret, nil
}

// sdGroup is one entry of a Prometheus file-SD file.
type sdGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// writeSD writes a file-SD file named after prefix with a random suffix
// into dir, through a rename so Prometheus never reads half of it, and
// returns its path.
func writeSD(dir, prefix string, groups []sdGroup) (string, error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := filepath.Join(dir, prefix+"-"+hex.EncodeToString(b)+".json")
	data, err := json.Marshal(groups)
	if err != nil {
		return "", err
	}
	return name, replaceFile(name, data)
}

// replaceFile writes data to path through a temporary file beside it
// that no *.json or *.yml glob matches, keeping path's mode.
func replaceFile(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// promGet reads a Prometheus API answer's data.
func promGet(ctx context.Context, base, path string, data any) error {
	status, body, err := call(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+path, nil, "")
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("prometheus %s: status %d: %s", path, status, bytes.TrimSpace(body))
	}
	var answer struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return fmt.Errorf("prometheus %s: %w", path, err)
	}
	return json.Unmarshal(answer.Data, data)
}

// promQuery runs an instant query that returns one number.
func promQuery(ctx context.Context, base, query string) (float64, error) {
	var data struct {
		Result []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	if err := promGet(ctx, base, "/api/v1/query?query="+url.QueryEscape(query), &data); err != nil {
		return 0, err
	}
	if len(data.Result) != 1 {
		return 0, fmt.Errorf("the query returned %d series, want 1", len(data.Result))
	}
	s, _ := data.Result[0].Value[1].(string)
	var v float64
	if _, err := fmt.Sscan(s, &v); err != nil {
		return 0, fmt.Errorf("query value %q: %w", s, err)
	}
	return v, nil
}

// ruleState says what Prometheus reports about the alerting rule alert
// of the story's group.
func ruleState(ctx context.Context, base, group, alert string) (string, error) {
	var data struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Name      string `json:"name"`
				State     string `json:"state"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := promGet(ctx, base, "/api/v1/rules?type=alert", &data); err != nil {
		return "", err
	}

	for _, g := range data.Groups {
		for _, r := range g.Rules {
			if g.Name == group && r.Name == alert {
				return fmt.Sprintf("%s, health %s %s", r.State, r.Health, r.LastError), nil
			}
		}
	}
	return "", fmt.Errorf("rule %s of group %s is not loaded", alert, group)
}

// waitTargetUp waits (up to a minute) until Prometheus scrapes addr as
// job successfully.
func waitTargetUp(ctx context.Context, base, job, addr string) error {
	return waitUntil(ctx, time.Minute, func() (bool, string) {
		var data struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				ScrapeURL string            `json:"scrapeUrl"`
				Health    string            `json:"health"`
				LastError string            `json:"lastError"`
			} `json:"activeTargets"`
		}
		if err := promGet(ctx, base, "/api/v1/targets?state=active", &data); err != nil {
			return false, err.Error()
		}
		for _, t := range data.ActiveTargets {
			if t.Labels["job"] == job && strings.Contains(t.ScrapeURL, "//"+addr+"/") {
				return t.Health == "up", fmt.Sprintf("target health %q %s", t.Health, t.LastError)
			}
		}
		return false, "target not discovered yet"
	}, "Prometheus to scrape carts at "+addr)
}

// waitAlertmanagerActive waits (up to a minute) until Prometheus lists the
// Alertmanager at host as active.
func waitAlertmanagerActive(ctx context.Context, base, host string) error {
	return waitUntil(ctx, time.Minute, func() (bool, string) {
		var data struct {
			Active []struct {
				URL string `json:"url"`
			} `json:"activeAlertmanagers"`
		}
		if err := promGet(ctx, base, "/api/v1/alertmanagers", &data); err != nil {
			return false, err.Error()
		}
		var urls []string
		for _, a := range data.Active {
			if strings.Contains(a.URL, "//"+host+"/") {
				return true, ""
			}
			urls = append(urls, a.URL)
		}
		return false, fmt.Sprintf("active: %v", urls)
	}, "Prometheus to list Alertmanager "+host)
}

// waitUntil polls cond every 200 ms until it holds, or fails after limit
// with cond's last word.
func waitUntil(ctx context.Context, limit time.Duration, cond func() (bool, string), what string) error {
	deadline := time.Now().Add(limit)
	for {
		ok, last := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up waiting %s for %s: %s", limit, what, last)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// resolveAlerts marks every active alert of project in the Alertmanager
// at base as resolved (posting it back with endsAt now) and returns how
// many there were. Alertmanager keeps an alert whose rule disappeared until
// its endsAt, minutes later; resolving it leaves a shared Alertmanager as
// the story found it.
func resolveAlerts(ctx context.Context, base, project string) (int, error) {
	base = strings.TrimSuffix(base, "/")
	q := url.Values{"active": {"true"}, "silenced": {"false"}, "inhibited": {"false"}, "filter": {fmt.Sprintf("project=%q", project)}}
	status, body, err := call(ctx, http.MethodGet, base+"/api/v2/alerts?"+q.Encode(), nil, "")
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("list alerts: status %d: %s", status, bytes.TrimSpace(body))
	}
	var alerts []struct {
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     string            `json:"startsAt"`
		GeneratorURL string            `json:"generatorURL"`
	}
	if err := json.Unmarshal(body, &alerts); err != nil {
		return 0, fmt.Errorf("list alerts: %w", err)
	}
	if len(alerts) == 0 {
		return 0, nil
	}
	type postable struct {
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations,omitempty"`
		StartsAt     string            `json:"startsAt,omitempty"`
		EndsAt       string            `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL,omitempty"`
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	out := make([]postable, 0, len(alerts))
	for _, a := range alerts {
		out = append(out, postable{Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt, EndsAt: now, GeneratorURL: a.GeneratorURL})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return 0, err
	}
	status, body, err = call(ctx, http.MethodPost, base+"/api/v2/alerts", nil, string(b))
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("resolve alerts: status %d: %s", status, bytes.TrimSpace(body))
	}
	return len(alerts), nil
}

// unmergeAlertmanagerFile removes what `tend generate alertmanager-config
// --merge --receiver-name receiver` added to the file at path: the routes
// of route.routes that send to receiver, and the receiver. Everything else
// stays, so that others sharing the Alertmanager keep their routes.
func unmergeAlertmanagerFile(path, receiver string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, changed, err := unmergeAlertmanager(data, receiver)
	if err != nil || !changed {
		return err
	}
	return replaceFile(path, out)
}

// unmergeAlertmanager removes the routes and the receiver named receiver
// from an Alertmanager configuration and reports whether it changed it.
func unmergeAlertmanager(data []byte, receiver string) ([]byte, bool, error) {
	// The file is the user's: read it within yamlnode's limits, which
	// refuse an alias that contains itself or expands without bound.
	doc, err := yamlnode.NewDecoder(data).Decode()
	if errors.Is(err, io.EOF) {
		return data, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the Alertmanager configuration: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return data, false, nil
	}
	changed := false
	top := doc.Content[0]
	if route := mapValue(top, "route"); route != nil && route.Kind == yaml.MappingNode {
		if routes := mapValue(route, "routes"); routes != nil && routes.Kind == yaml.SequenceNode {
			kept := routes.Content[:0]
			for _, r := range routes.Content {
				if v := mapValue(r, "receiver"); v != nil && v.Value == receiver {
					changed = true
					continue
				}
				kept = append(kept, r)
			}
			routes.Content = kept
		}
	}
	if recs := mapValue(top, "receivers"); recs != nil && recs.Kind == yaml.SequenceNode {
		kept := recs.Content[:0]
		for _, r := range recs.Content {
			if v := mapValue(r, "name"); v != nil && v.Value == receiver {
				changed = true
				continue
			}
			kept = append(kept, r)
		}
		recs.Content = kept
	}
	if !changed {
		return data, false, nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, false, err
	}
	return buf.Bytes(), true, nil
}

// mapValue returns the value of key in a mapping node, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
