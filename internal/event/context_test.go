package event

import (
	"strings"
	"testing"
)

func TestContextNamespaceDerivation(t *testing.T) {
	// RFC 9562's URL namespace; the namespace is documented as derived
	// from it, and must never change.
	const urlNamespace = "6ba7b811-9dad-11d1-80b4-00c04fd430c8"
	if got := nameUUID(urlNamespace, "https://github.com/tendhq/tend/keptn-context"); got != ContextNamespace {
		t.Errorf("derived namespace %s, want ContextNamespace %s", got, ContextNamespace)
	}
}

func TestNameUUIDKnownVector(t *testing.T) {
	// The RFC's DNS namespace and "python.org": a vector other
	// implementations publish (Python's uuid module documentation).
	const dns = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	if got := nameUUID(dns, "python.org"); got != "886313e1-3b8a-5372-9b90-0c9aee199e5d" {
		t.Errorf("nameUUID(DNS, python.org) = %s", got)
	}
}

func TestContextFor(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"UUID is kept", "08735340-6f9e-4b32-97ff-3b6c292bc50f", "08735340-6f9e-4b32-97ff-3b6c292bc50f"},
		{"upper-case UUID is lower-cased", "08735340-6F9E-4B32-97FF-3B6C292BC50F", "08735340-6f9e-4b32-97ff-3b6c292bc50f"},
		{"Dynatrace PID", "-6478017825120311599_1641223491837V2", "0bb0fab6-f28c-55a1-860b-c9e80b5f9b51"},
		{"template placeholder", "$KEPTN_CONTEXT", "4f8409f5-88b2-5d2c-afb0-3f2c654588ed"},
		{"braced UUID is not canonical", "{08735340-6f9e-4b32-97ff-3b6c292bc50f}", nameUUID(ContextNamespace, "{08735340-6f9e-4b32-97ff-3b6c292bc50f}")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ContextFor(tt.in)
			if got != tt.want {
				t.Errorf("ContextFor(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := ContextFor(tt.in); again != got {
				t.Errorf("ContextFor(%q) is not deterministic: %q then %q", tt.in, got, again)
			}
			if !IsUUID(got) || got != strings.ToLower(got) {
				t.Errorf("ContextFor(%q) = %q is not a lower-case UUID", tt.in, got)
			}
		})
	}
	t.Run("distinct PIDs get distinct contexts", func(t *testing.T) {
		if ContextFor("P-1") == ContextFor("P-2") || ContextFor("P-1") == ContextFor("p-1") {
			t.Error("different PIDs mapped to one context")
		}
	})
	t.Run("empty gets a fresh random UUID", func(t *testing.T) {
		a, b := ContextFor(""), ContextFor("")
		if a == b || !IsUUID(a) || !IsUUID(b) {
			t.Errorf("ContextFor(\"\") gave %q and %q", a, b)
		}
		if a[14] != '4' || !strings.ContainsRune("89ab", rune(a[19])) {
			t.Errorf("%q is not a version 4, RFC variant UUID", a)
		}
	})
}

func TestIsUUID(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"08735340-6f9e-4b32-97ff-3b6c292bc50f", true},
		{"08735340-6F9E-4B32-97FF-3B6C292BC50F", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"", false},
		{"08735340-6f9e-4b32-97ff-3b6c292bc50", false},
		{"08735340-6f9e-4b32-97ff-3b6c292bc50f0", false},
		{"087353406f9e-4b32-97ff-3b6c292bc50f-", false},
		{"0873534g-6f9e-4b32-97ff-3b6c292bc50f", false},
		{"urn:uuid:08735340-6f9e-4b32-97ff-3b6c", false},
	} {
		if got := IsUUID(tt.in); got != tt.want {
			t.Errorf("IsUUID(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestDerivedID pins the ids the engines derive: they are idempotency
// keys in stored event logs, so they must never change.
func TestDerivedID(t *testing.T) {
	ns := [16]byte{0x2d, 0x8e, 0x41, 0xa7, 0x5c, 0x13, 0x4f, 0x02, 0xb1, 0x6a, 0x93, 0x0e, 0x7d, 0xc4, 0x58, 0x21}
	if got, want := DerivedID(ns, "ctx-1", "dev", "deployment"), "5bcb29e1-4c78-5208-bece-e464dce9c967"; got != want {
		t.Errorf("DerivedID = %s, want %s", got, want)
	}
	if got, want := DerivedID(parseUUID(ContextNamespace), "ctx-1"), nameUUID(ContextNamespace, "ctx-1"); got != want {
		t.Errorf("DerivedID of one part = %s, want nameUUID's %s", got, want)
	}
}
