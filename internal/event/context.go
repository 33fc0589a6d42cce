package event

import "strings"

// ContextFor returns the Keptn context (shkeptncontext) that tend files an
// event under, given the context the sender wrote:
//
//   - "" gets a fresh random UUID, because an event without a context starts
//     a new process;
//   - a UUID is kept, in lower case, so that the upper- and lower-case
//     spellings of one UUID are one context;
//   - anything else (a Dynatrace problem PID, a template placeholder) maps to
//     the version 5 UUID of the exact string in ContextNamespace. The mapping
//     is deterministic, so every notification of one problem lands in one
//     context, on every replica and across restarts.
//
// Only the "" case depends on randomness; Parser.Parse uses its own NewID for
// it so that tests can fix it.
func ContextFor(raw string) string {
	if raw == "" {
		return NewUUID()
	}
	return mapContext(raw)
}

// mapContext is ContextFor for a non-empty context.
func mapContext(raw string) string {
	if IsUUID(raw) {
		return strings.ToLower(raw)
	}
	return nameUUID(ContextNamespace, raw)
}
