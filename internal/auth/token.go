// Package auth owns tend's API credentials: it issues tokens, hashes them for
// storage, verifies presented tokens, reads them from request headers, and
// decides what a credential's principal may do (scopes, project restriction,
// intake-only tokens). It stores nothing itself; the store keeps hashes.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// TokenPrefix starts every token tend issues, so that a leaked token is
// recognisable in logs, config files and secret scanners. It uses only
// characters of the token alphabet.
const TokenPrefix = "tend_"

// MinTokenLen is the shortest token tend accepts as well-formed: issue 3's
// rule of at least 32 characters of [A-Za-z0-9_-].
const MinTokenLen = 32

// maxTokenLen bounds what FromHeader passes on, so that a huge header value
// is refused before it is hashed and looked up.
const maxTokenLen = 256

// tokenRandomBytes is the entropy of a token: 32 bytes, 256 bits, which
// base64url writes as 43 characters.
const tokenRandomBytes = 32

// NewToken returns a new random API token: TokenPrefix followed by 43
// base64url characters of 32 bytes from crypto/rand, 48 characters in all,
// every one in [A-Za-z0-9_-].
func NewToken() (string, error) {
	var b [tokenRandomBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// CheckFormat tells whether s could be a tend token: at least MinTokenLen
// characters, all of [A-Za-z0-9_-]. The CLI uses it to refuse a mistyped
// --api-token before storing it.
func CheckFormat(s string) error {
	if len(s) < MinTokenLen {
		return fmt.Errorf("token is %d characters long; tend tokens have at least %d", len(s), MinTokenLen)
	}
	if len(s) > maxTokenLen {
		return fmt.Errorf("token is %d characters long; tend tokens have at most %d", len(s), maxTokenLen)
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return fmt.Errorf("token has the character %q at position %d; tend tokens use only A-Z, a-z, 0-9, '_' and '-'", s[i], i+1)
		}
	}
	return nil
}

func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// Sum returns the SHA-256 of a token, the 32 bytes the store keeps and
// looks tokens up by.
//
// A fast hash is right here, unlike for passwords: a token carries 256
// random bits, so no dictionary or brute-force search over the hash can
// find it, and a slow hash such as bcrypt would only add tens of
// milliseconds to every API request without adding safety. The hash is
// deterministic (no salt) so the store can index it and find a token in one
// lookup; a salt protects low-entropy secrets, which these are not.
func Sum(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Hash returns Sum as lower-case hexadecimal, for places that store text.
func Hash(token string) string {
	return hex.EncodeToString(Sum(token))
}

// Verify reports whether presented is the token whose Hash is hashHex. The
// comparison takes the same time wherever the hashes differ, so response
// times reveal nothing about how close a guess was. A malformed hashHex
// never verifies.
func Verify(hashHex, presented string) bool {
	want, err := hex.DecodeString(hashHex)
	if err != nil || len(want) != sha256.Size {
		return false
	}
	return VerifySum(want, presented)
}

// VerifySum is Verify for the raw 32-byte hash that Sum returns.
func VerifySum(sum []byte, presented string) bool {
	if len(sum) != sha256.Size {
		return false
	}
	return subtle.ConstantTimeCompare(sum, Sum(presented)) == 1
}

// CheckName tells whether name is a valid token name: 1 to 63 characters
// of letters, digits, '.', '_' and '-', starting with a letter or digit.
// Names appear in CLI arguments, URLs and logs, so they stay plain.
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("token name is empty")
	}
	if len(name) > 63 {
		return fmt.Errorf("token name %q is %d characters long; the limit is 63", name, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("token name %q must start with a letter or digit", name)
		}
		if !alnum && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("token name %q has the character %q; use letters, digits, '.', '_' and '-'", name, c)
		}
	}
	return nil
}
