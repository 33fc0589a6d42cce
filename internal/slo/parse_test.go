package slo

import (
	"strings"
	"testing"
)

func TestParseScore(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{
		{"90%", 90},
		{"90", 90},
		{"90.5%", 90.5},
		{" 75 % ", 75},
		{"0", 0},
		{"100%", 100},
		{".5", 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseScore(tt.in)
			if err != nil {
				t.Fatalf("ParseScore(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseScore(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseScoreInvalid(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"", "not a percentage"},
		{"%", "not a percentage"},
		{"ninety", "not a percentage"},
		{"-5%", "not a percentage"},
		{"+5", "not a percentage"},
		{"9e1", "not a percentage"},
		{"NaN", "not a percentage"},
		{"Inf%", "not a percentage"},
		{"90%%", "not a percentage"},
		{"100.5%", "between 0% and 100%"},
		{"150", "between 0% and 100%"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseScore(tt.in)
			if err == nil {
				t.Fatalf("ParseScore(%q) = %v, want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseScore(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestParseEnums(t *testing.T) {
	t.Run("aggregate", func(t *testing.T) {
		for _, s := range []string{"avg", "p50", "p90", "p95"} {
			if got, ok := ParseAggregate(s); !ok || string(got) != s {
				t.Errorf("ParseAggregate(%q) = %q, %v; want %q, true", s, got, ok, s)
			}
		}
		for _, s := range []string{"", "AVG", "p99", "mean", " avg"} {
			if got, ok := ParseAggregate(s); ok || got != "" {
				t.Errorf("ParseAggregate(%q) = %q, %v; want \"\", false", s, got, ok)
			}
		}
	})
	t.Run("compare with", func(t *testing.T) {
		for _, s := range []string{"single_result", "several_results"} {
			if got, ok := ParseCompareWith(s); !ok || string(got) != s {
				t.Errorf("ParseCompareWith(%q) = %q, %v; want %q, true", s, got, ok, s)
			}
		}
		for _, s := range []string{"", "single", "several_result", "Single_Result"} {
			if got, ok := ParseCompareWith(s); ok || got != "" {
				t.Errorf("ParseCompareWith(%q) = %q, %v; want \"\", false", s, got, ok)
			}
		}
	})
	t.Run("include results", func(t *testing.T) {
		for _, s := range []string{"pass", "pass_or_warn", "all"} {
			if got, ok := ParseIncludeResults(s); !ok || string(got) != s {
				t.Errorf("ParseIncludeResults(%q) = %q, %v; want %q, true", s, got, ok, s)
			}
		}
		for _, s := range []string{"", "warning", "pass_or_warning", "ALL"} {
			if got, ok := ParseIncludeResults(s); ok || got != "" {
				t.Errorf("ParseIncludeResults(%q) = %q, %v; want \"\", false", s, got, ok)
			}
		}
	})
}

func FuzzParseScore(f *testing.F) {
	for _, seed := range []string{"90%", "90", "90.5%", " 75 % ", "-5", "1e2", "NaN", "100.0001"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseScore(s)
		if err != nil {
			return
		}
		if !(v >= 0 && v <= 100) {
			t.Errorf("ParseScore(%q) = %v, want a value in [0, 100]", s, v)
		}
	})
}
