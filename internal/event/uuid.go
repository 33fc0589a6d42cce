package event

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"strings"
)

// ContextNamespace is the namespace of the name-based (version 5) UUIDs that
// ContextFor derives from Keptn contexts that are not UUIDs. It is itself the
// version 5 UUID of the URL "https://github.com/tendhq/tend/keptn-context" in
// RFC 9562's URL namespace, so anyone can recompute it; it must never change,
// or notifications of one problem sent before and after an upgrade would land
// in two contexts.
const ContextNamespace = "3db12551-e5d4-5ecd-81eb-64c796de0d13"

// NewUUID returns a random (version 4) UUID in canonical lower-case form.
// It panics only if the operating system's random source fails, which
// crypto/rand documents as unrecoverable.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error since Go 1.24.
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// IsUUID reports whether s is a UUID in the canonical 8-4-4-4-12 hexadecimal
// form, in either case. Braced and "urn:uuid:" forms are not accepted, so
// that one context has exactly one spelling in the event log.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// nameUUID returns the version 5 (SHA-1, name-based) UUID of name in the
// namespace ns, as RFC 9562 section 5.5 defines it. ns must be a canonical
// UUID.
func nameUUID(ns, name string) string {
	return v5(parseUUID(ns), name)
}

// DerivedID returns the version 5 UUID of parts, joined by NUL bytes, in
// the namespace ns: the same parts give the same id on every replica and
// every run, which makes the ids of the events an engine emits its
// idempotency keys. Each engine has a namespace of its own, so its ids
// never collide with another's.
func DerivedID(ns [16]byte, parts ...string) string {
	return v5(ns, strings.Join(parts, "\x00"))
}

func v5(ns [16]byte, name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var b [16]byte
	copy(b[:], h.Sum(nil))
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// parseUUID decodes a canonical UUID; callers check IsUUID first.
func parseUUID(s string) [16]byte {
	var b [16]byte
	compact := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	_, _ = hex.Decode(b[:], []byte(compact))
	return b
}

func formatUUID(b [16]byte) string {
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}
