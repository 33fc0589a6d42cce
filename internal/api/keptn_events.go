package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/store"
)

// CloudEvents binary HTTP content mode: the attributes travel as ce-*
// headers and the body is the data. structuredEvent maps such a request to
// the structured-JSON body event.Parse reads, so one parser validates every
// event whatever its mode. The mapping is hand-written rather than the
// CloudEvents SDK's HTTP binding because the SDK cannot carry Keptn 0.6's
// specversion 0.2 through and would validate with rules and messages of
// its own (docs/ARCHITECTURE.md).

// isBinaryMode reports whether a request carries a binary-mode CloudEvent.
func isBinaryMode(h http.Header) bool {
	return h.Get("Ce-Specversion") != ""
}

// structuredEvent builds the structured-JSON event of a binary-mode
// request: every ce-NAME header becomes attribute NAME (percent-decoded, as
// the HTTP binding requires), Content-Type becomes datacontenttype, and
// the body becomes data (JSON bodies as JSON, others as a string).
func structuredEvent(h http.Header, body []byte) ([]byte, error) {
	obj := map[string]any{}
	for name, vals := range h {
		attr, ok := strings.CutPrefix(strings.ToLower(name), "ce-")
		if !ok || len(vals) == 0 {
			continue
		}
		if attr == "" || attr == "data" || attr == "data_base64" || !validAttr(attr) {
			return nil, errorf(http.StatusBadRequest, "header %s is not a CloudEvents attribute: names are lower-case letters and digits", name)
		}
		if len(vals) > 1 {
			return nil, errorf(http.StatusBadRequest, "header %s is given %d times; send it once", name, len(vals))
		}
		v, err := url.PathUnescape(vals[0])
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "header %s is not percent-encoded correctly: %v", name, err)
		}
		obj[attr] = v
	}
	if ct := h.Get("Content-Type"); ct != "" {
		obj["datacontenttype"] = ct
	}
	if len(bytes.TrimSpace(body)) > 0 {
		mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
		if mt == "" || mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "text/json" {
			if !json.Valid(body) {
				return nil, errorf(http.StatusBadRequest, "the body of a binary-mode CloudEvent with content type %q must be JSON (its data)", h.Get("Content-Type"))
			}
			obj["data"] = json.RawMessage(body)
		} else {
			obj["data"] = string(body)
		}
	}
	return json.Marshal(obj)
}

func validAttr(a string) bool {
	if len(a) > 20 {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// eventBody returns the structured-JSON event of a POST to /api/v1/event
// in either content mode.
func eventBody(r *http.Request, body []byte) ([]byte, error) {
	if !isBinaryMode(r.Header) {
		return body, nil
	}
	return structuredEvent(r.Header, body)
}

// keptnTimeLayout is the time format of Keptn's datastore queries.
const keptnTimeLayout = "2006-01-02T15:04:05.000Z"

// parseKeptnTime reads fromTime/beforeTime: RFC 3339 with or without
// fractional seconds.
func parseKeptnTime(name, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errorf(http.StatusBadRequest, "%s %q is not an RFC 3339 time such as %s", name, v, keptnTimeLayout)
	}
	return t.UTC(), nil
}

// keptnEventFilter reads the datastore's query parameters. Keptn compared
// times as millisecond strings, fromTime exclusive: an event is later than
// fromTime when its time, cut to milliseconds, is. A watcher that passes
// the newest time it has seen therefore never gets that event again.
func keptnEventFilter(q url.Values, project string) (store.EventFilter, error) {
	f := store.EventFilter{
		Project:      project,
		Stage:        q.Get("stage"),
		Service:      q.Get("service"),
		Type:         event.ExpandType(q.Get("type")),
		ID:           q.Get("eventID"),
		KeptnContext: keptnContextQuery(q.Get("keptnContext")),
		PageKey:      q.Get("nextPageKey"),
		CountTotal:   true,
	}
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, errorf(http.StatusBadRequest, "pageSize %q is invalid: give a whole number from 1 to %d", v, store.MaxPageSize)
		}
		f.PageSize = n
	}
	if v := q.Get("fromTime"); v != "" {
		t, err := parseKeptnTime("fromTime", v)
		if err != nil {
			return f, err
		}
		f.FromTime = t.Truncate(time.Millisecond).Add(time.Millisecond)
	}
	if v := q.Get("beforeTime"); v != "" {
		t, err := parseKeptnTime("beforeTime", v)
		if err != nil {
			return f, err
		}
		f.BeforeTime = t
	}
	if v := q.Get("root"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, errorf(http.StatusBadRequest, "root %q is invalid: give true or false", v)
		}
		f.Root = b
	}
	return f, nil
}

func (s *Server) keptnEvents(w http.ResponseWriter, r *http.Request) {
	project, err := eventProject(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f, err := keptnEventFilter(r.URL.Query(), project)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pg, err := s.store.ListEvents(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := apitypes.KeptnEvents{Events: make([]json.RawMessage, 0, len(pg.Events)), NextPageKey: pg.NextPageKey, PageSize: f.EffectivePageSize(), TotalCount: pg.TotalCount}
	for _, e := range pg.Events {
		out.Events = append(out.Events, json.RawMessage(e.JSON))
	}
	writeJSON(w, http.StatusOK, out)
}

// typeFilter is the parsed filter parameter of events by type.
type typeFilter struct {
	store store.EventFilter
	// data are data.FIELD[.FIELD] clauses matched against the event.
	data map[string]string
}

// parseTypeFilter reads Keptn's filter syntax: key:value clauses joined by
// " AND ".
func parseTypeFilter(v string) (typeFilter, error) {
	out := typeFilter{data: map[string]string{}}
	if strings.TrimSpace(v) == "" {
		return out, nil
	}
	for _, clause := range strings.Split(v, " AND ") {
		key, val, ok := strings.Cut(strings.TrimSpace(clause), ":")
		if !ok || key == "" || val == "" {
			return out, errorf(http.StatusBadRequest, "filter clause %q is not key:value (clauses are joined by \" AND \", e.g. data.project:sockshop AND data.stage:dev)", clause)
		}
		switch key {
		case "data.project":
			out.store.Project = val
		case "data.stage":
			out.store.Stage = val
		case "data.service":
			out.store.Service = val
		case "shkeptncontext":
			out.store.KeptnContext = keptnContextQuery(val)
		case "triggeredid":
			out.store.TriggeredID = val
		case "id":
			out.store.ID = val
		case "source":
			out.data["source"] = val
		default:
			path, ok := strings.CutPrefix(key, "data.")
			if !ok || path == "" {
				return out, errorf(http.StatusBadRequest, "filter key %q is unknown: use data.project, data.stage, data.service, shkeptncontext, triggeredid, id, source or data.FIELD", key)
			}
			out.data[key] = val
		}
	}
	return out, nil
}

// matches checks the clauses the store cannot.
func (f typeFilter) matches(raw []byte) bool {
	if len(f.data) == 0 {
		return true
	}
	var ev map[string]any
	if json.Unmarshal(raw, &ev) != nil {
		return false
	}
	for key, want := range f.data {
		var cur any = ev
		for _, part := range strings.Split(key, ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				return false
			}
			cur = m[part]
		}
		if fmt.Sprint(cur) != want {
			return false
		}
	}
	return true
}

func (s *Server) keptnEventsByType(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tf, err := parseTypeFilter(q.Get("filter"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := principalOf(r)
	if tf.store.Project == "" {
		tf.store.Project = p.Project
	}
	if err := p.Can(auth.ActionReadProject, tf.store.Project); err != nil {
		s.writeError(w, r, err)
		return
	}
	limit := store.MaxPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.writeError(w, r, errorf(http.StatusBadRequest, "limit %q is invalid: give a whole number from 1 to %d", v, store.MaxPageSize))
			return
		}
		limit = min(n, store.MaxPageSize)
	}
	exclude := false
	if v := q.Get("excludeInvalidated"); v != "" {
		if exclude, err = strconv.ParseBool(v); err != nil {
			s.writeError(w, r, errorf(http.StatusBadRequest, "excludeInvalidated %q is invalid: give true or false", v))
			return
		}
	}
	f := tf.store
	f.Type = event.ExpandType(r.PathValue("type"))
	f.PageSize = store.MaxPageSize
	out := apitypes.KeptnEvents{Events: []json.RawMessage{}}
	for len(out.Events) < limit {
		pg, err := s.store.ListEvents(r.Context(), f)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for _, e := range pg.Events {
			if len(out.Events) >= limit || !tf.matches(e.JSON) {
				continue
			}
			if exclude {
				inv, err := s.store.ListEvents(r.Context(), store.EventFilter{Type: event.TypeEvaluationInvalidated, KeptnContext: e.KeptnContext, TriggeredID: e.TriggeredID, PageSize: 1})
				if err != nil {
					s.writeError(w, r, err)
					return
				}
				if len(inv.Events) > 0 {
					continue
				}
			}
			out.Events = append(out.Events, json.RawMessage(e.JSON))
		}
		if pg.NextPageKey == "" {
			break
		}
		f.PageKey = pg.NextPageKey
	}
	out.PageSize, out.TotalCount = limit, len(out.Events)
	writeJSON(w, http.StatusOK, out)
}
