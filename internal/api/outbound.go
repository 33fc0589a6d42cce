package api

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/outbound"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/store"
)

// SettingGuard vets a setting a principal is about to store, beyond what
// its schema checks: rules that depend on who asks, such as where a
// project-restricted token may point scaling. value is the normalized
// JSON. An error matching auth.ErrForbidden answers 403, one matching
// settings.ErrInvalid 400; nothing is stored then.
type SettingGuard func(ctx context.Context, p auth.Principal, key string, scope store.Scope, value []byte) error

// checkEndpoints checks every endpoint field of a setting (its URLs)
// against the outbound policy and answers 400 naming the field and the
// rule that refuses it.
func (s *Server) checkEndpoints(sc settings.Schema, value []byte) error {
	eps := settings.EndpointValues(sc, value)
	names := make([]string, 0, len(eps))
	for n := range eps {
		names = append(names, n)
	}
	sort.Strings(names)
	var probs []string
	for _, n := range names {
		if p := s.outbound.CheckURL(n, eps[n]); p != "" {
			probs = append(probs, p)
		}
	}
	if len(probs) > 0 {
		return errorf(http.StatusBadRequest, "invalid %s: %s", sc.Doc().What, strings.Join(probs, "; "))
	}
	return nil
}

// checkUpstream checks a project's Git upstream URL against the outbound
// policy: https or ssh only, never a path on the server's own disk.
func (s *Server) checkUpstream(raw string) error {
	if raw == "" {
		return nil
	}
	if p := s.outbound.CheckUpstream(raw); p != "" {
		return errorf(http.StatusBadRequest, "%s", p)
	}
	return nil
}

// guardSetting runs Options.SettingGuard, when there is one.
func (s *Server) guardSetting(r *http.Request, key string, scope store.Scope, value []byte) error {
	if s.guard == nil {
		return nil
	}
	err := s.guard(r.Context(), principalOf(r), key, scope, value)
	if errors.Is(err, settings.ErrInvalid) {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	return err
}

// defaultOutbound is the policy of a server whose options name none.
func defaultOutbound(p *outbound.Policy) *outbound.Policy {
	if p == nil {
		return outbound.Default()
	}
	return p
}
