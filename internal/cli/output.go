package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// outputFormat is the value of the -o flag every command that prints a
// result shares: a table for people, JSON and YAML for programs.
type outputFormat string

// The formats -o accepts.
const (
	formatTable outputFormat = "table"
	formatJSON  outputFormat = "json"
	formatYAML  outputFormat = "yaml"
)

var outputFormats = []outputFormat{formatTable, formatJSON, formatYAML}

// String, Set and Type make outputFormat a pflag.Value, so a wrong -o is a
// flag error (exit 2) before the command runs.
func (f *outputFormat) String() string { return string(*f) }

func (f *outputFormat) Set(v string) error {
	for _, ok := range outputFormats {
		if outputFormat(v) == ok {
			*f = ok
			return nil
		}
	}
	return fmt.Errorf("unknown output format %q: want table, json or yaml", v)
}

func (f *outputFormat) Type() string { return "format" }

// addOutputFlag registers -o/--output on cmd with table as the default.
func addOutputFlag(cmd *cobra.Command, f *outputFormat) {
	*f = formatTable
	cmd.Flags().VarP(f, "output", "o", "output format: table, json or yaml")
}

// writeOutput prints v in format f. JSON is v marshalled and indented; YAML is
// that same JSON converted, so both carry identical keys in identical order;
// table calls the command's own renderer.
func writeOutput(w io.Writer, f outputFormat, v any, table func(io.Writer) error) error {
	if f == formatTable {
		return table(w)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	return writeRaw(w, f, raw)
}

// writeRaw prints a JSON document (for example an API answer, which -o json
// shows unchanged apart from indentation) as JSON or YAML.
func writeRaw(w io.Writer, f outputFormat, raw []byte) error {
	var out []byte
	switch f {
	case formatJSON:
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return fmt.Errorf("indent json output: %w", err)
		}
		buf.WriteByte('\n')
		out = buf.Bytes()
	case formatYAML:
		y, err := jsonToYAML(raw)
		if err != nil {
			return err
		}
		out = y
	default:
		return fmt.Errorf("output format %q has no raw form", f)
	}
	_, err := w.Write(out)
	return err
}

// jsonToYAML re-encodes a JSON document as block-style YAML, keeping the
// order of keys. JSON is YAML, so yaml.v3 reads it into nodes; clearing the
// flow and quoting styles lets the encoder choose plain block style, and it
// still quotes strings that would otherwise read back as another type.
func jsonToYAML(raw []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("convert output to yaml: %w", err)
	}
	clearStyle(&doc)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("convert output to yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("convert output to yaml: %w", err)
	}
	return buf.Bytes(), nil
}

func clearStyle(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && isYAML11Bool(n.Value) {
		// yaml.v3 writes these plain, but YAML 1.1 readers (PyYAML, older
		// tools) would read them as booleans.
		n.Style = yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		clearStyle(c)
	}
}

func isYAML11Bool(s string) bool {
	switch strings.ToLower(s) {
	case "y", "yes", "n", "no", "on", "off":
		return true
	}
	return false
}

// formatNumber prints a number for a table: at most three decimals, no
// trailing zeros, so 833.3333 reads 833.333 and 1000 reads 1000. JSON and
// YAML output keep the exact value.
func formatNumber(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" {
		s = "0"
	}
	return s
}
