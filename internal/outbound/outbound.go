// Package outbound owns tend's policy on the addresses it connects to on a
// user's behalf: the Prometheus and Dynatrace an evaluation queries, the
// Unleash a toggle switches, webhook receivers, HTTP scale targets and Git
// upstreams. Anyone with a write token names those addresses, so without a
// policy a token could make the server reach what only the server can
// reach: a cloud metadata service, a link-local address, a repository on
// the server's own disk.
//
// A Policy is checked twice. When an address is stored (CheckURL,
// CheckUpstream), so the user learns at once which field broke which rule.
// And when a connection is made (Transport, DialContext), against every
// address the host name resolves to and again at the socket (the dialer's
// Control), so a name that resolves differently later (DNS rebinding) or
// a number form only the resolver understands cannot get around it.
package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// ErrDenied is matched by every refusal of the policy.
var ErrDenied = errors.New("denied by the outbound policy")

// Rule is one entry of outbound.allow or outbound.deny: an address range
// (a CIDR or a single address), a host name, or "*.domain" for every name
// below domain.
type Rule struct {
	text   string
	prefix netip.Prefix
	host   string
	suffix bool
	// why says what the rule is for in messages: "link-local",
	// "outbound.deny".
	why string
}

// ParseRule reads one rule as tend.yaml gives it.
func ParseRule(s string) (Rule, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return Rule{}, errors.New("is empty; want a CIDR such as 10.0.0.0/8, an address, a host name or *.domain")
	}
	if strings.Contains(t, "/") {
		p, err := netip.ParsePrefix(t)
		if err != nil {
			return Rule{}, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or fd00::/8", s)
		}
		if p.Addr().Zone() != "" {
			return Rule{}, fmt.Errorf("%q has a zone; write the range without it", s)
		}
		return Rule{text: t, prefix: unmapPrefix(p.Masked())}, nil
	}
	if a, err := netip.ParseAddr(t); err == nil {
		if a.Zone() != "" {
			return Rule{}, fmt.Errorf("%q has a zone; write the address without it", s)
		}
		a = a.Unmap()
		return Rule{text: t, prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	name, wild := strings.CutPrefix(strings.ToLower(t), "*.")
	name = strings.TrimSuffix(name, ".")
	if !validHostName(name) {
		return Rule{}, fmt.Errorf("%q is neither a CIDR, an address, a host name nor *.domain", s)
	}
	return Rule{text: t, host: name, suffix: wild}, nil
}

// unmapPrefix turns ::ffff:a.b.c.d/n into a.b.c.d/(n-96), so an IPv4 range
// written in IPv6 form matches the IPv4 addresses it means.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// validHostName accepts DNS names of letters, digits, '-' and '_' in
// labels of 1 to 63 characters, at most 253 in all.
func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// String is the rule as written.
func (r Rule) String() string { return r.text }

func (r Rule) matchAddr(a netip.Addr) bool {
	return r.prefix.IsValid() && a.IsValid() && r.prefix.Contains(a.Unmap().WithZone(""))
}

// matchHost matches a lower-case host name without a trailing dot.
func (r Rule) matchHost(h string) bool {
	if r.host == "" || h == "" {
		return false
	}
	if r.suffix {
		return strings.HasSuffix(h, "."+r.host)
	}
	return h == r.host
}

func (r Rule) describe() string {
	if r.why == "" {
		return r.text
	}
	return r.text + ", " + r.why
}

// defaultDeny is what every policy refuses: link-local addresses, where
// clouds serve instance metadata and credentials, and the metadata
// services' other addresses and names.
var defaultDeny = []struct{ rule, why string }{
	{"169.254.169.254", "cloud metadata (AWS, GCP, Azure, OpenStack)"},
	{"fd00:ec2::254", "cloud metadata (AWS IPv6)"},
	{"metadata.google.internal", "cloud metadata (GCP)"},
	{"169.254.0.0/16", "link-local"},
	{"fe80::/10", "link-local"},
}

// DefaultDeny lists the rules every policy starts with, as written.
func DefaultDeny() []string {
	out := make([]string, len(defaultDeny))
	for i, d := range defaultDeny {
		out[i] = d.rule
	}
	return out
}

// Policy says which addresses tend may connect to on a user's behalf.
// The zero value is not useful; start from New.
type Policy struct {
	allow, deny []Rule
	// allowFileUpstreams lets Git upstreams be local paths or file://
	// URLs: for tests, which push to a bare repository on disk.
	allowFileUpstreams bool
}

// Options are tend.yaml's outbound section.
type Options struct {
	// Allow, when not empty, limits connections to these rules.
	Allow []string
	// Deny refuses these rules on top of the defaults.
	Deny []string
	// AllowFileUpstreams accepts local paths and file:// Git upstreams;
	// for tests only.
	AllowFileUpstreams bool
}

// New returns the policy of opts: the default denials, then opts.Deny; a
// destination that matches a denial is refused whatever opts.Allow says.
// With opts.Allow set, a destination must also match an allow rule.
func New(opts Options) (*Policy, error) {
	p := &Policy{allowFileUpstreams: opts.AllowFileUpstreams}
	for _, d := range defaultDeny {
		r, err := ParseRule(d.rule)
		if err != nil {
			return nil, fmt.Errorf("outbound: default rule %s: %w", d.rule, err)
		}
		r.why = d.why + ": tend's default outbound denial"
		p.deny = append(p.deny, r)
	}
	var probs []string
	for _, list := range []struct {
		key   string
		rules []string
		dst   *[]Rule
	}{{"outbound.deny", opts.Deny, &p.deny}, {"outbound.allow", opts.Allow, &p.allow}} {
		for _, s := range list.rules {
			r, err := ParseRule(s)
			if err != nil {
				probs = append(probs, fmt.Sprintf("%s: %v", list.key, err))
				continue
			}
			r.why = list.key
			*list.dst = append(*list.dst, r)
		}
	}
	if len(probs) > 0 {
		return nil, errors.New(strings.Join(probs, "; "))
	}
	return p, nil
}

// Default returns the policy of a server whose tend.yaml has no outbound
// section: the default denials, everything else allowed (loopback
// included, so a demo on one machine works).
func Default() *Policy {
	p, err := New(Options{})
	if err != nil {
		panic(err) // the default rules are constants the tests parse
	}
	return p
}

// DeniedError is a refusal: which destination, and the rule that refused
// it. It matches ErrDenied.
type DeniedError struct {
	// Host is the host name or address as given.
	Host string
	// Addr is the address it resolved to, when it was resolved.
	Addr netip.Addr
	// Rule names the rule and why it is there.
	Rule string
}

func (e *DeniedError) Error() string {
	what := e.Host
	if e.Addr.IsValid() && e.Addr.String() != e.Host {
		what += " (" + e.Addr.String() + ")"
	}
	return fmt.Sprintf("%s is denied by tend's outbound policy (rule %s)", what, e.Rule)
}

// Is makes DeniedError match ErrDenied.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// normHost lower-cases a host name and drops a trailing dot.
func normHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// Check returns a *DeniedError when the policy refuses host (a name or an
// address) resolved to addr. addr may be invalid when host is a name not
// yet resolved: then only the name rules can refuse it, and the allow
// list, which an address may satisfy, is left to connection time.
func (p *Policy) Check(host string, addr netip.Addr) error {
	h := normHost(host)
	if addr.IsValid() {
		addr = addr.Unmap().WithZone("")
	} else if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		addr = a.Unmap().WithZone("")
	}
	for _, r := range p.deny {
		if r.matchHost(h) || r.matchAddr(addr) {
			return &DeniedError{Host: host, Addr: addr, Rule: r.describe()}
		}
	}
	if len(p.allow) == 0 {
		return nil
	}
	for _, r := range p.allow {
		if r.matchHost(h) || r.matchAddr(addr) {
			return nil
		}
	}
	if !addr.IsValid() {
		return nil
	}
	return &DeniedError{Host: host, Addr: addr, Rule: "outbound.allow, which does not list it"}
}

// checkSocket is the last check, at the socket: only address rules, since
// the host name is not known there.
func (p *Policy) checkSocket(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &DeniedError{Host: address, Rule: "the socket address is not an IP address and port"}
	}
	a := ap.Addr().Unmap().WithZone("")
	for _, r := range p.deny {
		if r.matchAddr(a) {
			return &DeniedError{Host: a.String(), Addr: a, Rule: r.describe()}
		}
	}
	return nil
}

// CheckURL returns the problem of an http(s) service URL given in field,
// or "": the scheme, a host, and a host the policy allows. The problem
// names the field and the rule.
func (p *Policy) CheckURL(field, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%s %q is not an http(s) URL with a host", field, redact(raw))
	}
	if err := p.Check(u.Hostname(), netip.Addr{}); err != nil {
		return fmt.Sprintf("%s %s: %v", field, u.Redacted(), err)
	}
	return ""
}

// redact drops the user information of a URL that may not parse, for
// messages.
func redact(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
			return raw[:i+3] + "****@" + rest[at+1:]
		}
	}
	return raw
}

// CheckUpstream returns the problem of a Git upstream URL, or "": an
// https:// or ssh:// URL (or scp-like user@host:path) whose host the policy
// allows. Local paths and file:// URLs are refused, as they would make tend
// write into a repository on its own host, unless the policy allows file
// upstreams (tests).
func (p *Policy) CheckUpstream(raw string) string {
	const want = "give an https:// or ssh:// URL (or user@host:path)"
	host, scheme, ok := upstreamHost(raw)
	switch {
	case !ok && scheme == "file":
		if p.allowFileUpstreams {
			return ""
		}
		return fmt.Sprintf("gitRemoteURL %q is a local path or file:// URL, which would make tend write into a repository on its own host; %s (outbound.allowFileUpstreams: true allows it, for tests only)", raw, want)
	case !ok:
		return fmt.Sprintf("gitRemoteURL %q: scheme %q is not allowed for Git upstreams; %s", redact(raw), scheme, want)
	}
	if err := p.Check(host, netip.Addr{}); err != nil {
		return fmt.Sprintf("gitRemoteURL %s: %v", redact(raw), err)
	}
	return ""
}

// upstreamHost reads the host of a Git upstream. ok is false for schemes
// other than https and ssh; scheme is then "file" for local paths and
// file:// URLs.
func upstreamHost(raw string) (host, scheme string, ok bool) {
	if i := strings.Index(raw, "://"); i > 0 {
		u, err := url.Parse(raw)
		if err != nil {
			return "", strings.ToLower(raw[:i]), false
		}
		s := strings.ToLower(u.Scheme)
		if (s == "https" || s == "ssh") && validHost(u.Hostname()) {
			return u.Hostname(), s, true
		}
		return "", s, false
	}
	// scp-like [user@]host:path, read as go-git (and git) read it: a
	// slash before the first colon, an empty path or a one-letter host
	// (a drive letter) make it a local path.
	m := scpLike.FindStringSubmatch(raw)
	if m != nil && !strings.Contains(raw[:strings.IndexByte(raw, ':')], "/") && len(m[1]) > 1 && validHost(strings.Trim(m[1], "[]")) {
		return strings.Trim(m[1], "[]"), "ssh", true
	}
	return "", "file", false
}

// scpLike is go-git's pattern of scp-like URLs; group 1 is the host.
var scpLike = regexp.MustCompile(`^(?:[^@]+@)?([^:\s]+):(?:[0-9]{1,5}:)?([^\\].*)$`)

// validHost accepts a host name or an IP address.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	return validHostName(normHost(h))
}

// Lookup resolves a host name to addresses; net.DefaultResolver's
// LookupNetIP by default. Tests map names with their own.
type Lookup func(ctx context.Context, host string) ([]netip.Addr, error)

// DialContext returns a dial function that resolves the host itself,
// refuses every address the policy denies, and dials only an allowed
// address, with d's Control checking the socket's address once more.
func (p *Policy) DialContext(d *net.Dialer, lookup Lookup) func(ctx context.Context, network, address string) (net.Conn, error) {
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	dd := *d
	inner := dd.Control
	dd.Control = func(network, address string, c syscall.RawConn) error {
		if err := p.checkSocket(address); err != nil {
			return err
		}
		if inner != nil {
			return inner(network, address, c)
		}
		return nil
	}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		var addrs []netip.Addr
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{a}
		} else {
			if err := p.Check(host, netip.Addr{}); err != nil {
				return nil, err
			}
			if addrs, err = lookup(ctx, host); err != nil {
				return nil, err
			}
			if len(addrs) == 0 {
				return nil, fmt.Errorf("lookup %s: no addresses", host)
			}
		}
		var errs []error
		for _, a := range addrs {
			if err := p.Check(host, a); err != nil {
				errs = append(errs, err)
				continue
			}
			c, err := dd.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
}

// TransportOptions tune Transport.
type TransportOptions struct {
	// Lookup resolves host names; nil means the system's resolver.
	Lookup Lookup
}

// Transport returns an HTTP transport whose every connection obeys the
// policy. It uses no proxy: through a proxy the policy would judge the
// proxy's address instead of the destination's.
func (p *Policy) Transport(o TransportOptions) *http.Transport {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = p.DialContext(d, o.Lookup)
	return t
}

// Client returns an HTTP client over Transport. It sets no timeout: each
// adapter bounds its own calls.
func (p *Policy) Client(o TransportOptions) *http.Client {
	return &http.Client{Transport: p.Transport(o)}
}
