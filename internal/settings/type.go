package settings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/tendhq/tend/internal/store"
)

// Spec defines a kind of setting whose values are Ts. T is a struct whose
// JSON members are the Fields; optional members are pointers or omitempty
// strings, so that a scope can leave them to a less specific one.
type Spec[T any] struct {
	Key     string
	Doc     Doc
	Fields  []Field
	Scoping Scoping
	// Check validates v and returns one problem per mistake, each naming
	// its field. It may normalize v in place (a duration "30m" is stored
	// as "30m0s"). nil accepts every value that decodes.
	Check func(v *T) []string
	// Merge lays src, the value of a more specific scope, over dst. nil
	// means the most specific value wins whole. A Spec that merges and
	// has secret fields must mark its endpoint fields (Field.Endpoint):
	// before Merge sees a scope that sets an endpoint or a secret, the
	// layer clears every endpoint and secret field of dst, so they are
	// always taken together from one scope. A URL changed at a narrower
	// scope without its secret then has no secret, never a wider
	// scope's.
	Merge func(dst *T, src T)
	// CheckName checks the name of a family member (Key ends in "/").
	CheckName func(name string) error
}

// Type is a kind of setting with values of Go type T. It is a Schema, and
// the typed resolver the runners use.
type Type[T any] struct {
	s Spec[T]
	// bound are the endpoint and secret fields that scopes set together.
	bound []string
}

// Define returns the Type of a Spec. It panics when the Spec is malformed
// (a program error caught by the schema's own tests).
func Define[T any](s Spec[T]) *Type[T] {
	if s.Key == "" || s.Doc.What == "" {
		panic("settings: a Spec needs a Key and Doc.What")
	}
	if strings.HasSuffix(s.Key, "/") != (s.CheckName != nil) {
		panic("settings: " + s.Key + ": a key family (ending in /) needs CheckName, and only it")
	}
	t := &Type[T]{s: s}
	var secret, endpoint bool
	for _, f := range s.Fields {
		if f.Secret || f.Endpoint {
			t.bound = append(t.bound, f.Name)
		}
		secret = secret || f.Secret
		endpoint = endpoint || f.Endpoint
	}
	if s.Merge != nil && secret && !endpoint {
		panic("settings: " + s.Key + ": a merged setting with secrets must mark the endpoint field its secrets are bound to")
	}
	if !secret {
		t.bound = nil // nothing to bind
	}
	return t
}

// Key implements Schema.
func (t *Type[T]) Key() string { return t.s.Key }

// Doc implements Schema.
func (t *Type[T]) Doc() Doc { return t.s.Doc }

// Fields implements Schema.
func (t *Type[T]) Fields() []Field { return t.s.Fields }

// Scoping implements Schema.
func (t *Type[T]) Scoping() Scoping { return t.s.Scoping }

// CheckName implements Schema.
func (t *Type[T]) CheckName(name string) error {
	if t.s.CheckName == nil {
		return nil
	}
	return t.s.CheckName(name)
}

// Decode reads a value from outside (an API body): strictly, so that a
// misspelt field is an error rather than silently unset, then validated.
func (t *Type[T]) Decode(value []byte) (T, error) {
	var v T
	if err := decodeStrict(value, &v, t.s.Fields); err != nil {
		return v, &InvalidError{What: t.s.Doc.What, Problems: []string{err.Error()}}
	}
	if t.s.Check != nil {
		if err := invalid(t.s.Doc.What, t.s.Check(&v)); err != nil {
			return v, err
		}
	}
	return v, nil
}

// Normalize implements Schema: Decode, then the JSON to store. A value
// that sets no field is refused, since storing it would change nothing
// but hide a less specific scope's value from those reading whole values.
func (t *Type[T]) Normalize(value []byte) ([]byte, error) {
	v, err := t.Decode(value)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", t.s.Doc.What, err)
	}
	if string(b) == "{}" {
		var names []string
		for _, f := range t.s.Fields {
			if !f.Stored {
				names = append(names, f.Name)
			}
		}
		return nil, &InvalidError{What: t.s.Doc.What, Problems: []string{"nothing to set: give at least one of " + strings.Join(names, ", ")}}
	}
	return b, nil
}

// Mask implements Schema.
func (t *Type[T]) Mask(value []byte) ([]byte, []string) {
	return maskFields(value, t.s.Fields)
}

// decodeStored reads a stored value. It is lenient about members it does
// not know, so that a value written by a newer tend still reads.
func (t *Type[T]) decodeStored(sc store.Scope, value []byte) (T, error) {
	var v T
	if err := json.Unmarshal(value, &v); err != nil {
		return v, &decodeError{fmt.Errorf("decode %s of %s: %w", t.s.Doc.What, ScopeText(sc), err)}
	}
	return v, nil
}

// ErrCorrupt matches a stored value that does not decode, for callers to
// which that differs from a store that cannot be read: a pause that does
// not decode is still a pause, a secret that does not decode must be set
// again rather than retried.
var ErrCorrupt = errors.New("stored setting does not decode")

type decodeError struct{ err error }

func (e *decodeError) Error() string        { return e.err.Error() }
func (e *decodeError) Unwrap() error        { return e.err }
func (e *decodeError) Is(target error) bool { return target == ErrCorrupt }

// Resolve returns a service's value: the stored values of its scopes
// (Chain) merged least specific first, or the most specific one when the
// Spec has no Merge. found is false when no scope holds one; v is then
// T's zero value.
func (t *Type[T]) Resolve(ctx context.Context, g Getter, project, stage, service string) (v T, found bool, err error) {
	chain := Chain(project, stage, service)
	if t.s.Merge == nil {
		slices.Reverse(chain)
	}
	for _, sc := range chain {
		s, err := g.GetSetting(ctx, sc, t.s.Key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return v, found, fmt.Errorf("read %s: %w", t.s.Doc.What, err)
		}
		one, err := t.decodeStored(sc, s.Value)
		if err != nil {
			return v, found, err
		}
		if t.s.Merge == nil {
			return one, true, nil
		}
		if setsAny(s.Value, t.bound) {
			if v, err = clearFields(v, t.bound); err != nil {
				return v, found, fmt.Errorf("merge %s: %w", t.s.Doc.What, err)
			}
		}
		t.s.Merge(&v, one)
		found = true
	}
	return v, found, nil
}

// setsAny reports whether a stored JSON object sets one of names (a
// member that is present, not null and not "").
func setsAny(value []byte, names []string) bool {
	if len(names) == 0 {
		return false
	}
	var m map[string]any
	if err := json.Unmarshal(value, &m); err != nil {
		return false
	}
	for _, n := range names {
		if v, ok := m[n]; ok && v != nil && v != "" {
			return true
		}
	}
	return false
}

// clearFields returns v without the JSON members names, through its JSON
// form, so the layer needs to know nothing of T but its fields.
func clearFields[T any](v T, names []string) (T, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return v, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return v, err
	}
	for _, n := range names {
		delete(m, n)
	}
	if raw, err = json.Marshal(m); err != nil {
		return v, err
	}
	var out T
	err = json.Unmarshal(raw, &out)
	return out, err
}

// Get returns the value stored at exactly one scope, under Key+name for a
// key family. It returns an error wrapping store.ErrNotFound when none is.
func (t *Type[T]) Get(ctx context.Context, g Getter, sc store.Scope, name string) (T, error) {
	var zero T
	s, err := g.GetSetting(ctx, sc, t.s.Key+name)
	if err != nil {
		return zero, fmt.Errorf("read %s: %w", t.s.Doc.What, err)
	}
	return t.decodeStored(sc, s.Value)
}

// decodeStrict decodes exactly one JSON object into v, refusing unknown
// members, and words the decoder's errors for a user: which field, what
// it should be.
func decodeStrict(value []byte, v any, fields []Field) error {
	if len(bytes.TrimSpace(value)) == 0 || bytes.Equal(bytes.TrimSpace(value), []byte("null")) {
		return errors.New("the value is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return fmt.Errorf("%s must be %s, not %s", typeErr.Field, kindText(fieldKind(fields, typeErr.Field)), typeErr.Value)
		case errors.As(err, &typeErr):
			return fmt.Errorf("the value must be a JSON object, not %s", typeErr.Value)
		case errors.As(err, &syntaxErr):
			return fmt.Errorf("the value is not JSON at byte %d: %v", syntaxErr.Offset, err)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return errors.New("the value is not JSON: it ends early")
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("unknown field %s; the fields are %s", name, fieldNames(fields))
		}
		return fmt.Errorf("the value is not a JSON object: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("the value has data after its JSON object")
	}
	var members map[string]any
	_ = json.Unmarshal(value, &members)
	var missing []string
	for _, f := range fields {
		if v, ok := members[f.Name]; f.Required && (!ok || v == nil || v == "") {
			msg := f.Name + " is missing"
			if f.Hint != "" {
				msg += "; " + f.Hint
			}
			missing = append(missing, msg)
		}
	}
	if len(missing) > 0 {
		return errors.New(strings.Join(missing, "; "))
	}
	return nil
}

func fieldKind(fields []Field, name string) Kind {
	for _, f := range fields {
		if f.Name == name {
			return f.Kind
		}
	}
	return String
}

func kindText(k Kind) string {
	switch k {
	case Int:
		return "a whole number"
	case Bool:
		return "true or false"
	}
	return "a string"
}

func fieldNames(fields []Field) string {
	var names []string
	for _, f := range fields {
		if !f.Stored {
			names = append(names, f.Name)
		}
	}
	return strings.Join(names, ", ")
}

// maskFields replaces the secret fields of a JSON object that are set.
// A value that is not a JSON object is replaced whole: it cannot be shown
// safely without knowing its shape.
func maskFields(value []byte, fields []Field) ([]byte, []string) {
	var m map[string]any
	if err := json.Unmarshal(value, &m); err != nil || m == nil {
		return maskedWhole()
	}
	var set []string
	for _, f := range fields {
		// Any value that is set is masked, not only strings: a secret
		// stored with the wrong type is still a secret.
		if v, ok := m[f.Name]; ok && f.Secret && v != nil && v != "" {
			m[f.Name] = Masked
			set = append(set, f.Name)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return maskedWhole()
	}
	sort.Strings(set)
	return b, set
}

// maskedWhole stands for a value that cannot be shown safely in part.
func maskedWhole() ([]byte, []string) {
	b, _ := json.Marshal(Masked)
	return b, []string{"(value)"}
}
