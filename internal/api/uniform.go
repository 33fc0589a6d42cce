package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/integration"
	"github.com/tendhq/tend/internal/store"
)

// Keptn's uniform API: how an integration (an executor outside tend, such
// as a service built on Keptn's Go SDK) registers, keeps its registration
// alive with pings that answer its subscriptions, and sends log lines. It
// polls its tasks at /api/controlPlane/v1/event/triggered/{type} and
// answers them through POST /api/v1/event (events.go).
//
// Who may do what: registering, pinging and managing an integration need
// write scope on the project of the token that registered it (an
// unrestricted token's integrations need an unrestricted token). A
// project-restricted token registers only subscriptions filtered to its
// project (an unfiltered one is filtered to it), and its listing shows only
// what concerns its project.

const uniformRegistration = keptnControlPlane + "/uniform/registration"

// Limits of what one registration may hold, so that a registration cannot
// grow the store without bound.
const (
	maxSubscriptions = 100
	maxFilterNames   = 100
	maxNameLen       = 250
	maxLogEntries    = 1000
	maxLogMessage    = 64 << 10
)

func (s *Server) uniformRoutes() []route {
	item := uniformRegistration + "/{id}"
	sub := item + "/subscription"
	return []route{
		{method: http.MethodPost, path: uniformRegistration, access: accessHandler, tag: "keptn", op: "keptnRegisterIntegration",
			summary: "Register a Keptn integration (Keptn's Go SDK does on start). The id is derived from name, metadata.kubernetesmetadata.namespace and metadata.hostname, so the same deployment gets the same id; a known integration keeps its subscriptions and gains the new ones. Needs write scope; a project-restricted token's subscriptions are filtered to its project.",
			request: apitypes.KeptnIntegration{}, response: apitypes.KeptnID{}, status: http.StatusOK, handler: s.registerIntegration},
		{method: http.MethodGet, path: uniformRegistration, access: accessHandler, tag: "keptn", op: "keptnListIntegrations",
			summary: "List registered integrations with their subscriptions and last seen time. A project-restricted token sees only subscriptions that concern its project.",
			query: []param{
				{name: "id", desc: "Only the integration with this id."},
				{name: "name", desc: "Only integrations of this name."},
				{name: "project", desc: "Only integrations with a subscription that covers this project."},
				{name: "stage", desc: "Only integrations with a subscription that covers this stage."},
				{name: "service", desc: "Only integrations with a subscription that covers this service."},
			},
			response: []apitypes.KeptnIntegration{}, status: http.StatusOK, handler: s.listIntegrations},
		{method: http.MethodDelete, path: item, access: accessHandler, tag: "keptn", op: "keptnUnregisterIntegration",
			summary: "Remove an integration and its subscriptions; its logs stay.", response: apitypes.KeptnMessage{}, status: http.StatusOK, handler: s.unregisterIntegration},
		{method: http.MethodPut, path: item + "/ping", access: accessHandler, tag: "keptn", op: "keptnPingIntegration",
			summary:  "Renew a registration (the Go SDK pings every 5 seconds): records the last seen time and answers the integration with its subscriptions, each with its id.",
			response: apitypes.KeptnIntegration{}, status: http.StatusOK, handler: s.pingIntegration},
		{method: http.MethodGet, path: sub, access: accessHandler, tag: "keptn", op: "keptnListSubscriptions",
			summary: "List an integration's subscriptions.", response: []apitypes.KeptnSubscription{}, status: http.StatusOK, handler: s.listSubscriptions},
		{method: http.MethodPost, path: sub, access: accessHandler, tag: "keptn", op: "keptnCreateSubscription",
			summary: "Add a subscription {event, filter{projects, stages, services}} to an integration.",
			request: apitypes.KeptnSubscription{}, response: apitypes.KeptnID{}, status: http.StatusCreated, handler: s.createSubscription},
		{method: http.MethodGet, path: sub + "/{subscriptionID}", access: accessHandler, tag: "keptn", op: "keptnGetSubscription",
			summary: "Get one subscription of an integration.", response: apitypes.KeptnSubscription{}, status: http.StatusOK, handler: s.getSubscription},
		{method: http.MethodPut, path: sub + "/{subscriptionID}", access: accessHandler, tag: "keptn", op: "keptnUpdateSubscription",
			summary: "Replace a subscription's event and filter; it keeps its id.",
			request: apitypes.KeptnSubscription{}, response: apitypes.KeptnID{}, status: http.StatusOK, handler: s.updateSubscription},
		{method: http.MethodDelete, path: sub + "/{subscriptionID}", access: accessHandler, tag: "keptn", op: "keptnDeleteSubscription",
			summary: "Remove a subscription from an integration.", response: apitypes.KeptnMessage{}, status: http.StatusOK, handler: s.deleteSubscription},

		{method: http.MethodPost, path: keptnControlPlane + "/log", access: accessHandler, tag: "keptn", op: "keptnCreateLogs",
			summary: "Store integrations' log lines {logs:[{integrationid, shkeptncontext, triggeredid, task, message}]}. A line about a triggered event belongs to that event's project and needs write scope on it.",
			request: apitypes.KeptnLogs{}, response: apitypes.KeptnMessage{}, status: http.StatusOK, handler: s.createLogs},
		{method: http.MethodGet, path: keptnControlPlane + "/log", access: accessHandler, tag: "keptn", op: "keptnListLogs",
			summary: "Integrations' log lines, newest first. A project-restricted token sees only its project's lines.",
			query: []param{
				{name: "integrationId", desc: "Only the lines of this integration."},
				{name: "keptnContext", desc: "Only the lines about this Keptn context."},
				{name: "fromTime", desc: "Only lines at or after this RFC 3339 time."},
				{name: "beforeTime", desc: "Only lines before this RFC 3339 time."},
				{name: "pageSize", desc: "Number of lines per page (default 20, at most 500).", integer: true},
				{name: "nextPageKey", desc: "The nextPageKey of the previous page (a number); omit for the first page.", integer: true},
			},
			response: apitypes.KeptnLogList{}, status: http.StatusOK, handler: s.listLogs},
	}
}

// legacyRegistration is the registration body of Keptn 0.8 to 0.12
// integrations: one subscription of several topics with single-valued
// filters.
type legacyRegistration struct {
	apitypes.KeptnIntegration
	Subscription *struct {
		Topics []string `json:"topics"`
		Status string   `json:"status"`
		Filter struct {
			Project string `json:"project"`
			Stage   string `json:"stage"`
			Service string `json:"service"`
		} `json:"filter"`
	} `json:"subscription,omitempty"`
}

// decodeRegistration reads and checks a registration body. The older
// single "subscription" of topics becomes one subscription per topic.
func decodeRegistration(body []byte) (apitypes.KeptnIntegration, error) {
	var in legacyRegistration
	if err := unmarshalStrict(body, &in); err != nil {
		return apitypes.KeptnIntegration{}, err
	}
	out := in.KeptnIntegration
	if l := in.Subscription; l != nil {
		one := func(v string) []string {
			if v == "" {
				return nil
			}
			return []string{v}
		}
		for _, t := range l.Topics {
			out.Subscriptions = append(out.Subscriptions, apitypes.KeptnSubscription{Event: t,
				Filter: apitypes.KeptnSubscriptionFilter{Projects: one(l.Filter.Project), Stages: one(l.Filter.Stage), Services: one(l.Filter.Service)}})
		}
	}
	var probs []string
	if err := checkText("name", out.Name, true); err != nil {
		probs = append(probs, err.Error())
	}
	md := out.MetaData
	for _, f := range []struct{ field, v string }{
		{"metadata.hostname", md.Hostname}, {"metadata.integrationversion", md.IntegrationVersion},
		{"metadata.distributorversion", md.DistributorVersion}, {"metadata.location", md.Location},
		{"metadata.kubernetesmetadata.namespace", md.KubernetesMetaData.Namespace},
		{"metadata.kubernetesmetadata.podname", md.KubernetesMetaData.PodName},
		{"metadata.kubernetesmetadata.deploymentname", md.KubernetesMetaData.DeploymentName},
	} {
		if err := checkText(f.field, f.v, false); err != nil {
			probs = append(probs, err.Error())
		}
	}
	if len(out.Subscriptions) > maxSubscriptions {
		probs = append(probs, fmt.Sprintf("subscriptions: %d are more than the %d an integration may have", len(out.Subscriptions), maxSubscriptions))
	}
	for i, sub := range out.Subscriptions {
		if err := checkSubscription(fmt.Sprintf("subscriptions[%d]", i), sub); err != nil {
			probs = append(probs, err.Error())
		}
	}
	if len(probs) > 0 {
		return apitypes.KeptnIntegration{}, errorf(http.StatusBadRequest, "invalid registration: %s", strings.Join(probs, "; "))
	}
	return out, nil
}

// decodeSubscription reads and checks the body of the subscription routes.
func decodeSubscription(body []byte) (apitypes.KeptnSubscription, error) {
	var sub apitypes.KeptnSubscription
	if err := unmarshalStrict(body, &sub); err != nil {
		return apitypes.KeptnSubscription{}, err
	}
	if err := checkSubscription("subscription", sub); err != nil {
		return apitypes.KeptnSubscription{}, errorf(http.StatusBadRequest, "invalid subscription: %v", err)
	}
	return sub, nil
}

// decodeLogs reads and checks the body of POST /api/controlPlane/v1/log.
func decodeLogs(body []byte) (apitypes.KeptnLogs, error) {
	var in apitypes.KeptnLogs
	if err := unmarshalStrict(body, &in); err != nil {
		return apitypes.KeptnLogs{}, err
	}
	if len(in.Logs) > maxLogEntries {
		return apitypes.KeptnLogs{}, errorf(http.StatusBadRequest, "logs: %d entries are more than the %d one request may carry", len(in.Logs), maxLogEntries)
	}
	var probs []string
	for i, l := range in.Logs {
		at := fmt.Sprintf("logs[%d]", i)
		if err := checkText(at+".integrationid", l.IntegrationID, true); err != nil {
			probs = append(probs, err.Error())
		}
		for _, f := range []struct{ field, v string }{{".shkeptncontext", l.KeptnContext}, {".triggeredid", l.TriggeredID}, {".task", l.Task}} {
			if err := checkText(at+f.field, f.v, false); err != nil {
				probs = append(probs, err.Error())
			}
		}
		if len(l.Message) > maxLogMessage {
			probs = append(probs, fmt.Sprintf("%s.message: %d bytes are more than %d", at, len(l.Message), maxLogMessage))
		}
	}
	if len(probs) > 0 {
		return apitypes.KeptnLogs{}, errorf(http.StatusBadRequest, "invalid logs: %s", strings.Join(probs, "; "))
	}
	return in, nil
}

// checkText accepts a short single-line name.
func checkText(field, v string, required bool) error {
	switch {
	case v == "" && required:
		return fmt.Errorf("%s is missing", field)
	case len(v) > maxNameLen:
		return fmt.Errorf("%s is longer than %d bytes", field, maxNameLen)
	case strings.IndexFunc(v, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) >= 0:
		return fmt.Errorf("%s %q holds control characters or invalid UTF-8", field, v)
	}
	return nil
}

func checkSubscription(at string, sub apitypes.KeptnSubscription) error {
	if err := checkText(at+".event", sub.Event, true); err != nil {
		return err
	}
	if strings.ContainsAny(sub.Event, " /?#") {
		return fmt.Errorf("%s.event %q is not an event type: give one like sh.keptn.event.hello.triggered", at, sub.Event)
	}
	for _, f := range []struct {
		field string
		v     []string
	}{{".filter.projects", sub.Filter.Projects}, {".filter.stages", sub.Filter.Stages}, {".filter.services", sub.Filter.Services}} {
		if len(f.v) > maxFilterNames {
			return fmt.Errorf("%s%s: %d names are more than %d", at, f.field, len(f.v), maxFilterNames)
		}
		for i, n := range f.v {
			if err := checkText(fmt.Sprintf("%s%s[%d]", at, f.field, i), n, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// scopedFilter returns the project filter a principal may register: an
// unrestricted token any, a restricted one only its own project (an empty
// filter, which means every project, becomes its project).
func scopedFilter(p auth.Principal, projects []string) ([]string, error) {
	if p.Project == "" {
		return projects, nil
	}
	if len(projects) == 0 {
		return []string{p.Project}, nil
	}
	for _, pr := range projects {
		if err := p.Can(auth.ActionWriteProject, pr); err != nil {
			return nil, err
		}
	}
	return projects, nil
}

func toSubscription(id string, sub apitypes.KeptnSubscription) store.Subscription {
	return store.Subscription{ID: id, Event: sub.Event, Projects: sub.Filter.Projects, Stages: sub.Filter.Stages, Services: sub.Filter.Services}
}

func keptnSubscription(sub store.Subscription) apitypes.KeptnSubscription {
	nonNil := func(v []string) []string {
		if v == nil {
			return []string{}
		}
		return v
	}
	return apitypes.KeptnSubscription{ID: sub.ID, Event: sub.Event, Filter: apitypes.KeptnSubscriptionFilter{
		Projects: nonNil(sub.Projects), Stages: nonNil(sub.Stages), Services: nonNil(sub.Services)}}
}

func keptnIntegration(in store.Integration) apitypes.KeptnIntegration {
	seen := in.LastSeen.UTC()
	out := apitypes.KeptnIntegration{ID: in.ID, Name: in.Name, MetaData: apitypes.KeptnIntegrationMetadata{
		Hostname: in.Hostname, IntegrationVersion: in.IntegrationVersion, DistributorVersion: in.DistributorVersion,
		Location: in.Location, LastSeen: &seen,
		KubernetesMetaData: apitypes.KeptnKubernetesMetadata{Namespace: in.Namespace, PodName: in.PodName, DeploymentName: in.DeploymentName},
	}, Subscriptions: []apitypes.KeptnSubscription{}}
	for _, sub := range in.Subscriptions {
		out.Subscriptions = append(out.Subscriptions, keptnSubscription(sub))
	}
	return out
}

func sameFilter(a store.Subscription, b apitypes.KeptnSubscription) bool {
	eq := func(x, y []string) bool { return len(x) == len(y) && (len(x) == 0 || slices.Equal(x, y)) }
	return a.Event == b.Event && eq(a.Projects, b.Filter.Projects) && eq(a.Stages, b.Filter.Stages) && eq(a.Services, b.Filter.Services)
}

// manage checks that p may manage an integration registered by a token of
// project owner.
func manage(p auth.Principal, owner string) error {
	return p.Can(auth.ActionWriteProject, owner)
}

func (s *Server) registerIntegration(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if err := manage(p, p.Project); err != nil {
		s.writeError(w, r, err)
		return
	}
	reg, err := readDecoded(r, decodeRegistration)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for i := range reg.Subscriptions {
		if reg.Subscriptions[i].Filter.Projects, err = scopedFilter(p, reg.Subscriptions[i].Filter.Projects); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	md := reg.MetaData
	id := integration.ID(reg.Name, md.KubernetesMetaData.Namespace, md.Hostname)
	now := s.now().UTC()
	_, err = s.store.UpdateIntegration(r.Context(), id, func(in store.Integration, found bool) (store.Integration, error) {
		if found {
			if err := manage(p, in.Project); err != nil {
				return in, err
			}
		} else {
			in.Project, in.RegisteredAt = p.Project, now
		}
		in.Name, in.LastSeen = reg.Name, now
		in.Hostname, in.IntegrationVersion, in.DistributorVersion, in.Location = md.Hostname, md.IntegrationVersion, md.DistributorVersion, md.Location
		in.Namespace, in.PodName, in.DeploymentName = md.KubernetesMetaData.Namespace, md.KubernetesMetaData.PodName, md.KubernetesMetaData.DeploymentName
		// Subscriptions edited through the API survive a restart of the
		// integration: a registration only adds what is new.
		for _, sub := range reg.Subscriptions {
			if !slices.ContainsFunc(in.Subscriptions, func(have store.Subscription) bool { return sameFilter(have, sub) }) {
				if len(in.Subscriptions) >= maxSubscriptions {
					return in, errorf(http.StatusBadRequest, "integration %q has %d subscriptions, the most it may have", reg.Name, maxSubscriptions)
				}
				in.Subscriptions = append(in.Subscriptions, toSubscription(event.NewUUID(), sub))
			}
		}
		return in, nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "integration_registered", "integration_id", id, "name", reg.Name)
	writeJSON(w, http.StatusOK, apitypes.KeptnID{ID: id})
}

// updateOwned runs a read-modify-write of an integration the caller may
// manage. An integration the caller may not even see answers 404, as an
// unknown one does.
func (s *Server) updateOwned(ctx context.Context, p auth.Principal, id string, fn func(in *store.Integration) error) (store.Integration, error) {
	return s.store.UpdateIntegration(ctx, id, func(in store.Integration, found bool) (store.Integration, error) {
		if !found {
			return in, fmt.Errorf("integration %q: %w", id, store.ErrNotFound)
		}
		if err := manage(p, in.Project); err != nil {
			if _, ok := integration.Visible(p, in); !ok {
				return in, fmt.Errorf("integration %q: %w", id, store.ErrNotFound)
			}
			return in, err
		}
		return in, fn(&in)
	})
}

func (s *Server) pingIntegration(w http.ResponseWriter, r *http.Request) {
	now := s.now().UTC()
	in, err := s.updateOwned(r.Context(), principalOf(r), r.PathValue("id"), func(in *store.Integration) error {
		in.LastSeen = now
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, keptnIntegration(in))
}

func (s *Server) listIntegrations(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if err := p.Can(auth.ActionReadProject, p.Project); err != nil {
		s.writeError(w, r, err)
		return
	}
	all, err := s.store.ListIntegrations(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	project, stage, service := q.Get("project"), q.Get("stage"), q.Get("service")
	out := []apitypes.KeptnIntegration{}
	for _, in := range all {
		in, ok := integration.Visible(p, in)
		if !ok || (q.Get("id") != "" && in.ID != q.Get("id")) || (q.Get("name") != "" && in.Name != q.Get("name")) {
			continue
		}
		if project != "" || stage != "" || service != "" {
			if !slices.ContainsFunc(in.Subscriptions, func(sub store.Subscription) bool {
				return integration.Covers(sub.Projects, project) && integration.Covers(sub.Stages, stage) && integration.Covers(sub.Services, service)
			}) {
				continue
			}
		}
		out = append(out, keptnIntegration(in))
	}
	writeJSON(w, http.StatusOK, out)
}

// readIntegration returns the part of an integration p may see, or 404.
func (s *Server) readIntegration(r *http.Request) (store.Integration, error) {
	p := principalOf(r)
	if err := p.Can(auth.ActionReadProject, p.Project); err != nil {
		return store.Integration{}, err
	}
	id := r.PathValue("id")
	in, err := s.store.GetIntegration(r.Context(), id)
	if err != nil {
		return store.Integration{}, err
	}
	in, ok := integration.Visible(p, in)
	if !ok {
		return store.Integration{}, fmt.Errorf("integration %q: %w", id, store.ErrNotFound)
	}
	return in, nil
}

func (s *Server) unregisterIntegration(w http.ResponseWriter, r *http.Request) {
	in, err := s.readIntegration(r)
	if err == nil {
		err = manage(principalOf(r), in.Project)
	}
	if err == nil {
		err = s.store.DeleteIntegration(r.Context(), in.ID)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "integration_unregistered", "integration_id", in.ID, "name", in.Name)
	writeJSON(w, http.StatusOK, apitypes.KeptnMessage{Message: "integration " + in.Name + " removed"})
}

func (s *Server) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	in, err := s.readIntegration(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, keptnIntegration(in).Subscriptions)
}

func (s *Server) getSubscription(w http.ResponseWriter, r *http.Request) {
	in, err := s.readIntegration(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sid := r.PathValue("subscriptionID")
	i := slices.IndexFunc(in.Subscriptions, func(sub store.Subscription) bool { return sub.ID == sid })
	if i < 0 {
		s.writeError(w, r, fmt.Errorf("subscription %q of integration %q: %w", sid, in.ID, store.ErrNotFound))
		return
	}
	writeJSON(w, http.StatusOK, keptnSubscription(in.Subscriptions[i]))
}

// subscriptionBody reads a subscription body and scopes its projects.
func subscriptionBody(r *http.Request) (apitypes.KeptnSubscription, error) {
	sub, err := readDecoded(r, decodeSubscription)
	if err != nil {
		return apitypes.KeptnSubscription{}, err
	}
	sub.Filter.Projects, err = scopedFilter(principalOf(r), sub.Filter.Projects)
	return sub, err
}

func (s *Server) createSubscription(w http.ResponseWriter, r *http.Request) {
	sub, err := subscriptionBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sid := event.NewUUID()
	_, err = s.updateOwned(r.Context(), principalOf(r), r.PathValue("id"), func(in *store.Integration) error {
		if len(in.Subscriptions) >= maxSubscriptions {
			return errorf(http.StatusBadRequest, "integration %q has %d subscriptions, the most it may have", in.Name, maxSubscriptions)
		}
		in.Subscriptions = append(in.Subscriptions, toSubscription(sid, sub))
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, apitypes.KeptnID{ID: sid})
}

// editSubscription replaces (sub != nil) or removes one subscription.
func (s *Server) editSubscription(r *http.Request, sub *apitypes.KeptnSubscription) error {
	sid := r.PathValue("subscriptionID")
	_, err := s.updateOwned(r.Context(), principalOf(r), r.PathValue("id"), func(in *store.Integration) error {
		i := slices.IndexFunc(in.Subscriptions, func(have store.Subscription) bool { return have.ID == sid })
		if i < 0 {
			return fmt.Errorf("subscription %q of integration %q: %w", sid, in.ID, store.ErrNotFound)
		}
		in.Subscriptions = slices.Clone(in.Subscriptions)
		if sub == nil {
			in.Subscriptions = slices.Delete(in.Subscriptions, i, i+1)
		} else {
			in.Subscriptions[i] = toSubscription(sid, *sub)
		}
		return nil
	})
	return err
}

func (s *Server) updateSubscription(w http.ResponseWriter, r *http.Request) {
	sub, err := subscriptionBody(r)
	if err == nil {
		err = s.editSubscription(r, &sub)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.KeptnID{ID: r.PathValue("subscriptionID")})
}

func (s *Server) deleteSubscription(w http.ResponseWriter, r *http.Request) {
	if err := s.editSubscription(r, nil); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.KeptnMessage{Message: "subscription " + r.PathValue("subscriptionID") + " removed"})
}

// logProject finds the project a log line is about: the project of the
// triggered event it names, else of its Keptn context's first event, else
// the token's own.
func (s *Server) logProject(ctx context.Context, p auth.Principal, l apitypes.KeptnLogEntry) (string, error) {
	lookups := []store.EventFilter{}
	if l.TriggeredID != "" {
		lookups = append(lookups, store.EventFilter{ID: l.TriggeredID, PageSize: 1})
	}
	if l.KeptnContext != "" {
		lookups = append(lookups, store.EventFilter{KeptnContext: event.ContextFor(l.KeptnContext), PageSize: 1})
	}
	for _, f := range lookups {
		pg, err := s.store.ListEvents(ctx, f)
		if err != nil {
			return "", fmt.Errorf("find the project of a log line: %w", err)
		}
		if len(pg.Events) > 0 && pg.Events[0].Project != "" {
			return pg.Events[0].Project, nil
		}
	}
	return p.Project, nil
}

func (s *Server) createLogs(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if err := p.Can(auth.ActionWriteProject, p.Project); err != nil {
		s.writeError(w, r, err)
		return
	}
	in, err := readDecoded(r, decodeLogs)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	logs := make([]store.IntegrationLog, 0, len(in.Logs))
	for _, l := range in.Logs {
		project, err := s.logProject(r.Context(), p, l)
		if err == nil {
			err = p.Can(auth.ActionWriteProject, project)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var t time.Time
		if l.Time != nil {
			t = *l.Time
		}
		logs = append(logs, store.IntegrationLog{IntegrationID: l.IntegrationID, Project: project, KeptnContext: l.KeptnContext,
			TriggeredID: l.TriggeredID, Task: l.Task, Message: l.Message, Time: t})
	}
	if err := s.store.AppendIntegrationLogs(r.Context(), logs...); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.KeptnMessage{Message: strconv.Itoa(len(logs)) + " log lines stored"})
}

func parseLogTime(q string, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errorf(http.StatusBadRequest, "%s %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", q, v)
	}
	return t, nil
}

func (s *Server) listLogs(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if err := p.Can(auth.ActionReadProject, p.Project); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	f := store.IntegrationLogFilter{IntegrationID: q.Get("integrationId"), Project: p.Project}
	if c := q.Get("keptnContext"); c != "" {
		f.KeptnContext = c
	}
	var err error
	if f.FromTime, err = parseLogTime("fromTime", q.Get("fromTime")); err == nil {
		f.BeforeTime, err = parseLogTime("beforeTime", q.Get("beforeTime"))
	}
	if err == nil {
		f.PageSize, err = pageSize(r)
	}
	if err == nil && q.Get("nextPageKey") != "" {
		f.Offset, err = strconv.Atoi(q.Get("nextPageKey"))
		if err != nil || f.Offset < 0 {
			err = errorf(http.StatusBadRequest, "nextPageKey %q is invalid: pass the nextPageKey of the previous page unchanged", q.Get("nextPageKey"))
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pg, err := s.store.ListIntegrationLogs(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := apitypes.KeptnLogList{NextPageKey: int64(pg.NextOffset), PageSize: int64(len(pg.Logs)), TotalCount: int64(pg.TotalCount), Logs: []apitypes.KeptnLogEntry{}}
	for _, l := range pg.Logs {
		t := l.Time.UTC()
		out.Logs = append(out.Logs, apitypes.KeptnLogEntry{IntegrationID: l.IntegrationID, Message: l.Message, Time: &t,
			KeptnContext: l.KeptnContext, Task: l.Task, TriggeredID: l.TriggeredID})
	}
	writeJSON(w, http.StatusOK, out)
}

// answerScope files an answer (started, status.changed, finished) that
// names no project under its triggered event's project, stage and service.
// Keptn's Go SDK sends a task's finished event with only the data the task
// returned, and Keptn found the task by triggeredid; filling the scope in
// lets the answer be checked against the token's project and found by the
// event log's filters. It looks the task up as the answer check does (by
// id and the answer's .triggered type, tend's own event first) and fills
// nothing when that is ambiguous: the check then refuses the answer.
func (s *Server) answerScope(ctx context.Context, ev *event.Event) error {
	if ev.Project() != "" {
		return nil
	}
	tasks, err := s.answeredTasks(ctx, ev)
	if err != nil {
		return fmt.Errorf("find the triggered event of an answer: %w", err)
	}
	if len(tasks) > 1 && tasks[0].Source == event.DefaultSource {
		tasks = tasks[:1] // tend's own, the first of them
	}
	if len(tasks) != 1 || tasks[0].Project == "" {
		return nil
	}
	task := tasks[0]
	data := map[string]json.RawMessage{}
	if len(ev.Data) > 0 && string(ev.Data) != "null" {
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			return errorf(http.StatusBadRequest, "event data is not a JSON object: %v", err)
		}
	}
	for k, v := range map[string]string{"project": task.Project, "stage": task.Stage, "service": task.Service} {
		if _, ok := data[k]; !ok && v != "" {
			data[k], _ = json.Marshal(v) // a string always marshals
		}
	}
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("fill in an answer's scope: %w", err)
	}
	ev.Data = b
	return nil
}
