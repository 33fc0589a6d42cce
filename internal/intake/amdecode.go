package intake

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeAlertmanager is the fast path of ParseAlertmanager: a decoder
// written for the webhook message that reads it in one pass, straight into
// the values ParseAlertmanager returns, instead of encoding/json's
// reflection, a raw copy of every alert and a second decoding of each.
//
// It is exact by refusing rather than by imitating every corner of
// encoding/json: ok is true only for a message it read completely and
// certainly as parseAlertmanagerJSON reads it, and then the message is
// the one that function returns. Anything else is refused (ok false) and
// goes the reference way: every error (syntax, a field of the wrong type, a
// version other than "4", no alerts), an alert that is not an object or
// that the reference reads as unreadable, null anywhere it would be
// decoded, a key that appears twice (encoding/json merges maps and keeps
// the last scalar), a key that matches a field only without regard to
// case (encoding/json accepts those), a non-ASCII key of the envelope or
// an alert, invalid UTF-8 or a surrogate escape in a string (encoding/json
// replaces those), and values nested deeper than maxSkipDepth. So its
// errors, their texts and positions included, are the reference's own.
// FuzzAlertmanagerDecodersAgree checks the claim on arbitrary input.
//
// b is the body without surrounding space, starting with '{'.
func decodeAlertmanager(b []byte, opts AlertmanagerOptions) (*AlertmanagerMessage, bool) {
	d := amDecoder{b: b}
	m, ok := d.message(opts)
	if !ok {
		return nil, false
	}
	d.space()
	if d.i != len(d.b) {
		return nil, false
	}
	return m, true
}

// maxSkipDepth bounds the nesting of values the decoder skips (fields
// tend does not read); deeper ones are refused, and encoding/json, whose
// own limit is far higher, reads them.
const maxSkipDepth = 64

// amDecoder reads one message: b[i:] is what is left of it.
type amDecoder struct {
	b []byte
	i int
	// scratch holds the text of the last string that had escapes.
	scratch []byte
}

// The fields of the envelope and of an alert that ParseAlertmanager
// reads, as amMessage and amAlert name them; bit i of a seen mask is
// field i.
var (
	envelopeFields = [...]string{"version", "groupKey", "truncatedAlerts", "status", "receiver",
		"groupLabels", "commonLabels", "commonAnnotations", "externalURL", "alerts"}
	alertFields = [...]string{"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL"}
)

// The field numbers of envelopeFields and alertFields.
const (
	envVersion = iota
	envGroupKey
	envTruncatedAlerts
	envStatus
	envReceiver
	envGroupLabels
	envCommonLabels
	envCommonAnnotations
	envExternalURL
	envAlerts
)

const (
	alertStatus = iota
	alertLabels
	alertAnnotations
	alertStartsAt
	alertEndsAt
	alertGeneratorURL
)

const (
	fieldUnknown = -1 // a key of no field: its value is skipped
	fieldRefuse  = -2 // a key encoding/json might match to a field: refuse
)

// field returns the number of the field key names in fields, fieldUnknown,
// or fieldRefuse when encoding/json's case-insensitive matching could
// take it for a field (its folding knows non-ASCII letters too, such as
// the Kelvin sign for k).
func field(fields []string, key []byte) int {
	for i, f := range fields {
		if string(key) == f {
			return i
		}
	}
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return fieldRefuse
		}
	}
	for _, f := range fields {
		if asciiEqualFold(key, f) {
			return fieldRefuse
		}
	}
	return fieldUnknown
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// fields reads an object whose keys name fields of names, calling read
// with each field's number to read its value. It refuses what the
// reference might read otherwise (a key it could fold onto a field, a
// field given twice) and skips the values of other keys. It returns the
// set of fields read, bit i for field i.
func (d *amDecoder) fields(names []string, read func(f int) bool) (uint, bool) {
	var seen uint
	ok := d.object(func(key []byte) bool {
		f := field(names, key)
		switch {
		case f == fieldRefuse:
			return false
		case f == fieldUnknown:
			return d.skip(1)
		case seen&(1<<f) != 0:
			return false
		}
		seen |= 1 << f
		return read(f)
	})
	return seen, ok
}

// message reads the envelope and its alerts.
func (d *amDecoder) message(opts AlertmanagerOptions) (*AlertmanagerMessage, bool) {
	m := &AlertmanagerMessage{}
	var alerts []amAlert
	seen, ok := d.fields(envelopeFields[:], func(f int) bool {
		var ok bool
		switch f {
		case envVersion:
			// The reference accepts "4" only (or no version).
			v, ok := d.str()
			if !ok || string(v) != "4" {
				return false
			}
			m.Version = "4"
			return true
		case envGroupKey:
			m.GroupKey, ok = d.stringValue()
		case envTruncatedAlerts:
			m.TruncatedAlerts, ok = d.intValue()
		case envStatus:
			m.Status, ok = d.stringValue()
		case envReceiver:
			m.Receiver, ok = d.stringValue()
		case envGroupLabels:
			m.GroupLabels, ok = d.stringMap()
		case envCommonLabels:
			m.CommonLabels, ok = d.stringMap()
		case envCommonAnnotations:
			m.CommonAnnotations, ok = d.stringMap()
		case envExternalURL:
			m.ExternalURL, ok = d.stringValue()
		case envAlerts:
			alerts, ok = d.alerts()
		}
		return ok
	})
	if !ok || seen&(1<<envAlerts) == 0 {
		return nil, false
	}
	// The origin, externalURL, may follow the alerts in the message, so
	// the notifications are made once the whole envelope is read.
	m.Notifications = make([]Notification, 0, len(alerts))
	for i := range alerts {
		m.Notifications = append(m.Notifications, notificationOf(i, &alerts[i], opts, m.ExternalURL))
	}
	return m, true
}

// alerts reads the array of alerts; each must be an object.
func (d *amDecoder) alerts() ([]amAlert, bool) {
	out := make([]amAlert, 0, 4)
	ok := d.array(func() bool {
		a, ok := d.alert()
		out = append(out, a)
		return ok
	})
	return out, ok
}

// alert reads one alert object.
func (d *amDecoder) alert() (amAlert, bool) {
	var a amAlert
	_, ok := d.fields(alertFields[:], func(f int) bool {
		var ok bool
		switch f {
		case alertStatus:
			a.Status, ok = d.stringValue()
		case alertLabels:
			a.Labels, ok = d.stringMap()
		case alertAnnotations:
			a.Annotations, ok = d.stringMap()
		case alertStartsAt:
			a.StartsAt, ok = d.stringValue()
		case alertEndsAt:
			a.EndsAt, ok = d.stringValue()
		case alertGeneratorURL:
			a.GeneratorURL, ok = d.stringValue()
		}
		return ok
	})
	return a, ok
}

// stringMap reads an object of strings, as encoding/json fills a
// map[string]string: a later key replaces an earlier one.
func (d *amDecoder) stringMap() (map[string]string, bool) {
	m := make(map[string]string, 8)
	ok := d.object(func(key []byte) bool {
		k := common(key) // before the value's string reuses scratch
		v, ok := d.stringValue()
		m[k] = v
		return ok
	})
	return m, ok
}

// stringValue reads a string (never null).
func (d *amDecoder) stringValue() (string, bool) {
	s, ok := d.str()
	if !ok {
		return "", false
	}
	return common(s), true
}

// common returns s as a string, without allocating for the words every
// alert repeats.
func common(s []byte) string {
	switch string(s) {
	case "":
		return ""
	case "alertname":
		return "alertname"
	case "project":
		return "project"
	case "stage":
		return "stage"
	case "service":
		return "service"
	case "severity":
		return "severity"
	case "instance":
		return "instance"
	case "job":
		return "job"
	case "root_cause":
		return "root_cause"
	case "summary":
		return "summary"
	case "description":
		return "description"
	case "firing":
		return "firing"
	case "resolved":
		return "resolved"
	case "0001-01-01T00:00:00Z":
		return "0001-01-01T00:00:00Z"
	}
	return string(s)
}

// intValue reads a number as encoding/json fills an int: an integer
// literal that fits (a fraction or exponent is refused).
func (d *amDecoder) intValue() (int, bool) {
	d.space()
	lit, ok := d.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(lit), 10, strconv.IntSize)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

// object reads an object, calling member with each key (valid until the
// next string is read) and the decoder at the key's value, which member
// reads.
func (d *amDecoder) object(member func(key []byte) bool) bool {
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return true
	}
	for {
		key, ok := d.str()
		if !ok || !d.consume(':') || !member(key) {
			return false
		}
		if d.consume(',') {
			continue
		}
		return d.consume('}')
	}
}

// array reads an array, calling elem with the decoder at each element.
func (d *amDecoder) array(elem func() bool) bool {
	if !d.consume('[') {
		return false
	}
	if d.consume(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if d.consume(',') {
			continue
		}
		return d.consume(']')
	}
}

// skip reads any JSON value, checking its syntax as encoding/json does.
func (d *amDecoder) skip(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	d.space()
	if d.i >= len(d.b) {
		return false
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(func([]byte) bool { return d.skip(depth + 1) })
	case c == '[':
		return d.array(func() bool { return d.skip(depth + 1) })
	case c == '"':
		_, ok := d.str()
		return ok
	case c == '-' || '0' <= c && c <= '9':
		_, ok := d.number()
		return ok
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	}
	return false
}

func (d *amDecoder) literal(word string) bool {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return false
	}
	d.i += len(word)
	return true
}

// number reads a number literal of JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *amDecoder) number() ([]byte, bool) {
	start := d.i
	if d.at('-') {
		d.i++
	}
	switch {
	case d.at('0'):
		d.i++
	case d.digits() == 0:
		return nil, false
	}
	if d.at('.') {
		d.i++
		if d.digits() == 0 {
			return nil, false
		}
	}
	if d.at('e') || d.at('E') {
		d.i++
		if d.at('+') || d.at('-') {
			d.i++
		}
		if d.digits() == 0 {
			return nil, false
		}
	}
	return d.b[start:d.i], true
}

func (d *amDecoder) digits() int {
	n := 0
	for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}

func (d *amDecoder) at(c byte) bool { return d.i < len(d.b) && d.b[d.i] == c }

// space skips JSON's white space.
func (d *amDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// consume skips space and then c, reporting whether c was there.
func (d *amDecoder) consume(c byte) bool {
	d.space()
	if d.at(c) {
		d.i++
		return true
	}
	return false
}

// str reads a string and returns its text, which is valid UTF-8. The
// bytes are the message's own, or scratch's when the string has escapes:
// either way valid only until the next call.
func (d *amDecoder) str() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	start := d.i
	ascii := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !ascii && !utf8.Valid(s) {
				return nil, false // encoding/json replaces the bad bytes
			}
			return s, true
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.i++
	}
	return nil, false
}

// escaped continues str at the first backslash of a string that began at
// start, unescaping into scratch.
func (d *amDecoder) escaped(start int) ([]byte, bool) {
	out := append(d.scratch[:0], d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			d.scratch = out
			if !utf8.Valid(out) {
				return nil, false
			}
			return out, true
		case c < 0x20:
			return nil, false
		case c != '\\':
			out = append(out, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			return nil, false
		}
		e := d.b[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4()
			// A surrogate pair, or a lone half that encoding/json
			// replaces, is left to it.
			if !ok || utf16.IsSurrogate(r) {
				return nil, false
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, false
		}
	}
	return nil, false
}

// hex4 reads the four hex digits of a \u escape.
func (d *amDecoder) hex4() (rune, bool) {
	if len(d.b)-d.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.i += 4
	return r, true
}
