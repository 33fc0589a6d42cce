package config

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Secret is a reference to a secret value: "file:PATH" (the file's content
// without its trailing newline) or "env:NAME" (an environment variable).
// A Secret never holds the value itself until Resolve.
type Secret struct {
	// Ref is the reference as written; "" means unset.
	Ref string
	// Value is the resolved value, set by Config.Resolve.
	Value string
}

// IsSet reports whether a reference is given.
func (s Secret) IsSet() bool { return s.Ref != "" }

// String shows the reference, never the value, so a Secret can be logged.
func (s Secret) String() string { return s.Ref }

func hasPassword(u string) bool {
	rest := u[strings.Index(u, "://")+3:]
	at := strings.IndexByte(rest, '@')
	if at < 0 {
		return false
	}
	slash := strings.IndexByte(rest, '/')
	if slash >= 0 && slash < at {
		return false
	}
	return strings.Contains(rest[:at], ":")
}

// IsRef reports whether s is a secret reference.
func IsRef(s string) bool {
	return strings.HasPrefix(s, "file:") || strings.HasPrefix(s, "env:")
}

// CheckRef checks that s is a usable secret reference.
func CheckRef(s string) error {
	switch {
	case strings.HasPrefix(s, "file:"):
		if strings.TrimPrefix(s, "file:") == "" {
			return errors.New("file: needs a path, e.g. file:/run/secrets/slack-url")
		}
	case strings.HasPrefix(s, "env:"):
		name := strings.TrimPrefix(s, "env:")
		if name == "" || strings.ContainsAny(name, "= \t") {
			return fmt.Errorf("env: needs a variable name, e.g. env:TEND_SLACK_URL, not %q", name)
		}
	default:
		return errors.New("secrets must not be written here in plain text: give file:PATH (the secret's file) or env:NAME (an environment variable)")
	}
	return nil
}

// ResolveRef returns the value a reference names.
func ResolveRef(ref string, getenv func(string) string) (string, error) {
	switch {
	case strings.HasPrefix(ref, "file:"):
		path := strings.TrimPrefix(ref, "file:")
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read secret file %s: %w", path, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", path)
		}
		return v, nil
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		v := getenv(name)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is not set or empty", name)
		}
		return v, nil
	}
	return "", CheckRef(ref)
}

// Resolve reads every secret reference's value. Errors name the setting
// and the reference, never a value.
func (c *Config) Resolve(getenv func(string) string) error {
	var probs []string
	res := func(name string, s *Secret) {
		if !s.IsSet() || s.Value != "" {
			return
		}
		v, err := ResolveRef(s.Ref, getenv)
		if err != nil {
			probs = append(probs, fmt.Sprintf("%s (%s): %v", name, s.Ref, err))
			return
		}
		s.Value = v
	}
	res("database", &c.Database)
	res("escalation.url", &c.Escalation.URL)
	names := make([]string, 0, len(c.Escalation.Headers))
	for k := range c.Escalation.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		s := c.Escalation.Headers[k]
		res("escalation.headers."+k, &s)
		c.Escalation.Headers[k] = s
	}
	if len(probs) > 0 {
		return fmt.Errorf("resolve secrets: %w", &Error{Problems: probs})
	}
	return nil
}
