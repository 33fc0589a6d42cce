package webhook

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/store"
)

type fakeSettings map[string]string

func (f fakeSettings) GetSetting(_ context.Context, sc store.Scope, key string) (store.Setting, error) {
	v, ok := f[key]
	if !ok || sc != (store.Scope{Project: "p"}) {
		return store.Setting{}, store.ErrNotFound
	}
	return store.Setting{Scope: sc, Key: key, Value: []byte(v)}, nil
}

func TestSecretSettings(t *testing.T) {
	t.Run("the value is stored as secret", func(t *testing.T) {
		out, err := SecretSchema.Normalize([]byte(`{"value":"s3cr3t","url":"https://hooks.example/restart"}`))
		if err != nil || string(out) != `{"secret":"s3cr3t","url":"https://hooks.example/restart"}` {
			t.Errorf("Normalize = %s, %v", out, err)
		}
		got, set := SecretSchema.Mask(out)
		if string(got) != `{"secret":"****","url":"https://hooks.example/restart"}` || len(set) != 1 {
			t.Errorf("Mask = %s %v", got, set)
		}
	})
	for _, tt := range []struct{ value, want string }{
		{`{"value":"","url":"https://h"}`, "value is missing"},
		{`{}`, "value is missing"},
		{`{"value":"x"}`, "url is missing; give the URL"},
		{`{"value":"x","url":"ftp://h"}`, `url "ftp://h" is not an http(s) URL`},
		{`{"valeu":"x"}`, `unknown field "valeu"; the fields are value, url`},
	} {
		if _, err := SecretSchema.Normalize([]byte(tt.value)); !errors.Is(err, settings.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Normalize(%s) = %v; want %q", tt.value, err, tt.want)
		}
	}
	for _, name := range []string{"", "1abc", "a b", strings.Repeat("a", 64)} {
		if err := SecretSchema.CheckName(name); !errors.Is(err, settings.ErrInvalid) {
			t.Errorf("CheckName(%q) = %v; want ErrInvalid", name, err)
		}
	}
	resolve := FromSettings(fakeSettings{
		"secret/token":   `{"secret":"v","url":"https://hooks.example/restart"}`,
		"secret/unbound": `{"secret":"v"}`,
		"secret/broken":  `{`,
	})
	to := func(raw string) *url.URL {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	if v, err := resolve(context.Background(), "p", "token", to("https://hooks.example/restart/carts")); err != nil || v != "v" {
		t.Errorf("token = %q, %v", v, err)
	}
	for _, tt := range []struct{ name, target, want string }{
		{"missing", "https://hooks.example/restart", "no secret"},
		{"broken", "https://hooks.example/restart", "unreadable"},
		{"unbound", "https://hooks.example/restart", "bound to no URL"},
		{"token", "https://evil.example/restart", "is not sent to https://evil.example/restart"},
	} {
		_, err := resolve(context.Background(), "p", tt.name, to(tt.target))
		if !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), `"v"`) {
			t.Errorf("%s to %s: err = %v; want a final error with %q", tt.name, tt.target, err, tt.want)
		}
	}
}

func TestAllows(t *testing.T) {
	tests := []struct {
		prefix, target string
		want           bool
	}{
		{"https://hooks.example/restart", "https://hooks.example/restart", true},
		{"https://hooks.example/restart", "https://hooks.example/restart/carts?x=1", true},
		{"https://hooks.example/restart/", "https://hooks.example/restart", true},
		{"https://hooks.example", "https://hooks.example/anything", true},
		{"https://hooks.example:443/", "https://HOOKS.example/x", true},
		{"http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook", true},
		{"https://hooks.example/restart", "https://hooks.example/restartx", false},
		{"https://hooks.example/restart", "https://hooks.example/restart/../admin", false},
		{"https://hooks.example/restart", "https://hooks.example/other", false},
		{"https://hooks.example/restart", "http://hooks.example/restart", false},
		{"https://hooks.example/restart", "https://hooks.example:8443/restart", false},
		{"https://hooks.example/restart", "https://hooks.example.evil.example/restart", false},
		{"https://hooks.example/restart", "https://evil.example/restart", false},
		{"http://127.0.0.1:8080/hook", "http://127.0.0.1:8081/hook", false},
		{"https://hooks.example/restart", "https://u:p@hooks.example/restart", false},
		{"", "https://hooks.example/restart", false},
		{"ftp://hooks.example/", "ftp://hooks.example/x", false},
	}
	for _, tt := range tests {
		t.Run(tt.prefix+" "+tt.target, func(t *testing.T) {
			u, err := url.Parse(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			if got := Allows(tt.prefix, u); got != tt.want {
				t.Errorf("Allows(%q, %q) = %v; want %v", tt.prefix, tt.target, got, tt.want)
			}
		})
	}
}

func FuzzAllows(f *testing.F) {
	f.Add("https://hooks.example/restart", "https://hooks.example/restart/x")
	f.Add("http://127.0.0.1:80/", "http://127.0.0.1/a/../b")
	f.Add("https://h/a", "https://h/a%2f..%2fb")
	f.Fuzz(func(t *testing.T, prefix, target string) {
		u, err := url.Parse(target)
		if err != nil || !Allows(prefix, u) {
			return
		}
		p, _ := url.Parse(prefix)
		if !strings.EqualFold(p.Hostname(), u.Hostname()) || !strings.EqualFold(p.Scheme, u.Scheme) {
			t.Fatalf("%q allowed %q on another scheme or host", prefix, target)
		}
		if !strings.HasPrefix(u.Path, strings.TrimSuffix(p.Path, "/")) {
			t.Fatalf("%q allowed %q outside its path", prefix, target)
		}
		if strings.Contains("/"+u.Path+"/", "/../") {
			t.Fatalf("%q allowed %q, which climbs out of its path", prefix, target)
		}
	})
}
