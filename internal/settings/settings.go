// Package settings owns tend's scoped settings: typed values stored per
// project, per stage, per service in every stage and per service in one
// stage, and the one resolver that layers those scopes for a service.
//
// A Schema describes one kind of setting: its store key, its fields (for
// the API document and the CLI's flags), how a value is decoded and
// validated, which fields are secrets and how scopes combine. The package
// holds only that machinery; each adapter defines its own schema next to
// its code (the Prometheus provider's connection, the Unleash executor's
// target) and the composition root registers them all in one Registry,
// which the API's and the CLI's settings commands are generic over.
//
// Secrets sit in the store in plain text because the server uses them;
// they leave it only towards the system they belong to. Mask is the only
// way a stored value reaches an API answer. A secret is bound to the
// endpoint it was stored with: when scopes are merged, the endpoint and
// secret fields of a setting are taken together from the most specific
// scope that sets any of them, so a token that may change a service's URL
// cannot have a project's secret sent there.
package settings

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/tendhq/tend/internal/store"
)

// ErrInvalid marks a value that cannot be stored; its message names the
// field and says what would be right.
var ErrInvalid = errors.New("invalid setting")

// ErrNotSet means no scope of a service holds the setting.
var ErrNotSet = errors.New("setting not set")

// Masked stands for a secret that is set.
const Masked = "****"

// Getter reads settings; store.Store and store.Tx satisfy it.
type Getter interface {
	GetSetting(ctx context.Context, sc store.Scope, key string) (store.Setting, error)
}

// Kind is the JSON type of a field's value.
type Kind int

// The kinds of field values. Durations are strings ("10m").
const (
	String Kind = iota
	Int
	Bool
)

// Field is one member of a setting's JSON object.
type Field struct {
	// Name is the JSON member's name.
	Name string
	// Flag is the CLI flag that sets it; "" means Name.
	Flag string
	// Usage is the flag's help text.
	Usage string
	Kind  Kind
	// Secret fields are masked in every answer and may be given to the
	// CLI as file:PATH, env:NAME or "-".
	Secret bool
	// Required fields must be given; Hint says what a good value is.
	Required bool
	Hint     string
	// With names a field that must be given together with this one.
	With string
	// Excludes names fields that must not be given with this one.
	Excludes []string
	// Stored marks a member of stored values only (a name kept for old
	// data): no flag, not in the API document, still masked.
	Stored bool
	// Endpoint marks an address tend connects to (a URL). The API checks
	// it against the outbound policy when it is stored, and the
	// setting's secrets are bound to it: scopes never combine one
	// scope's endpoint with another scope's secrets (see Spec.Merge).
	Endpoint bool
}

// EndpointValues returns the endpoint fields (Field.Endpoint) that a
// stored or normalized value sets, by name, for the API to check against
// the outbound policy.
func EndpointValues(sc Schema, value []byte) map[string]string {
	var m map[string]any
	if err := json.Unmarshal(value, &m); err != nil {
		return nil
	}
	out := map[string]string{}
	for _, f := range sc.Fields() {
		if v, ok := m[f.Name].(string); ok && f.Endpoint && v != "" {
			out[f.Name] = v
		}
	}
	return out
}

// FlagName is the CLI flag of f.
func (f Field) FlagName() string {
	if f.Flag != "" {
		return f.Flag
	}
	return f.Name
}

// Doc is what the API document and the CLI say about a kind of setting.
type Doc struct {
	// What names a value in messages: "monitoring configuration".
	What string
	// Title starts the CLI's answer line: "Scaling" -> "Scaling of
	// project sockshop: ...".
	Title string
	// Summary and DeleteSummary describe the API's PUT and DELETE.
	Summary, DeleteSummary string
	// Op is the OpenAPI operation suffix (put<Op>, delete<Op>) and Body
	// the request body's schema name.
	Op, Body string
	// Short, Long and Example are the CLI command's help.
	Short, Long, Example string
}

// Scoping says at which scopes a setting may be stored.
type Scoping int

const (
	// AnyScope: the project, a stage, a service in every stage or a
	// service in one stage.
	AnyScope Scoping = iota
	// ProjectScope: only the project.
	ProjectScope
)

// Schema is one kind of setting as the API, the CLI and the registry see
// it, whatever its Go type.
type Schema interface {
	// Key is the store key. A key ending in "/" names a family of
	// settings stored as Key+name (webhook secrets).
	Key() string
	Doc() Doc
	Fields() []Field
	Scoping() Scoping
	// Normalize decodes a value strictly, validates it and returns the
	// JSON to store. Errors wrap ErrInvalid and name the field.
	Normalize(value []byte) ([]byte, error)
	// Mask returns a stored value with every secret that is set replaced
	// by Masked, and the names of those secrets, sorted.
	Mask(value []byte) ([]byte, []string)
	// CheckName checks the name of a family member; nil for plain keys.
	CheckName(name string) error
}

// Chain returns the scopes a service's settings come from, least specific
// first: the project, the stage, the service in every stage (Keptn's
// `configure monitoring --project P --service X`), the service in the
// stage. Scopes that an empty stage or service makes equal appear once.
func Chain(project, stage, service string) []store.Scope {
	all := []store.Scope{
		{Project: project},
		{Project: project, Stage: stage},
		{Project: project, Service: service},
		{Project: project, Stage: stage, Service: service},
	}
	out := all[:0]
	for _, sc := range all {
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// ScopeText names a scope in messages.
func ScopeText(sc store.Scope) string {
	t := "project " + sc.Project
	if sc.Stage != "" {
		t += ", stage " + sc.Stage
	}
	if sc.Service != "" {
		t += ", service " + sc.Service
		if sc.Stage == "" {
			t += " (every stage)"
		}
	}
	return t
}

// InvalidError lists every problem of a value at once, so a user fixes
// them in one go. It matches ErrInvalid.
type InvalidError struct {
	// What names the value: "monitoring configuration".
	What     string
	Problems []string
}

func (e *InvalidError) Error() string {
	return "invalid " + e.What + ": " + strings.Join(e.Problems, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// invalid returns an *InvalidError of probs, or nil when there are none.
func invalid(what string, probs []string) error {
	if len(probs) == 0 {
		return nil
	}
	return &InvalidError{What: what, Problems: probs}
}
