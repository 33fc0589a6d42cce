package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultFlag is the feature flag the carts service reads.
const DefaultFlag = "EnablePromotion"

// UnleashPoller reads one feature flag from Unleash's client API, the API
// Unleash's SDKs use:
//
//	GET <URL>/api/client/features   Authorization: <client token>
//
// A client token belongs to one environment (the demo creates one for
// production, the environment tend's toggle-feature action switches by
// default), so the answer's "enabled" is the flag's state there.
//
// A flag counts as on when it is enabled and either has no strategies or
// has at least one strategy that is not disabled. Strategy parameters and
// constraints (rollout percentages, user ids) are not evaluated: the demo
// switches a flag on or off for everyone, and Unleash 8 gives a flag
// switched on without a strategy a default one that applies to all.
type UnleashPoller struct {
	// URL is Unleash's base URL, e.g. http://127.0.0.1:4242.
	URL string
	// Token is a client (SDK) token, sent as the Authorization header.
	Token string
	// AppName identifies the service to Unleash (UNLEASH-APPNAME header).
	AppName string
	// Flag is the flag read; empty means DefaultFlag.
	Flag string
	// Interval between polls; 0 means 2s.
	Interval time.Duration
	// Client makes the calls; nil means a client with a 5 s timeout.
	Client *http.Client
	// Logger receives one line per outage and one when it ends.
	Logger *slog.Logger

	// etag is the ETag of the last answer, sent as If-None-Match so an
	// unchanged flag set costs Unleash a 304.
	etag string
}

// errNotModified means Unleash answered 304: nothing changed since the
// ETag the poller sent.
var errNotModified = errors.New("not modified")

// statusError is an answer other than 200 or 304: Unleash is reachable
// but refuses, typically because of the token.
type statusError struct {
	code int
	err  error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// clientFeatures is the part of /api/client/features the poller reads.
type clientFeatures struct {
	Features []struct {
		Name       string `json:"name"`
		Enabled    bool   `json:"enabled"`
		Strategies []struct {
			Name     string `json:"name"`
			Disabled bool   `json:"disabled"`
		} `json:"strategies"`
	} `json:"features"`
}

// ParseClientFeatures reads the answer of GET /api/client/features and
// reports whether flag is on as UnleashPoller describes. A flag missing
// from the answer (never created, archived, or in a project the token does
// not cover) is off.
func ParseClientFeatures(body []byte, flag string) (bool, error) {
	var cf clientFeatures
	if err := json.Unmarshal(body, &cf); err != nil {
		return false, fmt.Errorf("unleash client features: answer is not {\"features\": [...]}: %w", err)
	}
	for _, f := range cf.Features {
		if f.Name != flag {
			continue
		}
		if !f.Enabled {
			return false, nil
		}
		if len(f.Strategies) == 0 {
			return true, nil
		}
		for _, st := range f.Strategies {
			if !st.Disabled {
				return true, nil
			}
		}
		return false, nil
	}
	return false, nil
}

func (p *UnleashPoller) flag() string {
	if p.Flag == "" {
		return DefaultFlag
	}
	return p.Flag
}

// Fetch asks Unleash once whether the flag is on. It returns
// errNotModified when Unleash answers 304 to the ETag of the previous
// answer.
func (p *UnleashPoller) Fetch(ctx context.Context) (bool, error) {
	u, err := url.Parse(strings.TrimSuffix(p.URL, "/") + "/api/client/features")
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false, fmt.Errorf("unleash: URL %q is not an absolute http(s) URL such as http://127.0.0.1:4242", p.URL)
	}
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, fmt.Errorf("unleash: %w", err)
	}
	req.Header.Set("Authorization", p.Token)
	req.Header.Set("Accept", "application/json")
	if p.AppName != "" {
		req.Header.Set("UNLEASH-APPNAME", p.AppName)
	}
	if p.etag != "" {
		req.Header.Set("If-None-Match", p.etag)
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, fmt.Errorf("unleash: GET %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return false, errNotModified
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return false, fmt.Errorf("unleash: GET %s: read answer: %w", u.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		hint := ""
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			hint = " (is --unleash-token a client token of this Unleash?)"
		}
		return false, &statusError{code: resp.StatusCode, err: fmt.Errorf("unleash: GET %s answered %s%s", u.Redacted(), resp.Status, hint)}
	}
	on, err := ParseClientFeatures(body, p.flag())
	if err != nil {
		return false, err
	}
	p.etag = resp.Header.Get("ETag")
	return on, nil
}

// Run polls until ctx ends and calls set with the flag's state after every
// successful poll. While Unleash cannot be reached, set is not called, so
// the last known state stays; the outage is logged once, and its end once.
func (p *UnleashPoller) Run(ctx context.Context, set func(on bool)) {
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	interval := p.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	failing := false
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		on, err := p.Fetch(ctx)
		switch {
		case errors.Is(err, errNotModified):
			// Unchanged.
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			if !failing {
				log.Warn("unleash unreachable, keeping the last known flag state", "flag", p.flag(), "err", err)
				failing = true
			}
		default:
			if failing {
				log.Info("unleash reachable again", "flag", p.flag())
				failing = false
			}
			set(on)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
