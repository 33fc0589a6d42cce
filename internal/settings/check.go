package settings

import (
	"fmt"
	"net/url"
)

// CheckURL returns the problem of an http(s) URL field, or "". Credentials
// in a URL are refused because they would be stored and shown as part of
// a plain field; they belong in a secret field. baseOnly refuses a query
// or fragment, for base URLs that tend appends API paths to.
func CheckURL(field, raw string, baseOnly bool) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Sprintf("%s %q is not an http(s) URL with a host", field, raw)
	case u.User != nil:
		return fmt.Sprintf("%s %s carries credentials; give them in the secret fields so they are kept as secrets", field, u.Redacted())
	case baseOnly && (u.RawQuery != "" || u.Fragment != ""):
		return fmt.Sprintf("%s %s has a query or fragment; give the base URL only", field, u.Redacted())
	}
	return ""
}
