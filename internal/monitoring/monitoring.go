// Package monitoring owns a project's SLI provider configuration: which
// monitoring system an evaluation asks (Prometheus or Dynatrace), where it is
// and with which credentials. The configuration is a store setting under the
// key "monitoring", scoped to a project, a stage, a service in every stage,
// or a service in one stage; Resolve picks the most specific.
//
// Secrets (passwords, bearer tokens, API tokens) sit in the store as the
// Git upstream token does, because querying needs them. They leave it only
// towards the provider: API answers mask them (Mask), and the evaluation
// steps never put the configuration into events, job payloads or logs.
package monitoring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/tendhq/tend/internal/store"
)

// SettingKey is the store setting that holds a Config.
const SettingKey = "monitoring"

// The providers tend has.
const (
	Prometheus = "prometheus"
	Dynatrace  = "dynatrace"
)

// Providers lists the provider names, for messages and documentation.
var Providers = []string{Prometheus, Dynatrace}

// ErrNotConfigured means no scope of a project, stage and service has a
// monitoring configuration.
var ErrNotConfigured = errors.New("no SLI provider configured")

// ErrInvalid marks a configuration that cannot be stored.
var ErrInvalid = errors.New("invalid monitoring configuration")

// Config is one stored monitoring configuration.
type Config struct {
	// Provider is "prometheus" or "dynatrace".
	Provider string `json:"provider"`
	// URL is Prometheus's base URL or the Dynatrace tenant's.
	URL string `json:"url"`
	// User and Password select basic authentication (Prometheus).
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	// BearerToken selects "Authorization: Bearer" (Prometheus).
	BearerToken string `json:"bearerToken,omitempty"`
	// Token is the Dynatrace API token.
	Token string `json:"token,omitempty"`
}

// Validate reports every problem of c at once, in words a CLI user can act
// on. It wraps ErrInvalid.
func (c Config) Validate() error {
	var probs []string
	switch c.Provider {
	case Prometheus:
		if c.Token != "" {
			probs = append(probs, "token is Dynatrace's API token; Prometheus takes user and password, or bearerToken")
		}
		if c.BearerToken != "" && (c.User != "" || c.Password != "") {
			probs = append(probs, "give either user and password, or bearerToken, not both")
		}
		if c.Password != "" && c.User == "" {
			probs = append(probs, "a password needs a user")
		}
		if c.User != "" && c.Password == "" {
			probs = append(probs, "a user needs a password")
		}
	case Dynatrace:
		if c.Token == "" {
			probs = append(probs, "dynatrace needs an API token (token) with the metrics.read scope")
		}
		if c.User != "" || c.Password != "" || c.BearerToken != "" {
			probs = append(probs, "dynatrace takes only url and token; user, password and bearerToken are Prometheus's")
		}
	case "":
		probs = append(probs, "provider is missing; want one of "+strings.Join(Providers, ", "))
	default:
		probs = append(probs, fmt.Sprintf("provider %q is unknown; want one of %s", c.Provider, strings.Join(Providers, ", ")))
	}
	if c.URL == "" {
		probs = append(probs, "url is missing; want e.g. http://prometheus:9090 or https://abc12345.live.dynatrace.com")
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		probs = append(probs, "url is not an http(s) URL with a host; want e.g. http://prometheus:9090")
	} else if u.User != nil {
		probs = append(probs, "url carries credentials; give them as user and password (or a token) so they are kept as secrets")
	} else if u.RawQuery != "" || u.Fragment != "" {
		probs = append(probs, "url has a query or fragment; give the base URL only")
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(probs, "; "))
	}
	return nil
}

// Secrets returns the secret values of c that are set, so that callers can
// check that none of them leaks.
func (c Config) Secrets() []string {
	var out []string
	for _, s := range []string{c.Password, c.BearerToken, c.Token} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Decode reads a stored configuration.
func Decode(value []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(value, &c); err != nil {
		return Config{}, fmt.Errorf("decode monitoring configuration: %w", err)
	}
	return c, nil
}

// Getter reads settings; store.Store and store.Tx satisfy it.
type Getter interface {
	GetSetting(ctx context.Context, sc store.Scope, key string) (store.Setting, error)
}

// Scopes returns the scopes a service's configuration may come from, most
// specific first: the service in the stage, the service in every stage
// (Keptn's `configure monitoring --project P --service X`), the stage, the
// project.
func Scopes(project, stage, service string) []store.Scope {
	return []store.Scope{
		{Project: project, Stage: stage, Service: service},
		{Project: project, Service: service},
		{Project: project, Stage: stage},
		{Project: project},
	}
}

// Resolve returns the most specific configuration of a project, stage and
// service, and the scope it came from. It returns an error wrapping
// ErrNotConfigured when no scope has one.
func Resolve(ctx context.Context, g Getter, project, stage, service string) (Config, store.Scope, error) {
	for _, sc := range Scopes(project, stage, service) {
		s, err := g.GetSetting(ctx, sc, SettingKey)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return Config{}, store.Scope{}, fmt.Errorf("read monitoring configuration: %w", err)
		}
		c, err := Decode(s.Value)
		if err != nil {
			return Config{}, sc, err
		}
		return c, sc, nil
	}
	return Config{}, store.Scope{}, fmt.Errorf("%w for project %s, stage %s, service %s", ErrNotConfigured, project, stage, service)
}

// Masked is the text that stands for a secret that is set.
const Masked = "****"

// Mask replaces every secret of a setting's JSON value by Masked and
// returns the masked value with the names (JSON paths such as "password")
// of the secrets that are set. A secret is any string member whose name
// contains password, token, secret or apikey (any case), so settings of
// other components are masked too without knowing their shape. Values that
// are not JSON are replaced whole.
func Mask(value []byte) (json.RawMessage, []string) {
	var v any
	if err := json.Unmarshal(value, &v); err != nil {
		b, _ := json.Marshal(Masked)
		return b, []string{"(value)"}
	}
	var set []string
	v = mask(v, "", &set)
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(Masked)
		return b, []string{"(value)"}
	}
	sort.Strings(set)
	return b, set
}

func mask(v any, path string, set *[]string) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if s, ok := val.(string); ok && isSecretName(k) {
				if s != "" {
					t[k] = Masked
					*set = append(*set, p)
				}
				continue
			}
			t[k] = mask(val, p, set)
		}
		return t
	case []any:
		for i := range t {
			t[i] = mask(t[i], fmt.Sprintf("%s[%d]", path, i), set)
		}
		return t
	}
	return v
}

func isSecretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"password", "token", "secret", "apikey"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
