package cli

import (
	"bytes"
	"testing"
)

func TestWriteRaw(t *testing.T) {
	raw := []byte(`{"zeta":1,"alpha":"yes","list":[],"nested":{"b":null,"a":[1.5,"on"]},"num":1e-7}`)
	tests := []struct {
		format outputFormat
		want   string
	}{
		{formatJSON, "{\n  \"zeta\": 1,\n  \"alpha\": \"yes\",\n  \"list\": [],\n  \"nested\": {\n    \"b\": null,\n    \"a\": [\n      1.5,\n      \"on\"\n    ]\n  },\n  \"num\": 1e-7\n}\n"},
		// Keys keep their order; strings that YAML would read as booleans stay quoted.
		{formatYAML, "zeta: 1\nalpha: \"yes\"\nlist: []\nnested:\n  b: null\n  a:\n    - 1.5\n    - \"on\"\nnum: 1e-7\n"},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeRaw(&buf, tt.format, raw); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", buf.String(), tt.want)
			}
		})
	}
}

func TestFormatNumber(t *testing.T) {
	tests := map[float64]string{0: "0", 1000: "1000", 833.33333: "833.333", 0.1: "0.1", -0.0001: "0", 2.5: "2.5", -12.75: "-12.75"}
	for in, want := range tests {
		if got := formatNumber(in); got != want {
			t.Errorf("formatNumber(%v) = %q, want %q", in, got, want)
		}
	}
}
