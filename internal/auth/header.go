package auth

import (
	"net/http"
	"strings"
)

// HeaderToken is Keptn's API token header, which the keptn CLI and Keptn
// integrations send.
const HeaderToken = "X-Token"

// FromHeader extracts the API token from a request's headers. It accepts
// Keptn's `x-token: <token>` and `Authorization: Bearer <token>` (the scheme
// in any case, as RFC 9110 says, so Alertmanager's http_config.authorization
// works). It reports false when there is no usable token:
//
//   - no header, an empty value, or an Authorization scheme other than
//     Bearer (Basic credentials are never taken for a token);
//   - a value that is not a plausible token (characters outside
//     [A-Za-z0-9_-], or longer than 256), refused before any lookup;
//   - ambiguity: the header repeated, or x-token and Bearer naming
//     different tokens, since two layers (a proxy, the application) could
//     otherwise authenticate different credentials.
//
// When both headers carry the same token, or x-token is sent beside a
// non-Bearer Authorization meant for a proxy, x-token is used.
func FromHeader(h http.Header) (token string, ok bool) {
	xs := h.Values(HeaderToken)
	as := h.Values("Authorization")
	if len(xs) > 1 || len(as) > 1 {
		return "", false
	}
	var xToken, bearer string
	if len(xs) == 1 {
		xToken = strings.TrimSpace(xs[0])
		if xToken != "" && !plausibleToken(xToken) {
			return "", false
		}
	}
	if len(as) == 1 {
		scheme, cred, _ := strings.Cut(strings.TrimSpace(as[0]), " ")
		if strings.EqualFold(scheme, "Bearer") {
			bearer = strings.TrimSpace(cred)
			if bearer != "" && !plausibleToken(bearer) {
				return "", false
			}
		}
	}
	switch {
	case xToken != "" && bearer != "" && xToken != bearer:
		return "", false
	case xToken != "":
		return xToken, true
	case bearer != "":
		return bearer, true
	}
	return "", false
}

// plausibleToken checks the token alphabet and an upper bound, without the
// minimum length: a short token simply matches no stored hash.
func plausibleToken(s string) bool {
	if len(s) > maxTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}
