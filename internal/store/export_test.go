package store

import "encoding/base64"

// EncodePageKeyRaw builds a key from arbitrary content, for tests of bad keys.
func EncodePageKeyRaw(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
