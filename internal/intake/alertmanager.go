package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tendhq/tend/internal/event"
)

// AlertmanagerOptions name the alert labels that locate a problem. The zero
// value uses the defaults "project", "stage", "service" and "root_cause".
type AlertmanagerOptions struct {
	ProjectLabel   string
	StageLabel     string
	ServiceLabel   string
	RootCauseLabel string
}

// DefaultAlertmanagerOptions returns the label names tend uses unless a
// project configures others.
func DefaultAlertmanagerOptions() AlertmanagerOptions {
	return AlertmanagerOptions{ProjectLabel: "project", StageLabel: "stage", ServiceLabel: "service", RootCauseLabel: "root_cause"}
}

func (o AlertmanagerOptions) withDefaults() AlertmanagerOptions {
	d := DefaultAlertmanagerOptions()
	if o.ProjectLabel == "" {
		o.ProjectLabel = d.ProjectLabel
	}
	if o.StageLabel == "" {
		o.StageLabel = d.StageLabel
	}
	if o.ServiceLabel == "" {
		o.ServiceLabel = d.ServiceLabel
	}
	if o.RootCauseLabel == "" {
		o.RootCauseLabel = d.RootCauseLabel
	}
	return o
}

// AlertmanagerMessage is one webhook message: its envelope and one
// notification per alert, in the message's order.
type AlertmanagerMessage struct {
	Version  string
	GroupKey string
	// TruncatedAlerts is how many alerts Alertmanager left out of the
	// message (its max_alerts setting); they are not lost, Alertmanager
	// sends them again while they fire.
	TruncatedAlerts   int
	Status            string
	Receiver          string
	GroupLabels       map[string]string
	CommonLabels      map[string]string
	CommonAnnotations map[string]string
	ExternalURL       string
	// Notifications holds every alert of the message, matched or not; an
	// alert that lacks a project, stage or service, or that cannot be read,
	// has Unmatched set.
	Notifications []Notification
}

// Unmatched returns the notifications that cannot be acted on.
func (m *AlertmanagerMessage) Unmatched() []Notification {
	var out []Notification
	for _, n := range m.Notifications {
		if n.Unmatched != "" {
			out = append(out, n)
		}
	}
	return out
}

// amMessage is the wire form. Alerts stay raw so that one unreadable alert
// becomes an unmatched notification instead of failing the message.
type amMessage struct {
	Version           json.RawMessage   `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []json.RawMessage `json:"alerts"`
}

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	// The alert's fingerprint field is not read: see alertNotification.
}

// ParseAlertmanager reads an Alertmanager webhook message (version 4) and
// returns one notification per alert.
//
// It fails, with an error matching ErrNotAlertmanager, only when the body is
// not such a message: not a JSON object, an envelope field of the wrong
// type, no alerts array, or a version other than "4". A missing version is
// accepted, because hand-written and test payloads often leave it out and
// the shape is what tend relies on; Alertmanager itself always sends "4".
//
// Every alert becomes a notification, never dropped: firing opens and
// resolved closes the problem; the key is the alert's project, fingerprint
// and startsAt, the fingerprint computed from the labels as Alertmanager
// does (the one the alert carries is ignored). An alert that cannot be read (not an object,
// a label that is not a string, an unknown status, a bad time) or that lacks
// the project, stage or service label comes back with Unmatched set.
func ParseAlertmanager(body []byte, opts AlertmanagerOptions) (*AlertmanagerMessage, error) {
	opts = opts.withDefaults()
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: the body must be a JSON object such as {\"version\":\"4\",\"alerts\":[...]}", ErrNotAlertmanager)
	}
	// Nearly every message is a well-formed one from Alertmanager, and
	// most of tend's intake is repeats of them: the hand-written decoder
	// reads those without building encoding/json's intermediate values.
	// Whatever it is not certain to read exactly as encoding/json would
	// (errors, unreadable alerts, nulls, odd keys) goes the reference way
	// below, so both give the same message or error on every input
	// (FuzzAlertmanagerDecodersAgree).
	if m, ok := decodeAlertmanager(trimmed, opts); ok {
		return m, nil
	}
	return parseAlertmanagerJSON(trimmed, opts)
}

// parseAlertmanagerJSON is ParseAlertmanager through encoding/json: the
// reference for decodeAlertmanager, and the path of every message that
// decoder leaves alone. trimmed is the body without surrounding space,
// starting with '{'; opts has its defaults.
func parseAlertmanagerJSON(trimmed []byte, opts AlertmanagerOptions) (*AlertmanagerMessage, error) {
	var w amMessage
	if err := json.Unmarshal(trimmed, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "alerts" {
			return nil, fmt.Errorf("%w: \"alerts\" must be an array of alert objects, got a JSON %s", ErrNotAlertmanager, te.Value)
		}
		return nil, fmt.Errorf("%w: %v", ErrNotAlertmanager, err)
	}
	version := ""
	if len(w.Version) > 0 && string(w.Version) != "null" {
		if err := json.Unmarshal(w.Version, &version); err != nil || version != "4" {
			return nil, fmt.Errorf("%w: version is %s; tend reads webhook version \"4\" (Alertmanager 0.x sends it)", ErrNotAlertmanager, w.Version)
		}
	}
	if w.Alerts == nil {
		return nil, fmt.Errorf("%w: missing \"alerts\": an Alertmanager message carries an array of alerts", ErrNotAlertmanager)
	}
	alerts := w.Alerts
	m := &AlertmanagerMessage{
		Version:           version,
		GroupKey:          w.GroupKey,
		TruncatedAlerts:   w.TruncatedAlerts,
		Status:            w.Status,
		Receiver:          w.Receiver,
		GroupLabels:       w.GroupLabels,
		CommonLabels:      w.CommonLabels,
		CommonAnnotations: w.CommonAnnotations,
		ExternalURL:       w.ExternalURL,
		Notifications:     make([]Notification, 0, len(alerts)),
	}
	for i, raw := range alerts {
		m.Notifications = append(m.Notifications, alertNotification(i, raw, opts, w.ExternalURL))
	}
	return m, nil
}

// alertNotification turns alert number i into a notification.
func alertNotification(i int, raw json.RawMessage, opts AlertmanagerOptions, origin string) Notification {
	n := Notification{Source: SourceAlertmanager, Origin: origin}
	var a amAlert
	if err := json.Unmarshal(raw, &a); err != nil {
		// Still give it a stable identity so retries of the same broken
		// alert are recognised as one.
		n.Key = "alertmanager/unreadable/" + fingerprintBytes(raw)
		n.KeptnContext = event.ContextFor(n.Key)
		n.State = StateOpen
		n.Unmatched = fmt.Sprintf("alert %d cannot be read: %v", i, err)
		return n
	}
	return notificationOf(i, &a, opts, origin)
}

// notificationOf turns alert number i, as read from the message, into a
// notification.
func notificationOf(i int, a *amAlert, opts AlertmanagerOptions, origin string) Notification {
	n := Notification{Source: SourceAlertmanager, Origin: origin}
	n.Labels = a.Labels
	n.Annotations = a.Annotations
	n.URL = a.GeneratorURL
	n.Project = a.Labels[opts.ProjectLabel]
	n.Stage = a.Labels[opts.StageLabel]
	n.Service = a.Labels[opts.ServiceLabel]
	n.RootCause = a.Labels[opts.RootCauseLabel]
	n.Title = a.Annotations["summary"]
	if n.Title == "" {
		n.Title = a.Labels["alertname"]
	}
	n.Details = a.Annotations["description"]

	var problems []string
	switch a.Status {
	case "firing":
		n.State = StateOpen
	case "resolved":
		n.State = StateClosed
	default:
		n.State = StateOpen
		problems = append(problems, fmt.Sprintf("status %q is neither firing nor resolved", a.Status))
	}
	start, err := parseAlertTime(a.StartsAt)
	if err != nil {
		problems = append(problems, "startsAt "+err.Error())
	}
	n.StartsAt = start
	end, err := parseAlertTime(a.EndsAt)
	if err != nil {
		problems = append(problems, "endsAt "+err.Error())
	}
	n.EndsAt = end

	// The fingerprint the message carries is not trusted: anyone may send
	// any. tend computes it from the labels, as Alertmanager does, so a
	// genuine alert gets the fingerprint Alertmanager gave it and a forged
	// one cannot take another alert's identity.
	fp := Fingerprint(a.Labels)
	startKey := a.StartsAt
	if !start.IsZero() {
		// One instant written two ways (offsets, trailing zeros) is one
		// alert instance.
		startKey = start.UTC().Format(time.RFC3339Nano)
	}
	n.Key = "alertmanager/" + n.Project + "/" + fp + "/" + startKey
	n.KeptnContext = event.ContextFor(n.Key)

	if len(problems) > 0 {
		n.Unmatched = fmt.Sprintf("alert %d cannot be read: %s", i, joinSemi(problems))
		return n
	}
	checkLocation(&n, [3]string{
		"the alert has no " + strconv.Quote(opts.ProjectLabel) + " label",
		"the alert has no " + strconv.Quote(opts.StageLabel) + " label",
		"the alert has no " + strconv.Quote(opts.ServiceLabel) + " label",
	})
	if n.Unmatched != "" {
		n.Unmatched = fmt.Sprintf("alert %d (%s): %s", i, n.Title, n.Unmatched)
	}
	return n
}

// parseAlertTime reads an RFC 3339 time; "" and Go's zero time (which
// Alertmanager sends as endsAt of firing alerts of old versions) are zero.
func parseAlertTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	if t.Year() <= 1 {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

func joinSemi(s []string) string {
	var b bytes.Buffer
	for i, p := range s {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p)
	}
	return b.String()
}

// FNV-1a, 64 bit, and the separator Prometheus puts after every label name
// and value when it fingerprints a label set.
const (
	fnvOffset64    = 14695981039346656037
	fnvPrime64     = 1099511628211
	labelSeparator = 0xff
)

// Fingerprint computes an alert's fingerprint from its labels the way
// Alertmanager and Prometheus do (FNV-1a over the sorted label names and
// values, each followed by 0xff), as 16 hex digits. tend computes every
// alert's fingerprint with it rather than trusting the one sent, so alerts
// deduplicate by the identity Alertmanager gives them and a sender cannot
// claim another alert's.
func Fingerprint(labels map[string]string) string {
	// Alerts carry a handful of labels: sorting their names in an array on
	// the stack keeps the fingerprint, computed for every alert of every
	// delivery, free of allocations but its text.
	var buf [16]string
	names := buf[:0]
	for name := range labels {
		names = append(names, name)
	}
	slices.Sort(names)
	h := uint64(fnvOffset64)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= fnvPrime64
		}
		h ^= labelSeparator
		h *= fnvPrime64
	}
	for _, name := range names {
		add(name)
		add(labels[name])
	}
	return hex16(h)
}

// hex16 writes h as 16 lower-case hex digits, as fmt's %016x does.
func hex16(h uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = digits[h&0xf]
		h >>= 4
	}
	return string(b[:])
}

// fingerprintBytes hashes raw bytes with FNV-1a, for alerts whose labels
// cannot be read.
func fingerprintBytes(b []byte) string {
	h := uint64(fnvOffset64)
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime64
	}
	return hex16(h)
}
