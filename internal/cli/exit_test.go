package cli

import (
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"gate failed", silentExit(ExitGateFailed), ExitGateFailed},
		{"bad input", inputError(errors.New("bad")), ExitBadInput},
		{"server, wrapped", fmt.Errorf("get projects: %w", withExit(ExitServer, errors.New("connection refused"))), ExitServer},
		{"usage", &usageError{err: errors.New("unknown flag")}, ExitBadInput},
		{"untyped (cobra's own parse errors)", errors.New(`unknown command "x"`), ExitBadInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.err); got != tt.want {
				t.Errorf("exitCode = %d, want %d", got, tt.want)
			}
		})
	}
}
