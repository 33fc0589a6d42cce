package sli

import (
	"errors"
	"fmt"
	"sync"
)

// ErrUnavailable marks a failure to get an answer from the monitoring
// system at all: it could not be reached (refused, unresolvable, reset),
// did not answer in time, or answered with a server error (HTTP 5xx). Such
// a failure says nothing about the service being measured. A query the
// monitoring system refused (HTTP 4xx, a bad query) or answered without
// data is not an outage: that SLI failed.
var ErrUnavailable = errors.New("monitoring unavailable")

// UnavailableError wraps a transport failure so that errors.Is matches it
// with ErrUnavailable; its text is the wrapped error's.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return e.Err.Error() }

// Unwrap returns the transport failure.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is match ErrUnavailable.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unavailable marks err as an outage of the monitoring system (see
// ErrUnavailable); nil stays nil.
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	return &UnavailableError{Err: err}
}

// OutageError is what a Provider's GetSLIs returns, together with its
// results, when every indicator failed because the monitoring system was
// unavailable: the values are no measurement, and an evaluation over them
// is errored, not failed. errors.Is matches it with ErrUnavailable.
type OutageError struct {
	// Provider names the monitoring system ("prometheus").
	Provider string
	// Indicators is how many indicators failed.
	Indicators int
	// Cause is the first indicator's transport failure.
	Cause error
}

func (e *OutageError) Error() string {
	return fmt.Sprintf("%s unavailable: all %d SLI queries failed without an answer; first: %v", e.Provider, e.Indicators, e.Cause)
}

// Unwrap returns the first transport failure.
func (e *OutageError) Unwrap() error { return e.Cause }

// Is makes errors.Is match ErrUnavailable.
func (e *OutageError) Is(target error) bool { return target == ErrUnavailable }

// Outages counts, across the concurrent fetches of one GetSLIs, the
// indicators that failed for a transport reason. Its zero value is ready;
// it is safe for concurrent use.
type Outages struct {
	mu    sync.Mutex
	n     int
	first error
}

// Add records the cause of one indicator's failure; nil and failures that
// are not outages are ignored.
func (o *Outages) Add(cause error) {
	if cause == nil || !errors.Is(cause, ErrUnavailable) {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n++
	if o.first == nil {
		o.first = cause
	}
}

// Err returns an *OutageError when every one of indicators indicators
// failed for a transport reason, else nil.
func (o *Outages) Err(provider string, indicators int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if indicators == 0 || o.n < indicators {
		return nil
	}
	return &OutageError{Provider: provider, Indicators: indicators, Cause: o.first}
}
