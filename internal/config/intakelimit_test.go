package config

import (
	"errors"
	"strings"
	"testing"
)

func TestIntakeMaxUnmatchedPerMinute(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      int
		wantErr   string
	}{
		{name: "default", src: "intake:\n  labels: {project: team}\n", want: DefaultMaxUnmatchedPerMinute},
		{name: "set", src: "intake:\n  maxUnmatchedPerMinute: 5\n", want: 5},
		{name: "no limit", src: "intake:\n  maxUnmatchedPerMinute: 0\n", want: 0},
		{name: "negative", src: "intake:\n  maxUnmatchedPerMinute: -1\n",
			wantErr: "tend.yaml:2:26: intake.maxUnmatchedPerMinute must be a whole number of 0 or more (0 means no limit), not -1"},
		{name: "not a number", src: "intake:\n  maxUnmatchedPerMinute: many\n",
			wantErr: "tend.yaml:2:26: intake.maxUnmatchedPerMinute must be a whole number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode("tend.yaml", []byte(tc.src))
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v; want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Intake.MaxUnmatchedPerMinute != tc.want {
				t.Errorf("MaxUnmatchedPerMinute = %d; want %d", c.Intake.MaxUnmatchedPerMinute, tc.want)
			}
		})
	}
}
