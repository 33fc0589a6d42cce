// Package integration owns the rules of Keptn integrations that both edges,
// the API and the web UI, apply: how an integration's id is derived and
// what of an integration a token may see. The uniform API itself (Keptn's
// registration, ping, subscription and log routes) is in
// internal/api/uniform.go; the records are store.Integration.
package integration

import (
	"crypto/sha1" //nolint:gosec // Keptn's integration id is a SHA-1; it names, it does not protect.
	"encoding/hex"
	"slices"

	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/store"
)

// ID derives an integration's id as Keptn did: the hex SHA-1 of
// "name-namespace-node", so a restarted integration registers under the
// same id and Keptn's Go SDK (models.IntegrationID.Hash) computes the same.
func ID(name, namespace, node string) string {
	sum := sha1.Sum([]byte(name + "-" + namespace + "-" + node)) //nolint:gosec // see the import
	return hex.EncodeToString(sum[:])
}

// Visible returns what of an integration p may see: everything for a token
// restricted to no project; for a token of project A, the subscriptions
// that cover A (with other projects' names cut from their filters), and the
// integration only when A's token registered it or one of them remains.
func Visible(p auth.Principal, in store.Integration) (store.Integration, bool) {
	if p.Project == "" {
		return in, true
	}
	subs := []store.Subscription{}
	for _, sub := range in.Subscriptions {
		switch {
		case len(sub.Projects) == 0:
			subs = append(subs, sub)
		case slices.Contains(sub.Projects, p.Project):
			sub.Projects = []string{p.Project}
			subs = append(subs, sub)
		}
	}
	in.Subscriptions = subs
	return in, in.Project == p.Project || len(subs) > 0
}

// Covers reports whether a subscription's filter list admits v; an empty
// list admits everything and an empty v asks for nothing in particular.
func Covers(list []string, v string) bool {
	return v == "" || len(list) == 0 || slices.Contains(list, v)
}
