package spec

import "github.com/tendhq/tend/internal/yamlnode"

// SLIFile is a decoded SLI file (<provider>/sli.yaml): the queries a provider
// runs for each indicator name.
type SLIFile struct {
	// SpecVersion is the file's spec_version as written ("1.0" in every
	// known file); "" when missing.
	SpecVersion string
	// Indicators maps an indicator name to its provider query, placeholders
	// such as $SERVICE and $DURATION_SECONDS left in place.
	Indicators map[string]string
	// Order lists the indicator names in file order, so output and queries
	// are deterministic.
	Order []string
}

var sliKeys = []string{"spec_version", "indicators"}

// DecodeSLI decodes and validates an SLI file. It returns the file, or nil
// when the diagnostics hold an error, and every problem found.
func DecodeSLI(filename string, data []byte) (*SLIFile, Diagnostics) {
	d := newDecoder(filename)
	out := d.sli(data)
	return result(d, out)
}

func (d *decoder) sli(data []byte) *SLIFile {
	root := d.parse(data, KindSLI)
	if root == nil {
		return nil
	}
	if !d.isMapping(root, "an SLI file", "spec_version: \"1.0\", indicators: {NAME: QUERY}") {
		return nil
	}
	f := d.mapFields(root, "the SLI file", sliKeys, nil)
	out := &SLIFile{Indicators: map[string]string{}}
	if e, ok := f["spec_version"]; !ok {
		d.Warnf(nil, "missing spec_version: add spec_version: \"1.0\"")
	} else if v, ok := d.str(e.val, "spec_version"); ok {
		out.SpecVersion = v
		if v != "1.0" {
			d.Warnf(e.val, "unknown spec_version %q: SLI files use spec_version: \"1.0\"; tend reads the file as 1.0", v)
		}
	}
	e, ok := f["indicators"]
	if !ok || yamlnode.IsNull(e.val) {
		var pos = e.key
		d.Warnf(pos, "no indicators: the file defines no SLI queries; add indicators: {NAME: QUERY}")
		return out
	}
	if !d.isMapping(e.val, "indicators", "NAME: QUERY pairs") {
		return out
	}
	ind := d.mapFields(e.val, "indicators", nil, nil)
	for i := 0; i+1 < len(e.val.Content); i += 2 {
		k := e.val.Content[i]
		name := k.Value
		if name == "" {
			d.Errorf(k, "indicator with an empty name: write NAME: QUERY")
			continue
		}
		v := ind[name].val
		if ind[name].key != k {
			continue // repeated key: the later value wins, already reported
		}
		q, ok := d.str(v, "the query of indicator "+name)
		if !ok {
			continue
		}
		if q == "" {
			d.Warnf(k, "indicator %q has an empty query: the SLI provider will report it as failed; write the query or remove the indicator", name)
		}
		if _, seen := out.Indicators[name]; !seen {
			out.Order = append(out.Order, name)
		}
		out.Indicators[name] = q
	}
	if len(out.Order) == 0 {
		d.Warnf(e.key, "no indicators: the file defines no SLI queries; add indicators: {NAME: QUERY}")
	}
	return out
}
