package outbound

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

func TestParseRule(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{in: "10.0.0.0/8"},
		{in: "10.1.2.3/8"}, // masked to 10.0.0.0/8
		{in: "fd00::/8"},
		{in: "192.168.1.1"},
		{in: "::ffff:10.0.0.0/104"},
		{in: "prometheus.internal"},
		{in: "*.corp.example"},
		{in: "Metadata.Google.Internal."},
		{in: "", wantErr: "is empty"},
		{in: "10.0.0.0/33", wantErr: "not a CIDR"},
		{in: "fe80::1%eth0", wantErr: "has a zone"},
		{in: "http://x", wantErr: "not a CIDR"},
		{in: "a b", wantErr: "neither"},
		{in: "-bad.example", wantErr: "neither"},
		{in: "*.", wantErr: "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseRule(tt.in)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("ParseRule(%q) = %v", tt.in, err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("ParseRule(%q) = %v; want an error with %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func mustPolicy(t testing.TB, o Options) *Policy {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheck(t *testing.T) {
	def := Default()
	strict := mustPolicy(t, Options{Allow: []string{"10.0.0.0/8", "prom.example", "127.0.0.0/8"}, Deny: []string{"10.9.0.0/16", "*.evil.example"}})
	tests := []struct {
		name   string
		p      *Policy
		host   string
		addr   string
		denied string // part of the rule; "" = allowed
	}{
		{"loopback by default", def, "127.0.0.1", "", ""},
		{"ipv6 loopback by default", def, "::1", "", ""},
		{"localhost by default", def, "localhost", "127.0.0.1", ""},
		{"public name", def, "prometheus.example.com", "", ""},
		{"metadata address", def, "169.254.169.254", "", "cloud metadata"},
		{"metadata mapped", def, "::ffff:169.254.169.254", "", "cloud metadata"},
		{"link-local", def, "169.254.10.1", "", "link-local"},
		{"link-local v6", def, "fe80::1%eth0", "", "link-local"},
		{"aws v6 metadata", def, "fd00:ec2::254", "", "cloud metadata"},
		{"gcp name", def, "Metadata.Google.Internal.", "", "cloud metadata"},
		{"name resolving to metadata", def, "innocent.example", "169.254.169.254", "cloud metadata"},
		{"allow list hit", strict, "10.1.2.3", "", ""},
		{"allow list by name", strict, "prom.example", "192.0.2.1", ""},
		{"allow list miss", strict, "192.0.2.1", "", "outbound.allow"},
		{"allow list miss resolved", strict, "other.example", "192.0.2.1", "outbound.allow"},
		{"unresolved name left to dial time", strict, "other.example", "", ""},
		{"deny wins over allow", strict, "10.9.1.1", "", "10.9.0.0/16"},
		{"deny suffix", strict, "a.b.evil.example", "", "*.evil.example"},
		{"deny suffix is not the domain itself", strict, "evil.example", "10.0.0.1", ""},
		{"defaults stay under an allow list", mustPolicy(t, Options{Allow: []string{"0.0.0.0/0"}}), "169.254.169.254", "", "cloud metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a netip.Addr
			if tt.addr != "" {
				a = netip.MustParseAddr(tt.addr)
			}
			err := tt.p.Check(tt.host, a)
			if tt.denied == "" {
				if err != nil {
					t.Fatalf("Check(%q, %v) = %v; want allowed", tt.host, a, err)
				}
				return
			}
			if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), tt.denied) {
				t.Fatalf("Check(%q, %v) = %v; want denied by %q", tt.host, a, err, tt.denied)
			}
		})
	}
}

func TestNewReportsEveryBadRule(t *testing.T) {
	_, err := New(Options{Allow: []string{"10.0.0.0/99"}, Deny: []string{"a b", "ok.example"}})
	if err == nil || !strings.Contains(err.Error(), "outbound.allow") || !strings.Contains(err.Error(), "outbound.deny") {
		t.Fatalf("New = %v; want both bad rules named", err)
	}
}

func TestCheckURL(t *testing.T) {
	p := Default()
	tests := []struct{ raw, want string }{
		{"http://127.0.0.1:9090", ""},
		{"https://prom.example.com/prefix", ""},
		{"http://169.254.169.254/latest/meta-data/", "url http://169.254.169.254/latest/meta-data/: 169.254.169.254 is denied"},
		{"http://[fd00:ec2::254]/", "cloud metadata"},
		{"http://metadata.google.internal/computeMetadata/v1/", "cloud metadata"},
		{"file:///etc/passwd", "is not an http(s) URL"},
		{"gopher://x", "is not an http(s) URL"},
		{"http://u:secret@169.254.169.254/", "xxxxx@"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got := p.CheckURL("url", tt.raw)
			if tt.want == "" && got != "" || tt.want != "" && tt.want != "xxxxx@" && !strings.Contains(got, tt.want) {
				t.Fatalf("CheckURL(%q) = %q; want %q", tt.raw, got, tt.want)
			}
			if strings.Contains(got, "secret") {
				t.Fatalf("CheckURL(%q) = %q shows the password", tt.raw, got)
			}
		})
	}
}

func TestCheckUpstream(t *testing.T) {
	p := Default()
	files := mustPolicy(t, Options{AllowFileUpstreams: true})
	tests := []struct {
		name, raw string
		p         *Policy
		want      string
	}{
		{"https", "https://github.com/org/repo.git", p, ""},
		{"ssh", "ssh://git@github.com/org/repo.git", p, ""},
		{"scp-like", "git@github.com:org/repo.git", p, ""},
		{"file URL", "file:///srv/git/repo.git", p, "local path or file:// URL"},
		{"absolute path", "/srv/git/repo.git", p, "local path or file:// URL"},
		{"relative path", "repo.git", p, "local path or file:// URL"},
		{"windows path", `C:\repos\r.git`, p, "local path or file:// URL"},
		{"http", "http://git.example/r.git", p, `scheme "http" is not allowed`},
		{"git protocol", "git://git.example/r.git", p, `scheme "git" is not allowed`},
		{"metadata host", "https://169.254.169.254/r.git", p, "cloud metadata"},
		{"scp-like metadata", "git@169.254.169.254:r.git", p, "cloud metadata"},
		{"file allowed for tests", "/srv/git/repo.git", files, ""},
		{"file URL allowed for tests", "file:///srv/git/repo.git", files, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.p.CheckUpstream(tt.raw)
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Fatalf("CheckUpstream(%q) = %q; want %q", tt.raw, got, tt.want)
			}
		})
	}
}

// mapLookup resolves names from a table, as /etc/hosts would.
func mapLookup(m map[string]string) Lookup {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		a, ok := m[host]
		if !ok {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
}

// TestTransportChecksResolvedAddresses: a name that passes the check when
// stored but resolves to a denied address is refused at connection time,
// and the receiver never sees the request; loopback stays reachable.
func TestTransportChecksResolvedAddresses(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	deny127 := mustPolicy(t, Options{Deny: []string{"127.0.0.2"}})
	lookup := mapLookup(map[string]string{
		"rebound.test": "169.254.169.254",
		"loop.test":    "127.0.0.1",
		"denied.test":  "127.0.0.2",
	})
	tests := []struct {
		name   string
		p      *Policy
		host   string
		denied string
	}{
		{"loopback by address", Default(), "127.0.0.1", ""},
		{"loopback by name", Default(), "loop.test", ""},
		{"name rebound to metadata", Default(), "rebound.test", "cloud metadata"},
		{"name resolving to a denied loopback address", deny127, "denied.test", "127.0.0.2"},
		{"denied literal", deny127, "127.0.0.2", "127.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			c := tt.p.Client(TransportOptions{Lookup: lookup})
			u := (&url.URL{Scheme: "http", Host: net.JoinHostPort(tt.host, strconv.Itoa(port)), Path: "/"}).String()
			resp, err := c.Get(u)
			if tt.denied == "" {
				if err != nil {
					t.Fatalf("GET %s: %v", u, err)
				}
				resp.Body.Close()
				if hits.Load() != 1 {
					t.Fatalf("server saw %d requests; want 1", hits.Load())
				}
				return
			}
			if err == nil {
				resp.Body.Close()
				t.Fatalf("GET %s succeeded; want it denied", u)
			}
			if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), tt.denied) {
				t.Fatalf("GET %s: %v; want denied by %q", u, err, tt.denied)
			}
			if hits.Load() != 0 {
				t.Fatalf("server saw %d requests; want none", hits.Load())
			}
		})
	}
}

// TestControlChecksTheSocket: the dialer's Control refuses a denied
// address even when the resolver step is skipped.
func TestControlChecksTheSocket(t *testing.T) {
	p := mustPolicy(t, Options{Deny: []string{"127.0.0.0/8"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dial := p.DialContext(&net.Dialer{}, nil)
	_, err = dial(context.Background(), "tcp", ln.Addr().String())
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("dial %s = %v; want denied", ln.Addr(), err)
	}
	if err := p.checkSocket(ln.Addr().String()); !errors.Is(err, ErrDenied) {
		t.Fatalf("checkSocket = %v; want denied", err)
	}
}

func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "::ffff:1.2.3.4/120", "*.example.com", "fe80::1%eth0", "", "a..b", "0/0"} {
		f.Add(s, "169.254.169.254")
	}
	f.Fuzz(func(t *testing.T, rule, addr string) {
		r, err := ParseRule(rule)
		if err != nil {
			return
		}
		if r.String() == "" {
			t.Fatalf("rule %q parsed to an empty rule", rule)
		}
		p, err := New(Options{Deny: []string{rule}})
		if err != nil {
			t.Fatalf("New refuses the rule ParseRule accepted: %v", err)
		}
		// The defaults hold whatever else is configured.
		if p.Check("169.254.169.254", netip.Addr{}) == nil {
			t.Fatal("the metadata address passed")
		}
		if a, err := netip.ParseAddr(addr); err == nil && r.matchAddr(a) {
			if p.Check(addr, netip.Addr{}) == nil {
				t.Fatalf("%s matches deny rule %q but passed", addr, rule)
			}
		}
	})
}

func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:9090", "http://169.254.169.254/", "http://[::ffff:169.254.169.254]/", "http://u:p@h/", "https://METADATA.google.internal./x", "http://0xa9fea9fe/", "%"} {
		f.Add(s)
	}
	p := Default()
	f.Fuzz(func(t *testing.T, raw string) {
		prob := p.CheckURL("url", raw)
		u, err := url.Parse(raw)
		if prob != "" {
			if !strings.HasPrefix(prob, "url ") {
				t.Fatalf("problem %q does not name the field", prob)
			}
			if err == nil && u.User != nil {
				if pw, ok := u.User.Password(); ok && len(pw) > 3 && strings.Contains(prob, ":"+pw+"@") {
					t.Fatalf("problem %q shows the password", prob)
				}
			}
			return
		}
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Fatalf("CheckURL accepted %q", raw)
		}
		if a, err := netip.ParseAddr(u.Hostname()); err == nil && a.Unmap().WithZone("") == netip.MustParseAddr("169.254.169.254") {
			t.Fatalf("CheckURL accepted the metadata address in %q", raw)
		}
	})
}

func FuzzCheckUpstream(f *testing.F) {
	for _, s := range []string{"https://h/r.git", "git@h:r.git", "file:///x", "/x", "C:\\x", "ssh://[::1]/r", "x:y", "git@169.254.169.254:r"} {
		f.Add(s)
	}
	p := Default()
	f.Fuzz(func(t *testing.T, raw string) {
		if p.CheckUpstream(raw) != "" {
			return
		}
		host, _, ok := upstreamHost(raw)
		if !ok || host == "" {
			t.Fatalf("CheckUpstream accepted %q without a host", raw)
		}
		// go-git, which pushes, must read the URL as tend did.
		ep, err := transport.NewEndpoint(raw)
		if err != nil {
			return
		}
		if ep.Protocol != "https" && ep.Protocol != "ssh" {
			t.Fatalf("CheckUpstream accepted %q, which go-git reads as %s", raw, ep.Protocol)
		}
		if !strings.EqualFold(strings.Trim(ep.Host, "[]"), host) {
			t.Fatalf("CheckUpstream checked host %q of %q; go-git connects to %q", host, raw, ep.Host)
		}
	})
}
