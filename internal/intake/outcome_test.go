package intake

import "testing"

func TestKeyFingerprint(t *testing.T) {
	tests := []struct{ key, want string }{
		{"alertmanager/8dd2c31a47cf2e78/2021-11-26T10:57:14Z", "8dd2c31a47cf2e78"},
		{"alertmanager/unreadable/0123456789abcdef", "unreadable"},
		{"dynatrace/99999", "dynatrace/99999"},
		{"keptn/5f0c", "keptn/5f0c"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := KeyFingerprint(tt.key); got != tt.want {
				t.Errorf("KeyFingerprint(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}
