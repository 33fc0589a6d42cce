package intake

import (
	"strings"
	"testing"
)

func TestKeyFingerprint(t *testing.T) {
	tests := []struct{ key, want string }{
		{"alertmanager/sockshop/8dd2c31a47cf2e78/2021-11-26T10:57:14Z", "8dd2c31a47cf2e78"},
		{"alertmanager//8dd2c31a47cf2e78/2021-11-26T10:57:14Z", "8dd2c31a47cf2e78"},
		{"alertmanager/a/b/8dd2c31a47cf2e78/2021-11-26T10:57:14Z", "8dd2c31a47cf2e78"},
		{"alertmanager/unreadable/0123456789abcdef", "unreadable"},
		{"alertmanager/x", "alertmanager/x"},
		{"dynatrace/sockshop/99999", "dynatrace/sockshop/99999"},
		{"keptn/sockshop/5f0c", "keptn/sockshop/5f0c"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := KeyFingerprint(tt.key); got != tt.want {
				t.Errorf("KeyFingerprint(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

// FuzzKeyFingerprint checks that any key is read without a panic, and
// that a key built from a project (any text, slashes included), a
// fingerprint and a start time gives back the fingerprint.
func FuzzKeyFingerprint(f *testing.F) {
	f.Add("sockshop", "8dd2c31a47cf2e78", "2021-11-26T10:57:14Z")
	f.Add("a/b", "", "")
	f.Add("", "x", "/")
	f.Fuzz(func(t *testing.T, project, fp, start string) {
		_ = KeyFingerprint(project)
		if strings.Contains(fp, "/") || strings.Contains(start, "/") {
			return
		}
		key := "alertmanager/" + project + "/" + fp + "/" + start
		if got := KeyFingerprint(key); got != fp {
			t.Fatalf("KeyFingerprint(%q) = %q, want %q", key, got, fp)
		}
	})
}
