package sli

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Replacer replaces the placeholders of docs/keptn.md, "SLI files" in queries:
//
//	$PROJECT $STAGE $SERVICE $DEPLOYMENT   and $project $stage $service $deployment
//	$DURATION_SECONDS                      the window rounded up to whole seconds, e.g. 300s
//	$LABEL.<name>                          the event label <name>
//	$<key>                                 the SLO filter entry <key>
//
// At each '$' the longest placeholder name that the text continues with is
// replaced, so a filter key SERVICE_NAME wins over SERVICE in
// "$SERVICE_NAME", and no word boundary is needed after a name ("$SERVICE_x"
// becomes "<service>_x"), as in Keptn, which used plain string replacement.
// A filter key that equals a built-in name (say DEPLOYMENT) overrides it,
// because Keptn applied the filters first.
//
// The text is scanned once, left to right: replaced values are never
// scanned again, so a label value that contains "$SERVICE" stays literal.
//
// A '$' that starts no known name is left as it is. PromQL regular
// expressions use '$' as an anchor, so dropping or rejecting unknown names
// would break valid queries; a typo such as $SERVCE therefore reaches the
// monitoring system, which usually answers with a parse error or no data,
// and the failed result names the query. Unresolved lists such names for
// that message.
type Replacer struct {
	names  []string // longest first
	values map[string]string
}

// NewReplacer builds the replacer for one request.
func NewReplacer(req Request) *Replacer {
	v := map[string]string{
		"PROJECT": req.Project, "STAGE": req.Stage, "SERVICE": req.Service, "DEPLOYMENT": req.Deployment,
		"project": req.Project, "stage": req.Stage, "service": req.Service, "deployment": req.Deployment,
		"DURATION_SECONDS": DurationSeconds(req.Start, req.End),
	}
	for name, value := range req.Labels {
		v["LABEL."+name] = value
	}
	for key, value := range req.Filters {
		if key != "" {
			v[key] = value
		}
	}
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	// Longest first; ties in a fixed order so replacement is deterministic.
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(len(b), len(a)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return &Replacer{names: names, values: v}
}

// Replace returns query with every known placeholder replaced.
func (r *Replacer) Replace(query string) string {
	if !strings.Contains(query, "$") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 32)
	for i := 0; i < len(query); {
		j := strings.IndexByte(query[i:], '$')
		if j < 0 {
			b.WriteString(query[i:])
			break
		}
		b.WriteString(query[i : i+j])
		i += j + 1 // past '$'
		matched := false
		for _, name := range r.names {
			if strings.HasPrefix(query[i:], name) {
				b.WriteString(r.values[name])
				i += len(name)
				matched = true
				break
			}
		}
		if !matched {
			b.WriteByte('$')
		}
	}
	return b.String()
}

// DurationSeconds is the $DURATION_SECONDS value of a window: its length
// rounded up to whole seconds with an "s" suffix ("300s"), so a window of
// 299.2 s still covers all of its data. A window that is empty or reversed
// gives "0s"; Request.Validate rejects such windows first.
func DurationSeconds(start, end time.Time) string {
	d := end.Sub(start)
	if d <= 0 {
		return "0s"
	}
	secs := int64(d / time.Second)
	if d%time.Second != 0 {
		secs++
	}
	return strconv.FormatInt(secs, 10) + "s"
}

// Unresolved returns the placeholder-like names ($ followed by a letter or
// underscore, then letters, digits, '_' or '.') that are left in a query
// after Replace, each once, in order of appearance. Providers add them to
// failure messages as a hint; a '$' used as a regular-expression anchor is
// followed by a quote or bracket and is not reported.
func Unresolved(query string) []string {
	var out []string
	for i := 0; i < len(query); i++ {
		if query[i] != '$' || i+1 >= len(query) || !isNameStart(query[i+1]) {
			continue
		}
		j := i + 2
		for j < len(query) && isNameByte(query[j]) {
			j++
		}
		name := strings.TrimRight(query[i:j], ".")
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
		i = j - 1
	}
	return out
}

func isNameStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isNameByte(c byte) bool { return isNameStart(c) || c == '.' || ('0' <= c && c <= '9') }

// UnresolvedHint is the suffix providers append to a failure message when
// the query still holds placeholder-like names: "" when there are none.
func UnresolvedHint(query string) string {
	names := Unresolved(query)
	if len(names) == 0 {
		return ""
	}
	return " (the query still contains " + strings.Join(names, ", ") +
		": not a placeholder tend knows; known are $PROJECT, $STAGE, $SERVICE, $DEPLOYMENT, $DURATION_SECONDS, $LABEL.<name> and the SLO filter keys)"
}
