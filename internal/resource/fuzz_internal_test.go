package resource

import (
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzValidateName checks that an accepted name is safe as a Git branch and
// as a folder name, and that a refused one is refused with ErrInvalidName
// and names its kind.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"sockshop", "carts-primary", "a", "a_b", "-a", "a-", "..", "a/b", "a b", "é", strings.Repeat("a", MaxNameLength+1), "a.git", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateName("stage", name)
		if err != nil {
			if !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), "stage") {
				t.Fatalf("ValidateName(%q) = %v, want ErrInvalidName naming the stage", name, err)
			}
			return
		}
		if name == "" || len(name) > MaxNameLength {
			t.Fatalf("ValidateName accepted %q of length %d", name, len(name))
		}
		for i, r := range name {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
			if !ok {
				t.Fatalf("ValidateName accepted %q with %q at %d", name, r, i)
			}
		}
		if strings.IndexAny(name[:1], "-_") == 0 || strings.IndexAny(name[len(name)-1:], "-_") == 0 {
			t.Fatalf("ValidateName accepted %q, which starts or ends with - or _", name)
		}
		if filepath.Base(name) != name || filepath.Clean(name) != name || strings.Contains(name, "..") {
			t.Fatalf("ValidateName accepted %q, which is not one plain folder name", name)
		}
	})
}

// FuzzRedactURL checks that the password and the query of a URL never
// survive redactURL: a secret placed there is not in its result.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"https://github.com/org/repo.git", "http://host:8080/a?b=c#d", "ssh://git@host/repo", "git@github.com:org/repo.git", "/srv/git/repo", "", "://", "https://[::1]:443/x"} {
		f.Add(s)
	}
	const secret = "SECRET7f3a"
	f.Fuzz(func(t *testing.T, raw string) {
		_ = redactURL(raw) // anything, without a panic
		if strings.Contains(raw, "%") || strings.Contains(strings.ToUpper(raw), "SECRET") {
			return // the secret must appear only where it is placed below
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" || u.Opaque != "" || u.Host == "" {
			return
		}
		u.User = url.UserPassword("tend", secret)
		u.RawQuery = "private_token=" + secret
		u.Fragment = secret
		in := u.String()
		if out := redactURL(in); strings.Contains(out, secret) {
			t.Fatalf("redactURL(%q) = %q, which still holds the secret", in, out)
		}
		// The user information of a scp-like address goes too.
		in = "tend:" + secret + "@" + u.Host + ":" + strings.TrimPrefix(u.Path, "/")
		if out := redactURL(in); strings.Contains(out, secret) {
			t.Fatalf("redactURL(%q) = %q, which still holds the secret", in, out)
		}
	})
}
