package slo

import (
	"math"
	"strings"
	"testing"
)

func TestParseCriterion(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Criterion
	}{
		{"less or equal absolute", "<=800", Criterion{Op: OpLessEqual, Amount: 800}},
		{"less absolute", "<1000", Criterion{Op: OpLess, Amount: 1000}},
		{"equal absolute", "=0", Criterion{Op: OpEqual, Amount: 0}},
		{"greater or equal absolute", ">=99.5", Criterion{Op: OpGreaterEqual, Amount: 99.5}},
		{"greater absolute", ">5", Criterion{Op: OpGreater, Amount: 5}},
		{"decimals without leading digit", "<.5", Criterion{Op: OpLess, Amount: 0.5}},
		{"relative percent increase", "<=+10%", Criterion{Op: OpLessEqual, Amount: 10, Relative: true, Percent: true}},
		{"relative percent without sign is increase", "<=10%", Criterion{Op: OpLessEqual, Amount: 10, Relative: true, Percent: true}},
		{"relative percent decrease", ">-5%", Criterion{Op: OpGreater, Amount: 5, Relative: true, Percent: true, Decrease: true}},
		{"relative absolute increase", "=+1", Criterion{Op: OpEqual, Amount: 1, Relative: true}},
		{"relative absolute decrease", ">-5", Criterion{Op: OpGreater, Amount: 5, Relative: true, Decrease: true}},
		{"relative decimal percent", ">=-2.5%", Criterion{Op: OpGreaterEqual, Amount: 2.5, Relative: true, Percent: true, Decrease: true}},
		{"spaces everywhere", " < = + 1 0 % ", Criterion{Op: OpLessEqual, Amount: 10, Relative: true, Percent: true}},
		{"spaces in number", "<1 000", Criterion{Op: OpLess, Amount: 1000}},
		{"tab and newline", "\t>=\n5", Criterion{Op: OpGreaterEqual, Amount: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCriterion(tt.in)
			if err != nil {
				t.Fatalf("ParseCriterion(%q): %v", tt.in, err)
			}
			tt.want.Raw = tt.in
			if got != tt.want {
				t.Errorf("ParseCriterion(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseCriterionInvalid(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"reversed operator", "=>5", `">5" after the operator is not a number`},
		{"double equals", "==5", `"=5" after the operator is not a number`},
		{"not a number", "<abc", `"abc" after the operator is not a number`},
		{"operator only", "<", `"" after the operator is not a number`},
		{"exponent", "<1e3", `"1e3" after the operator is not a number`},
		{"infinity", "<Inf", `"Inf" after the operator is not a number`},
		{"nan", ">=NaN", `"NaN" after the operator is not a number`},
		{"hex", "<0x10", `"0x10" after the operator is not a number`},
		{"two signs", "<=+-5", `"-5" after the operator is not a number`},
		{"percent only", "<=%", `"" after the operator is not a number`},
		{"sign after number", "<=10-", `"10-" after the operator is not a number`},
		{"two dots", "<1.2.3", `"1.2.3" after the operator is not a number`},
		{"underscore digits", "<1_000", `"1_000" after the operator is not a number`},
		{"no operator", "800", "must start with one of <=, <, =, >=, >"},
		{"not-equal operator", "!=5", "must start with one of <=, <, =, >=, >"},
		{"empty", "", "must start with one of <=, <, =, >=, >"},
		{"only spaces", "   ", "must start with one of <=, <, =, >=, >"},
		{"too large", "<" + strings.Repeat("9", 400), "is not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCriterion(tt.in)
			if err == nil {
				t.Fatalf("ParseCriterion(%q) = %+v, want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseCriterion(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestCriterionTarget(t *testing.T) {
	tests := []struct {
		criterion string
		baseline  float64
		want      float64
	}{
		{"<=800", 700, 800},
		{"<=+10%", 700, 770},
		{"<=10%", 700, 770},
		{">=-10%", 700, 630},
		{"<=+50", 700, 750},
		{">=-50", 700, 650},
		{"=+0%", 700, 700},
		{"<=+10%", 0, 0},
		{">-100%", 42, 0},
	}
	for _, tt := range tests {
		t.Run(tt.criterion, func(t *testing.T) {
			c := mustCriterion(t, tt.criterion)
			if got := c.Target(tt.baseline); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("%q.Target(%v) = %v, want %v", tt.criterion, tt.baseline, got, tt.want)
			}
		})
	}
}

func TestCriterionHolds(t *testing.T) {
	tests := []struct {
		criterion string
		value     float64
		want      bool
	}{
		{"<=10", 9, true},
		{"<=10", 10, true},
		{"<=10", 11, false},
		{"<10", 9, true},
		{"<10", 10, false},
		{"=10", 10, true},
		{"=10", 10.0000001, false},
		{">=10", 10, true},
		{">=10", 9, false},
		{">10", 10, false},
		{">10", 11, true},
		{"<10", math.NaN(), false},
		{">10", math.NaN(), false},
	}
	for _, tt := range tests {
		c := mustCriterion(t, tt.criterion)
		t.Run(tt.criterion+" with "+formatFloat(tt.value), func(t *testing.T) {
			if got := c.Holds(tt.value, c.Target(0)); got != tt.want {
				t.Errorf("%q.Holds(%v) = %v, want %v", tt.criterion, tt.value, got, tt.want)
			}
		})
	}
	t.Run("unknown operator never holds", func(t *testing.T) {
		if (Criterion{Op: "!="}).Holds(1, 2) {
			t.Error("a criterion with an unknown operator held")
		}
	})
}

func FuzzParseCriterion(f *testing.F) {
	for _, seed := range []string{"<=+10%", "<1000", "=>5", "==5", "<abc", "<", "<1e3", "<Inf", ">-5", " < = 1 0 %", ">=.5", "=+1", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCriterion(s)
		if err != nil {
			if c != (Criterion{}) {
				t.Errorf("ParseCriterion(%q) failed with %v but returned %+v", s, err, c)
			}
			return
		}
		switch c.Op {
		case OpLessEqual, OpLess, OpEqual, OpGreaterEqual, OpGreater:
		default:
			t.Fatalf("ParseCriterion(%q): operator %q is none of the five", s, c.Op)
		}
		if c.Raw != s {
			t.Errorf("ParseCriterion(%q): Raw = %q, want the input", s, c.Raw)
		}
		if !finite(c.Amount) || c.Amount < 0 {
			t.Errorf("ParseCriterion(%q): Amount = %v, want a finite unsigned number", s, c.Amount)
		}
		if (c.Percent || c.Decrease) && !c.Relative {
			t.Errorf("ParseCriterion(%q) = %+v: percent or decrease without relative", s, c)
		}
		// Re-writing the criterion in canonical form parses to the same thing.
		again, err := ParseCriterion(canonical(c))
		if err != nil {
			t.Fatalf("ParseCriterion(%q) = %+v, but its canonical form %q fails: %v", s, c, canonical(c), err)
		}
		again.Raw = c.Raw
		if again != c {
			t.Errorf("ParseCriterion(%q) = %+v, canonical form %q gives %+v", s, c, canonical(c), again)
		}
	})
}

// canonical writes c the way a user would, without spaces.
func canonical(c Criterion) string {
	var b strings.Builder
	b.WriteString(string(c.Op))
	if c.Relative {
		if c.Decrease {
			b.WriteByte('-')
		} else {
			b.WriteByte('+')
		}
	}
	b.WriteString(formatFloat(c.Amount))
	if c.Percent {
		b.WriteByte('%')
	}
	return b.String()
}
