package auth

import (
	"net/http"
	"strings"
	"testing"
)

const tok = "tend_AbC123-_xyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzx"

func TestFromHeader(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   string // "" means ok=false
	}{
		{"x-token", http.Header{"X-Token": {tok}}, tok},
		{"x-token padded", http.Header{"X-Token": {"  " + tok + " "}}, tok},
		{"bearer", http.Header{"Authorization": {"Bearer " + tok}}, tok},
		{"bearer lower case", http.Header{"Authorization": {"bearer " + tok}}, tok},
		{"bearer upper case", http.Header{"Authorization": {"BEARER " + tok}}, tok},
		{"bearer extra spaces", http.Header{"Authorization": {"Bearer    " + tok}}, tok},
		{"both, same token", http.Header{"X-Token": {tok}, "Authorization": {"Bearer " + tok}}, tok},
		{"x-token beside Basic meant for a proxy", http.Header{"X-Token": {tok}, "Authorization": {"Basic dXNlcjpwYXNz"}}, tok},
		{"empty x-token, bearer set", http.Header{"X-Token": {""}, "Authorization": {"Bearer " + tok}}, tok},
		{"short token is passed on", http.Header{"X-Token": {"abc"}}, "abc"},
		{"no headers", http.Header{}, ""},
		{"empty x-token", http.Header{"X-Token": {"  "}}, ""},
		{"basic", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, ""},
		{"basic with a token-like value", http.Header{"Authorization": {"Basic " + tok}}, ""},
		{"no scheme", http.Header{"Authorization": {tok}}, ""},
		{"bearer without token", http.Header{"Authorization": {"Bearer"}}, ""},
		{"bearer with spaces only", http.Header{"Authorization": {"Bearer   "}}, ""},
		{"bearer with tab", http.Header{"Authorization": {"Bearer\t" + tok}}, ""},
		{"token scheme", http.Header{"Authorization": {"Token " + tok}}, ""},
		{"bearer with two words", http.Header{"Authorization": {"Bearer " + tok + " extra"}}, ""},
		{"x-token with a bad character", http.Header{"X-Token": {tok + "!"}}, ""},
		{"x-token too long", http.Header{"X-Token": {strings.Repeat("a", 257)}}, ""},
		{"x-token repeated", http.Header{"X-Token": {tok, tok}}, ""},
		{"authorization repeated", http.Header{"Authorization": {"Bearer " + tok, "Bearer " + tok}}, ""},
		{"x-token and bearer differ", http.Header{"X-Token": {tok}, "Authorization": {"Bearer " + tok + "x"}}, ""},
		{"bad bearer beside good x-token", http.Header{"X-Token": {tok}, "Authorization": {"Bearer a.b.c"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := FromHeader(tt.header)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("FromHeader = %q, %v; want %q, %v", got, ok, tt.want, tt.want != "")
			}
		})
	}
}

func TestFromHeaderCanonicalises(t *testing.T) {
	// Headers set through Set or read off the wire are canonical, whatever
	// case the client wrote: x-token arrives as X-Token.
	h := http.Header{}
	h.Set("x-token", tok)
	if got, ok := FromHeader(h); !ok || got != tok {
		t.Errorf("FromHeader after Set(x-token) = %q, %v", got, ok)
	}
}

func FuzzFromHeader(f *testing.F) {
	f.Add(tok, "")
	f.Add("", "Bearer "+tok)
	f.Add("", "bEaReR "+tok)
	f.Add(tok, "Bearer "+tok)
	f.Add("", "Basic dXNlcjpwYXNz")
	f.Add(" \t", "Bearer \x00")
	f.Fuzz(func(t *testing.T, xToken, authorization string) {
		h := http.Header{}
		if xToken != "" {
			h["X-Token"] = []string{xToken}
		}
		if authorization != "" {
			h["Authorization"] = []string{authorization}
		}
		got, ok := FromHeader(h)
		if !ok {
			if got != "" {
				t.Fatalf("FromHeader returned %q with ok=false", got)
			}
			return
		}
		if got == "" || !plausibleToken(got) {
			t.Fatalf("FromHeader returned implausible token %q", got)
		}
		if !strings.Contains(xToken, got) && !strings.Contains(authorization, got) {
			t.Fatalf("token %q appears in neither header", got)
		}
		scheme, _, _ := strings.Cut(strings.TrimSpace(authorization), " ")
		if !strings.Contains(xToken, got) && !strings.EqualFold(scheme, "bearer") {
			t.Fatalf("token %q taken from a %q Authorization header", got, scheme)
		}
	})
}
