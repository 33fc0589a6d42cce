package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Load is what the alerts of an intake run are.
type Load string

// The loads of an intake run.
const (
	// LoadRepeats re-sends a fixed set of firing alerts, as Alertmanager
	// does every group_interval and repeat_interval: after the first
	// round, every alert is a duplicate of an open problem.
	LoadRepeats Load = "repeats"
	// LoadNew sends alerts never seen before: every alert opens a problem.
	LoadNew Load = "new"
	// LoadMix alternates the two, message by message.
	LoadMix Load = "mix"
)

// ParseLoad reads a --load value.
func ParseLoad(s string) (Load, error) {
	switch l := Load(s); l {
	case LoadRepeats, LoadNew, LoadMix:
		return l, nil
	}
	return "", fmt.Errorf("load %q is unknown: use repeats, new or mix", s)
}

// IntakeOptions configure one intake run: Alertmanager webhook messages
// posted to Endpoint's /api/v1/integrations/alertmanager. Endpoint and
// Duration or Count are required.
type IntakeOptions struct {
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:8080.
	Endpoint string
	// Token is sent as Authorization: Bearer; empty sends none (the
	// trivial handler needs none).
	Token string
	// Project, Stage and Service are the labels of every alert; the alert
	// names carry RunID, so runs into one project do not meet.
	Project, Stage, Service string
	// RunID makes the run's alerts its own; empty means a random one.
	// Runs that must send the same alerts (the trivial handler's and
	// tend's) share it.
	RunID string
	// Alerts is the number of alerts per message; 0 means 1.
	Alerts int
	// Load is what the alerts are; empty means LoadRepeats.
	Load Load
	// Groups is the number of distinct messages the repeats cycle
	// through; 0 means 100.
	Groups int
	// Concurrency, Duration, Count, Rate, Progress and Transport are as in
	// IngestOptions; Count counts messages.
	Concurrency int
	Duration    time.Duration
	Count       int64
	Rate        float64
	Progress    io.Writer
	Transport   http.RoundTripper
}

// IntakeResult is what one intake run measured. Rates and latencies are
// per message (one request); AlertsPerSecond multiplies by the alerts of a
// message.
type IntakeResult struct {
	IngestResult
	Alerts          int     `json:"alertsPerMessage"`
	Load            Load    `json:"load"`
	AlertsPerSecond float64 `json:"alertsPerSecond"`
	// MinProblems and MaxProblems bound the distinct alerts the server
	// took: the alerts of accepted messages, and those plus the alerts of
	// failed ones (which may or may not have been recorded).
	MinProblems int64 `json:"minProblems"`
	MaxProblems int64 `json:"maxProblems"`
}

// Intake posts Alertmanager messages until the duration or count is
// reached or ctx ends. Like Ingest, only a canceled ctx or unusable options
// make it fail.
func Intake(ctx context.Context, opts IntakeOptions) (*IntakeResult, error) {
	if opts.Alerts <= 0 {
		opts.Alerts = 1
	}
	if opts.Load == "" {
		opts.Load = LoadRepeats
	}
	if opts.Groups <= 0 {
		opts.Groups = 100
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.RunID == "" {
		opts.RunID = newRunID()
	}
	if _, err := ParseLoad(string(opts.Load)); err != nil {
		return nil, fmt.Errorf("bench intake: %w", err)
	}
	switch {
	case opts.Duration <= 0 && opts.Count <= 0:
		return nil, errors.New("bench intake: give a duration or a count of messages")
	case opts.Rate < 0:
		return nil, fmt.Errorf("bench intake: rate %g is negative: give messages per second, or 0 for as fast as possible", opts.Rate)
	}
	u, err := url.Parse(strings.TrimRight(opts.Endpoint, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bench intake: endpoint %q is not a URL like http://127.0.0.1:8080", opts.Endpoint)
	}
	tr := opts.Transport
	if tr == nil {
		t := newTransport(opts.Concurrency)
		defer t.CloseIdleConnections()
		tr = t
	}
	m := &messages{opts: opts, seen: map[int64]bool{}}
	r := &run{
		opts: IngestOptions{
			Concurrency: opts.Concurrency, Duration: opts.Duration, Count: opts.Count,
			Rate: opts.Rate, Progress: opts.Progress,
		},
		hc:     &http.Client{Transport: tr, Timeout: time.Minute},
		target: u.JoinPath("api", "v1", "integrations", "alertmanager").String(),
		ctype:  "application/json",
		unit:   "messages",
		build:  m.appendMessage,
		done:   m.done,
	}
	if opts.Token != "" {
		r.authKey, r.authVal = "Authorization", "Bearer "+opts.Token
	}
	res, err := r.do(ctx)
	out := &IntakeResult{Alerts: opts.Alerts, Load: opts.Load}
	if res != nil {
		out.IngestResult = *res
		out.AlertsPerSecond = res.EventsPerSecond * float64(opts.Alerts)
	}
	out.MinProblems, out.MaxProblems = m.bounds()
	return out, err
}

// messages builds an intake run's messages and keeps which distinct
// messages the server accepted, to check the problem list against.
type messages struct {
	opts IntakeOptions

	mu sync.Mutex
	// seen maps a distinct message (its group or number) to whether the
	// server accepted it at least once; a message only ever failed is
	// false.
	seen map[int64]bool
}

// identity returns the distinct message that request n sends: one of the
// repeated groups (0 to Groups-1) or a new one (Groups and up).
func (m *messages) identity(n int64) int64 {
	g := int64(m.opts.Groups)
	switch m.opts.Load {
	case LoadNew:
		return g + n
	case LoadMix:
		if n%2 == 0 {
			return n / 2 % g
		}
		return g + n
	}
	return n % g
}

func (m *messages) done(n int64, accepted bool) {
	id := m.identity(n)
	m.mu.Lock()
	defer m.mu.Unlock()
	if accepted || !m.seen[id] {
		m.seen[id] = m.seen[id] || accepted
	}
}

// bounds returns the least and the most problems the run can have made.
func (m *messages) bounds() (lo, hi int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ok := range m.seen {
		if ok {
			lo++
		}
		hi++
	}
	k := int64(m.opts.Alerts)
	return lo * k, hi * k
}

// appendMessage appends request n's message: a firing Alertmanager
// message (version 4) of Alerts alerts, about 600 bytes per alert, whose
// alert names say which distinct message it is.
func (m *messages) appendMessage(b []byte, n int64) []byte {
	id := m.identity(n)
	b = append(b, `{"version":"4","groupKey":"{}:{alertname=\"`...)
	b = append(b, m.opts.RunID...)
	b = append(b, `\"}","truncatedAlerts":0,"status":"firing","receiver":"tend",`+
		`"groupLabels":{"alertname":"`...)
	b = append(b, m.opts.RunID...)
	b = append(b, `"},"commonLabels":{"project":"`...)
	b = append(b, m.opts.Project...)
	b = append(b, `","stage":"`...)
	b = append(b, m.opts.Stage...)
	b = append(b, `","service":"`...)
	b = append(b, m.opts.Service...)
	b = append(b, `","severity":"warning"},"commonAnnotations":{},"externalURL":"http://alertmanager:9093","alerts":[`...)
	for i := range m.opts.Alerts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"status":"firing","labels":{"alertname":"`...)
		b = append(b, m.opts.RunID...)
		b = append(b, `","instance":"`...)
		b = strconv.AppendInt(b, id, 10)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `","project":"`...)
		b = append(b, m.opts.Project...)
		b = append(b, `","stage":"`...)
		b = append(b, m.opts.Stage...)
		b = append(b, `","service":"`...)
		b = append(b, m.opts.Service...)
		b = append(b, `","severity":"warning"},"annotations":{"summary":"response_time_p90",`+
			`"description":"The 90th percentile of the response time is above 1000 ms for 5 minutes."},`+
			`"startsAt":"2024-05-01T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",`+
			`"generatorURL":"http://prometheus:9090/graph?g0.expr=response_time_p90%3E1000&g0.tab=1","fingerprint":"0000000000000000"}`...)
	}
	b = append(b, `]}`...)
	return b
}

// AlertmanagerMessage is what the trivial handler decodes: the webhook
// body, as a receiver that does nothing but read it would.
type AlertmanagerMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
		Fingerprint  string            `json:"fingerprint"`
	} `json:"alerts"`
}

// TrivialHandler is the ceiling tend's intake is measured against: it
// decodes an Alertmanager message on POST and answers 200 with the number
// of alerts, 400 when the body is not one. It records nothing.
func TrivialHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST an Alertmanager message", http.StatusMethodNotAllowed)
			return
		}
		var msg AlertmanagerMessage
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&msg); err != nil {
			http.Error(w, "not an Alertmanager message: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, "{\"accepted\":%d}\n", len(msg.Alerts))
	})
}

// ProblemCount is what the problem list holds of a project.
type ProblemCount struct {
	// Problems counts every problem, Open those still open.
	Problems, Open int64
	// Keys counts the distinct notification keys (fingerprint and start)
	// among them: fewer than Problems means a key was recorded twice.
	Keys int64
}

// CountProblems reads the whole problem list of project from the server at
// endpoint with token (a token that may read the project).
func CountProblems(ctx context.Context, endpoint, token, project string) (ProblemCount, error) {
	var c ProblemCount
	u, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil {
		return c, fmt.Errorf("count problems: %w", err)
	}
	u = u.JoinPath("api", "v1", "problem")
	hc := &http.Client{Timeout: time.Minute}
	keys := map[string]bool{}
	next := ""
	for {
		q := url.Values{"project": {project}, "pageSize": {"500"}}
		if next != "" {
			q.Set("nextPageKey", next)
		}
		u.RawQuery = q.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return c, fmt.Errorf("count problems: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			return c, fmt.Errorf("count problems: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return c, fmt.Errorf("count problems: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return c, fmt.Errorf("count problems: GET %s: status %d: %s", u.Path, resp.StatusCode, strings.TrimSpace(string(data)))
		}
		var page struct {
			Problems []struct {
				State string `json:"state"`
				Key   string `json:"key"`
			} `json:"problems"`
			NextPageKey string `json:"nextPageKey"`
		}
		if err := json.Unmarshal(data, &page); err != nil {
			return c, fmt.Errorf("count problems: GET %s: %w", u.Path, err)
		}
		for _, p := range page.Problems {
			c.Problems++
			if p.State == "open" {
				c.Open++
			}
			keys[p.Key] = true
		}
		if page.NextPageKey == "" || len(page.Problems) == 0 {
			break
		}
		next = page.NextPageKey
	}
	c.Keys = int64(len(keys))
	return c, nil
}
