package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/action"
)

// NotifyConfig says where escalation notifications of a project and stage
// go. The application fills it from the server's configuration, where the
// URL and header values are file: or env: references, resolved before
// they get here.
type NotifyConfig struct {
	// URL receives the Slack-compatible message, e.g. a Slack or Mattermost
	// incoming-webhook URL. Such URLs are secrets themselves (the path is
	// the credential), so messages show only its scheme and host.
	URL string
	// Headers are sent with every notification (e.g. Authorization);
	// their values are redacted from errors.
	Headers map[string]string
	// UIURL is tend's web UI address; when set, the message links to the
	// remediation there (UIURL/remediations/<id>), else to the problem's
	// own URL.
	UIURL string
	// Timeout bounds each call; zero means the Options' timeout.
	Timeout time.Duration
}

// NotifyResolver returns the escalation settings of a project and stage.
// A zero URL means none is configured.
type NotifyResolver func(ctx context.Context, project, stage string) (NotifyConfig, error)

// StaticNotify returns a NotifyResolver that gives every project the same
// settings: one server-wide escalation channel, and tests.
func StaticNotify(cfg NotifyConfig) NotifyResolver {
	return func(context.Context, string, string) (NotifyConfig, error) { return cfg, nil }
}

// History returns the story so far of the remediation that req belongs to:
// the actions tried before it and the last evaluation (Actions,
// LastEvaluation, Reason, RemediationID). The escalate action uses it to
// say what was tried; the request's own fields win over the rest.
type History func(ctx context.Context, req action.Request) (action.Escalation, error)

// SlackMessage is the notification's JSON body. Only text is used: it is
// what every Slack-compatible receiver (Slack, Mattermost, Rocket.Chat,
// Google Chat, Discord's /slack endpoint) shows, in Slack's mrkdwn.
type SlackMessage struct {
	Text string `json:"text"`
}

// Notifier sends escalation notifications. It is the escalate action's
// executor (register it under ActionEscalate) and, through Notify, what
// the remediation loop calls when actions run out.
type Notifier struct {
	resolve NotifyResolver
	history History
	http    caller
}

var _ action.Executor = (*Notifier)(nil)

// NewNotifier returns a Notifier that looks up each project's settings
// with resolve. history may be nil; the escalate action's message then
// lists no earlier actions.
func NewNotifier(resolve NotifyResolver, history History, opts Options) *Notifier {
	return &Notifier{resolve: resolve, history: history, http: newCaller(opts)}
}

// notifyPlan is the escalate action's part of a Plan: the message, which
// holds nothing secret.
type notifyPlan struct {
	Message SlackMessage `json:"message"`
}

// Prepare builds the notification the escalate action will send. Its value
// is optional extra text. It sends nothing.
func (n *Notifier) Prepare(ctx context.Context, req action.Request) (action.Plan, error) {
	extra, err := escalateText(req.Value)
	if err != nil {
		return action.Plan{}, invalidf("escalate %s: %v", actionLabel(req), err)
	}
	cfg, u, err := n.settings(ctx, req.Project, req.Stage)
	if err != nil {
		return action.Plan{}, err
	}
	esc := action.Escalation{}
	if n.history != nil {
		if esc, err = n.history(ctx, req); err != nil {
			return action.Plan{}, fmt.Errorf("escalate: the story of the remediation: %w", err)
		}
	}
	esc.Key, esc.Project, esc.Stage, esc.Service, esc.Problem = req.Key, req.Project, req.Stage, req.Service, req.Problem
	esc.Message = extra
	if esc.Reason == "" {
		esc.Reason = "the remediation reached its escalate action"
		if req.Name != "" {
			esc.Reason = fmt.Sprintf("the remediation reached its escalate action %q", req.Name)
		}
	}
	raw, err := json.Marshal(notifyPlan{Message: BuildMessage(esc, cfg.UIURL)})
	if err != nil {
		return action.Plan{}, fmt.Errorf("escalate: encode plan: %w", err)
	}
	return action.Plan{
		Action:  req.Action,
		Summary: "send the escalation notification to " + hostOnly(u),
		Changes: []action.Change{{Target: "escalation " + u.Host, From: "", To: "sent"}},
		Data:    raw,
	}, nil
}

// Apply sends the planned notification, with the request's key as its
// Idempotency-Key.
func (n *Notifier) Apply(ctx context.Context, req action.Request, plan action.Plan) (action.Result, error) {
	var data notifyPlan
	if err := json.Unmarshal(plan.Data, &data); err != nil || data.Message.Text == "" {
		return action.Result{}, invalidf("escalate %s: the plan holds no notification (was it made by this executor?)", actionLabel(req))
	}
	cfg, u, err := n.settings(ctx, req.Project, req.Stage)
	if err != nil {
		return action.Result{}, err
	}
	ans, err := n.send(ctx, cfg, u, req.Key, data.Message)
	if err != nil {
		return action.Result{}, err
	}
	return action.Result{
		Message: fmt.Sprintf("escalation sent to %s, which answered %s: %s", hostOnly(u), ans.status, ans.text),
		Changes: plan.Changes,
	}, nil
}

// Notify sends the escalation notification of esc to its project's and
// stage's webhook. It returns action.ErrNotConfigured when there is none; an
// error wrapping action.ErrInvalid is final, others may be retried with
// the same esc (and so the same Idempotency-Key).
func (n *Notifier) Notify(ctx context.Context, esc action.Escalation) error {
	cfg, u, err := n.settings(ctx, esc.Project, esc.Stage)
	if err != nil {
		return err
	}
	_, err = n.send(ctx, cfg, u, esc.Key, BuildMessage(esc, cfg.UIURL))
	return err
}

// settings resolves and checks the escalation settings.
func (n *Notifier) settings(ctx context.Context, project, stage string) (NotifyConfig, *url.URL, error) {
	if n.resolve == nil {
		return NotifyConfig{}, nil, fmt.Errorf("escalate: project %s stage %s: %w", project, stage, action.ErrNotConfigured)
	}
	cfg, err := n.resolve(ctx, project, stage)
	if err != nil {
		return NotifyConfig{}, nil, fmt.Errorf("escalate: settings of project %s stage %s: %w", project, stage, err)
	}
	if strings.TrimSpace(cfg.URL) == "" {
		return NotifyConfig{}, nil, fmt.Errorf("escalate: project %s stage %s: %w; set the escalation webhook URL in the server configuration", project, stage, action.ErrNotConfigured)
	}
	u, err := checkURL(cfg.URL)
	if err != nil {
		// checkURL's messages show the path, which an incoming-webhook URL
		// uses as its secret: say less.
		return NotifyConfig{}, nil, invalidf("escalate: the escalation webhook URL of project %s stage %s is not usable: want an http(s) URL with a host and no user:password@ (put credentials in its headers)", project, stage)
	}
	for name := range cfg.Headers {
		if err := checkHeaderName(name); err != nil {
			return NotifyConfig{}, nil, invalidf("escalate: escalation webhook headers of project %s stage %s: %v", project, stage, err)
		}
		if strings.ContainsAny(cfg.Headers[name], "\r\n\x00") {
			return NotifyConfig{}, nil, invalidf("escalate: escalation webhook header %s of project %s stage %s contains a line break or NUL", name, project, stage)
		}
	}
	return cfg, u, nil
}

func (n *Notifier) send(ctx context.Context, cfg NotifyConfig, u *url.URL, key string, msg SlackMessage) (answer, error) {
	body, err := json.Marshal(msg)
	if err != nil {
		return answer{}, fmt.Errorf("escalate: encode message: %w", err)
	}
	h := http.Header{}
	var secrets []string
	for name, v := range cfg.Headers {
		h.Set(name, v)
		secrets = append(secrets, v)
	}
	h.Set("Content-Type", "application/json")
	shown := hostOnly(u)
	return n.http.do(ctx, call{
		op:      "escalate",
		method:  http.MethodPost,
		url:     u,
		where:   shown,
		headers: h,
		body:    body,
		key:     key,
		timeout: cfg.Timeout,
		redact:  newRedactor(secrets, urlForms(u, shown, true)),
	})
}

// hostOnly shows an escalation URL as scheme and host.
func hostOnly(u *url.URL) string { return u.Scheme + "://" + u.Host }

// escalateText reads the escalate action's optional value: extra text.
func escalateText(v any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(t), nil
	case bool, int, int64, float64:
		return fmt.Sprint(t), nil
	case map[string]any:
		if m, ok := t["message"].(string); ok && len(t) == 1 {
			return strings.TrimSpace(m), nil
		}
	}
	return "", fmt.Errorf("the value is a %T; want nothing, or a text to add to the notification (value: \"Call the on-call DBA\", or {message: ...})", v)
}

// Limits that keep a notification readable.
const (
	maxLine     = 300
	maxAttempts = 20
)

// BuildMessage writes the escalation notification: project, stage and
// service, the problem, the reason, every action tried with its result,
// the last evaluation, and a link (tend's UI when uiURL is set, else the
// problem's URL). Text from outside (titles, messages) is flattened to one
// line, shortened, and escaped as Slack's mrkdwn requires (&, <, >).
func BuildMessage(esc action.Escalation, uiURL string) SlackMessage {
	var b strings.Builder
	title := line(esc.Problem.Title)
	if title == "" {
		title = "(untitled problem)"
	}
	fmt.Fprintf(&b, ":rotating_light: *tend escalation*: *%s* in %s / %s / %s\n",
		title, orDash(line(esc.Project)), orDash(line(esc.Stage)), orDash(line(esc.Service)))
	if esc.Reason != "" {
		fmt.Fprintf(&b, "Why: %s\n", line(esc.Reason))
	}
	if esc.Problem.RootCause != "" {
		fmt.Fprintf(&b, "Root cause: %s\n", line(esc.Problem.RootCause))
	}
	if esc.Problem.ID != "" {
		fmt.Fprintf(&b, "Problem: %s", line(esc.Problem.ID))
		if esc.Problem.State != "" {
			fmt.Fprintf(&b, " (%s)", line(esc.Problem.State))
		}
		b.WriteString("\n")
	}
	if len(esc.Actions) == 0 {
		b.WriteString("Actions tried: none\n")
	} else {
		b.WriteString("Actions tried:\n")
		for i, a := range esc.Actions {
			if i == maxAttempts {
				fmt.Fprintf(&b, "• … and %d more\n", len(esc.Actions)-maxAttempts)
				break
			}
			b.WriteString("• " + attemptLine(a) + "\n")
		}
	}
	if ev := esc.LastEvaluation; ev != nil {
		fmt.Fprintf(&b, "Last evaluation: %s, score %s\n", orDash(line(ev.Result)), formatScore(ev.Score))
	} else {
		b.WriteString("Last evaluation: none\n")
	}
	if esc.Message != "" {
		fmt.Fprintf(&b, "Note: %s\n", line(esc.Message))
	}
	if link := escalationLink(esc, uiURL); link != "" {
		fmt.Fprintf(&b, "Details: %s\n", escapeMrkdwn(link))
	}
	return SlackMessage{Text: strings.TrimSuffix(b.String(), "\n")}
}

func attemptLine(a action.EscalationAttempt) string {
	name := line(a.Action)
	if a.Name != "" {
		name = fmt.Sprintf("%s (%s)", line(a.Name), orDash(line(a.Action)))
	}
	outcome := "done"
	if a.Failed {
		outcome = "failed"
	}
	s := orDash(name) + ": " + outcome
	var changes []string
	for _, c := range a.Changes {
		changes = append(changes, fmt.Sprintf("%s %s → %s", line(c.Target), orDash(line(c.From)), orDash(line(c.To))))
	}
	if len(changes) > 0 {
		s += ", " + strings.Join(changes, ", ")
	}
	if m := line(a.Message); m != "" {
		s += ": " + m
	}
	return s
}

// escalationLink is where the message sends the reader.
func escalationLink(esc action.Escalation, uiURL string) string {
	if ui := strings.TrimRight(strings.TrimSpace(uiURL), "/"); ui != "" {
		if esc.RemediationID != "" {
			return ui + "/remediations/" + url.PathEscape(esc.RemediationID)
		}
		return ui
	}
	if u, err := url.Parse(strings.TrimSpace(esc.Problem.URL)); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return sanitize(u.String(), 2*maxLine)
	}
	return ""
}

// line flattens outside text to one escaped, bounded line.
func line(s string) string {
	return escapeMrkdwn(sanitize(s, maxLine))
}

// escapeMrkdwn escapes what Slack's mrkdwn reads as markup delimiters.
func escapeMrkdwn(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// formatScore shows a score with at most two decimals: 100, 33.33.
func formatScore(f float64) string {
	s := strconv.FormatFloat(f, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-" {
		return "0"
	}
	return s
}
