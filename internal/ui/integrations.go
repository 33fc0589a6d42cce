package ui

import (
	"net/http"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/integration"
	"github.com/tendhq/tend/internal/store"
)

// staleAfter marks an integration that has not pinged for a while: Keptn's
// Go SDK pings every five seconds while it runs.
const staleAfter = 2 * time.Minute

type integrationsData struct {
	pageBase
	Integrations []integrationItem
}

type integrationItem struct {
	ID, Name, Version, Location, Where string
	LastSeen                           time.Time
	Stale                              bool
	Subscriptions                      []subscriptionItem
}

type subscriptionItem struct {
	Event, Filter string
}

// integrationsPage lists the Keptn integrations registered through the
// uniform API, as far as the session's token may see them.
func (u *UI) integrationsPage(w http.ResponseWriter, r *http.Request) {
	all, err := u.store.ListIntegrations(r.Context())
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	now := u.now()
	d := integrationsData{pageBase: base(sess(r), "Integrations", crumb{Label: "Integrations"})}
	for _, in := range all {
		in, ok := integration.Visible(principal(r), in)
		if !ok {
			continue
		}
		var where []string
		for _, v := range []string{in.Namespace, in.PodName, in.Hostname} {
			if v != "" {
				where = append(where, v)
			}
		}
		it := integrationItem{ID: in.ID, Name: in.Name, Version: in.IntegrationVersion, Location: in.Location,
			Where: strings.Join(where, " / "), LastSeen: in.LastSeen, Stale: now.Sub(in.LastSeen) > staleAfter}
		for _, sub := range in.Subscriptions {
			it.Subscriptions = append(it.Subscriptions, subscriptionItem{Event: sub.Event, Filter: filterText(sub.Projects, sub.Stages, sub.Services)})
		}
		d.Integrations = append(d.Integrations, it)
	}
	u.render(w, r, http.StatusOK, "integrations", d)
}

// filterText shows a subscription's filter as "project a, b · stage dev",
// or "every project" when it has none.
func filterText(projects, stages, services []string) string {
	var parts []string
	for _, p := range []struct {
		name  string
		names []string
	}{{"project", projects}, {"stage", stages}, {"service", services}} {
		if len(p.names) > 0 {
			parts = append(parts, p.name+" "+strings.Join(p.names, ", "))
		}
	}
	if len(parts) == 0 {
		return "every project"
	}
	return strings.Join(parts, " · ")
}

// logView is an integration's log line about a task of a keptn context.
type logView struct {
	Time                           time.Time
	Integration, Task, TriggeredID string
	Message                        string
}

// contextLogs returns the newest log lines integrations sent about a keptn
// context, oldest first, as far as the session may read them. A failure to
// read them leaves them out rather than failing the events page.
func (u *UI) contextLogs(r *http.Request, kctx string) []logView {
	p := principal(r)
	pg, err := u.store.ListIntegrationLogs(r.Context(), store.IntegrationLogFilter{KeptnContext: kctx, Project: p.Project, PageSize: store.MaxPageSize})
	if err != nil {
		u.log.WarnContext(r.Context(), "integration_logs_unreadable", "keptn_context", kctx, "err", err)
		return nil
	}
	names := map[string]string{}
	if ins, err := u.store.ListIntegrations(r.Context()); err == nil {
		for _, in := range ins {
			names[in.ID] = in.Name
		}
	}
	out := make([]logView, 0, len(pg.Logs))
	for i := len(pg.Logs) - 1; i >= 0; i-- {
		l := pg.Logs[i]
		name := names[l.IntegrationID]
		if name == "" {
			name = l.IntegrationID
		}
		out = append(out, logView{Time: l.Time, Integration: name, Task: l.Task, TriggeredID: l.TriggeredID, Message: l.Message})
	}
	return out
}
