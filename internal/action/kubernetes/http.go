package kubernetes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/tendhq/tend/internal/action"
)

// HTTPTarget scales a service through an HTTP scale endpoint instead of a
// Kubernetes Deployment: GET URL answers {"replicas": N}, and PUT URL with
// the body {"replicas": N} sets the count. The carts demo service offers
// it at /scale, so the self-healing story runs without a cluster. The same
// limits and idempotency rules apply as for Deployments.
type HTTPTarget struct {
	// URL is the absolute http(s) URL of the scale endpoint, e.g.
	// http://127.0.0.1:8081/scale.
	URL string `json:"url"`
}

// scaleBody is the JSON of the scale endpoint in both directions.
type scaleBody struct {
	Replicas *int32 `json:"replicas"`
}

// maxBody bounds what is read of a scale endpoint's answer.
const maxBody = 64 << 10

// checkURL refuses URLs the executor cannot call.
func (h *HTTPTarget) checkURL() error {
	u, err := url.Parse(h.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: http scale target %q is not an absolute http(s) URL such as http://127.0.0.1:8081/scale", action.ErrInvalid, h.URL)
	}
	return nil
}

func (e *Executor) prepareHTTP(ctx context.Context, t Target, delta int32) (planData, error) {
	if err := t.HTTP.checkURL(); err != nil {
		return planData{}, err
	}
	current, err := e.getHTTP(ctx, t.HTTP.URL)
	if err != nil {
		return planData{}, err
	}
	to, err := step(current, delta, limits{min: t.MinReplicas, max: t.MaxReplicas, what: "the limit"})
	if err != nil {
		return planData{}, fmt.Errorf("scaling %s: %w", t.HTTP.URL, err)
	}
	return planData{Kind: kindHTTP, URL: t.HTTP.URL, From: current, To: to}, nil
}

func (e *Executor) applyHTTP(ctx context.Context, req action.Request, d planData) (changed bool, err error) {
	if err := (&HTTPTarget{URL: d.URL}).checkURL(); err != nil {
		return false, err
	}
	current, err := e.getHTTP(ctx, d.URL)
	if err != nil {
		return false, err
	}
	if current == d.To {
		return false, nil
	}
	if current != d.From {
		return false, conflict(d, current)
	}
	body, err := json.Marshal(scaleBody{Replicas: &d.To})
	if err != nil {
		return false, fmt.Errorf("scaling: encode request: %w", err)
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPut, d.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("%w: scaling: %v", action.ErrInvalid, err)
	}
	r.Header.Set("Content-Type", "application/json")
	if req.Key != "" {
		r.Header.Set("Idempotency-Key", req.Key)
	}
	if _, err := e.doHTTP(r); err != nil {
		return false, err
	}
	return true, nil
}

// getHTTP reads the current replica count.
func (e *Executor) getHTTP(ctx context.Context, u string) (int32, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("%w: scaling: %v", action.ErrInvalid, err)
	}
	r.Header.Set("Accept", "application/json")
	body, err := e.doHTTP(r)
	if err != nil {
		return 0, err
	}
	n, err := decodeScale(body)
	if err != nil {
		return 0, fmt.Errorf("scaling: GET %s: %w", u, err)
	}
	return n, nil
}

// decodeScale reads {"replicas": N} as a scale endpoint answers it.
func decodeScale(body []byte) (int32, error) {
	var s scaleBody
	if err := json.Unmarshal(body, &s); err != nil {
		return 0, fmt.Errorf("answer is not {\"replicas\": N}: %w", err)
	}
	if s.Replicas == nil {
		return 0, fmt.Errorf("answer has no \"replicas\" field; want {\"replicas\": N}")
	}
	if *s.Replicas < 0 {
		return 0, fmt.Errorf("answer has a negative replica count %d", *s.Replicas)
	}
	return *s.Replicas, nil
}

// doHTTP sends r and returns the body of a 2xx answer. A 4xx answer other
// than 408 and 429 is final (ErrInvalid); 5xx and transport errors may be
// retried.
func (e *Executor) doHTTP(r *http.Request) ([]byte, error) {
	resp, err := e.opts.HTTPClient.Do(r)
	if err != nil {
		return nil, fmt.Errorf("scaling: %s %s: %w", r.Method, r.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("scaling: %s %s: read answer: %w", r.Method, r.URL.Redacted(), err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return body, nil
	}
	snippet := strings.TrimSpace(string(body))
	if len(snippet) > 200 {
		snippet = snippet[:200] + "..."
	}
	err = fmt.Errorf("scaling: %s %s answered %s: %s", r.Method, r.URL.Redacted(), resp.Status, snippet)
	if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests {
		return nil, fmt.Errorf("%w: %w", action.ErrInvalid, err)
	}
	return nil, err
}
