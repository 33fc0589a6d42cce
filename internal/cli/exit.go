package cli

import (
	"errors"
	"fmt"
)

// The exit statuses every tend command shares. Scripts and CI pipelines
// branch on them, so they never change meaning.
const (
	// ExitOK means the command did what was asked; a gate passed or warned.
	ExitOK = 0
	// ExitGateFailed means a quality gate failed (or warned under
	// --fail-on warning).
	ExitGateFailed = 1
	// ExitBadInput means the input or the command line was unusable.
	ExitBadInput = 2
	// ExitServer means the tend server failed or could not be reached.
	ExitServer = 3
)

// exitError carries the exit status a command ends with. A nil err means the
// command has already said everything it had to (a failed gate prints its
// result), so Run prints nothing more.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks a mistake on the command line: a wrong flag, a missing
// argument. Run adds a pointer to --help.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// withExit makes err end the command with code; commands that talk to the
// server return withExit(ExitServer, err) when it fails or cannot be reached.
func withExit(code int, err error) error { return &exitError{code: code, err: err} }

// inputError reports unusable input: a bad file, bad JSON, an invalid SLO.
func inputError(err error) error { return withExit(ExitBadInput, err) }

// silentExit ends the command with code and no further message.
func silentExit(code int) error { return &exitError{code: code} }

// exitCode maps an error returned by a command to its exit status. Errors
// without a status come from cobra's own parsing (unknown command, bad
// arguments) and count as usage errors.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if ee, ok := errors.AsType[*exitError](err); ok {
		return ee.code
	}
	return ExitBadInput
}
