package sli

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// ParseBaseURL parses the base URL of an HTTP provider's backend: an http
// or https URL with a host. provider names the provider in the error
// ("prometheus provider") and example shows a good URL.
func ParseBaseURL(provider, raw, example string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: URL %q is not an http(s) URL with a host; want e.g. %s", provider, raw, example)
	}
	return u, nil
}

// HTTPOptions are the settings every HTTP provider's configuration shares.
type HTTPOptions struct {
	// Timeout bounds each request.
	Timeout time.Duration
	// Concurrency is how many requests run at once.
	Concurrency int
	// Client sends the requests.
	Client *http.Client
	// Logger receives the provider's log lines.
	Logger *slog.Logger
}

// WithDefaults checks o and fills in what is unset: the timeout
// (defaultTimeout), the concurrency (DefaultConcurrency), a client of the
// provider's own and a logger that discards. provider names the provider
// in the error.
func (o HTTPOptions) WithDefaults(provider string, defaultTimeout time.Duration) (HTTPOptions, error) {
	if o.Timeout < 0 {
		return o, fmt.Errorf("%s: timeout %s is negative", provider, o.Timeout)
	}
	if o.Timeout == 0 {
		o.Timeout = defaultTimeout
	}
	if o.Concurrency < 1 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
