package auth

import (
	"strings"
	"testing"
)

func TestNewToken(t *testing.T) {
	seen := make(map[string]bool)
	for i := 0; i < 1000; i++ {
		tok, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok, TokenPrefix) || len(tok) != len(TokenPrefix)+43 {
			t.Fatalf("token %q: want %q and 43 characters", tok, TokenPrefix)
		}
		if err := CheckFormat(tok); err != nil {
			t.Fatalf("issued token fails CheckFormat: %v", err)
		}
		if seen[tok] {
			t.Fatalf("token %q issued twice", tok)
		}
		seen[tok] = true
	}
}

func TestCheckFormat(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{"issued shape", "tend_" + strings.Repeat("aB3-_", 8) + "xyz", ""},
		{"exactly 32", strings.Repeat("a", 32), ""},
		{"31 is too short", strings.Repeat("a", 31), "token is 31 characters long; tend tokens have at least 32"},
		{"empty", "", "token is 0 characters long"},
		{"too long", strings.Repeat("a", 257), "at most 256"},
		{"space", strings.Repeat("a", 32) + " ", `character ' ' at position 33`},
		{"base64 std alphabet", strings.Repeat("a", 31) + "+", `character '+' at position 32`},
		{"padding", strings.Repeat("a", 31) + "=", `character '='`},
		{"non-ASCII", strings.Repeat("a", 31) + "é", `character`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckFormat(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("CheckFormat: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("CheckFormat error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestHashVerify(t *testing.T) {
	tok := "tend_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	h := Hash(tok)
	// SHA-256 of the token, as `printf %s TOKEN | sha256sum` prints it.
	const want = "fb052adb21dd4b9ef1148e22c3235731c746568075b895094f032b627103a010"
	if h != want {
		t.Fatalf("Hash = %q, want %q", h, want)
	}
	if got := Sum(tok); len(got) != 32 {
		t.Fatalf("Sum has %d bytes, want 32", len(got))
	}
	tests := []struct {
		name      string
		hash, tok string
		want      bool
	}{
		{"right token", h, tok, true},
		{"upper-case hex hash", strings.ToUpper(h), tok, true},
		{"other token", h, tok + "x", false},
		{"empty token", h, "", false},
		{"truncated hash", h[:62], tok, false},
		{"not hex", strings.Repeat("z", 64), tok, false},
		{"empty hash", "", tok, false},
		{"the token itself is not its hash", tok, tok, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Verify(tt.hash, tt.tok); got != tt.want {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
	if !VerifySum(Sum(tok), tok) || VerifySum(Sum(tok)[:31], tok) || VerifySum(nil, "") {
		t.Error("VerifySum disagrees with Sum")
	}
}

func TestCheckName(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"ci", true}, {"admin", true}, {"Jenkins-prod.2", true}, {"a_b", true}, {strings.Repeat("a", 63), true},
		{"", false}, {strings.Repeat("a", 64), false}, {"-ci", false}, {".ci", false}, {"a b", false}, {"a/b", false},
	} {
		if err := CheckName(tt.in); (err == nil) != tt.ok {
			t.Errorf("CheckName(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}
