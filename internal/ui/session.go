package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/store"
)

// Sessions.
//
// Logging in with an API token starts a session. Its id is 32 random bytes
// in a cookie (HttpOnly, SameSite=Lax, Secure over TLS); the server keeps
// only the id's SHA-256, as a server-wide setting named sessionKeyPrefix +
// hex(hash), so every replica on one PostgreSQL sees every session and a
// database dump holds no usable cookie. The setting holds the SHA-256 of
// the API token (the store's own lookup key), the session's CSRF token and
// its times; never the API token.
//
// Every request looks the token up by that hash, so deleting the token ends
// its sessions at once, on every replica, and the principal always has the
// token's current scope and project.
//
// SameSite=Lax rather than Strict: a link to the UI in an escalation message
// (Slack, mail) is a cross-site navigation, and Strict would show the login
// page to a signed-in person. Lax still withholds the cookie from
// cross-site POSTs, and every form also carries the session's CSRF token.

// Cookie names.
const (
	sessionCookie = "tend_session"
	// loginCookie carries the login form's CSRF token before a session
	// exists (double submit).
	loginCookie = "tend_login"
)

// sessionKeyPrefix starts the setting key of every session.
const sessionKeyPrefix = "ui.session."

// touchEvery is how stale a session's last-seen time may be before a
// request writes it again, so that reading pages is not a write each.
const touchEvery = time.Minute

// csrfField is the form field of the CSRF token.
const csrfField = "csrf"

// sessionDoc is a session as stored.
type sessionDoc struct {
	// TokenHash is the SHA-256 of the API token the user logged in with.
	TokenHash []byte    `json:"tokenHash"`
	CSRF      string    `json:"csrf"`
	Created   time.Time `json:"created"`
	Seen      time.Time `json:"seen"`
}

// session is a request's signed-in session.
type session struct {
	key       string
	doc       sessionDoc
	Principal auth.Principal
	// CSRF is the token every form of the session carries.
	CSRF string
}

type sessionKey struct{}

func sessionFrom(ctx context.Context) (*session, bool) {
	s, ok := ctx.Value(sessionKey{}).(*session)
	return s, ok
}

// randomToken returns 32 random bytes in base64url.
func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// settingKey is the setting that stores the session of id.
func settingKey(id string) string {
	h := sha256.Sum256([]byte(id))
	return sessionKeyPrefix + hex.EncodeToString(h[:])
}

// equalSecret compares two secrets in constant time; empty never matches.
func equalSecret(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// secureRequest tells whether cookies must be Secure.
func (u *UI) secureRequest(r *http.Request) bool { return u.secure || r.TLS != nil }

func (u *UI) setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, sameSite http.SameSite, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: u.secureRequest(r), SameSite: sameSite,
	})
}

// lookup finds the valid session a request presents, or nil. An expired
// session, or one whose token was deleted, is removed.
func (u *UI) lookup(ctx context.Context, r *http.Request) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, nil
	}
	key := settingKey(c.Value)
	st, err := u.store.GetSetting(ctx, store.Scope{}, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	var doc sessionDoc
	if err := json.Unmarshal(st.Value, &doc); err != nil {
		u.drop(ctx, key)
		return nil, nil
	}
	now := u.now()
	if now.Sub(doc.Seen) > u.idle || now.Sub(doc.Created) > u.lifetime {
		u.drop(ctx, key)
		return nil, nil
	}
	tok, err := u.store.TokenByHash(ctx, doc.TokenHash)
	if errors.Is(err, store.ErrNotFound) {
		u.log.InfoContext(ctx, "ui_session_ended", "reason", "token deleted")
		u.drop(ctx, key)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up the session's token: %w", err)
	}
	if now.Sub(doc.Seen) > touchEvery {
		doc.Seen = now
		if err := u.putSession(ctx, key, doc); err != nil {
			return nil, err
		}
	}
	return &session{
		key: key, doc: doc, CSRF: doc.CSRF,
		Principal: auth.Principal{TokenName: tok.Name, Scope: auth.Scope(tok.Scope), Project: tok.Project, Kind: auth.KindSession},
	}, nil
}

func (u *UI) putSession(ctx context.Context, key string, doc sessionDoc) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	if err := u.store.PutSetting(ctx, store.Setting{Key: key, Value: b}); err != nil {
		return fmt.Errorf("store session: %w", err)
	}
	return nil
}

// drop removes a session; failing to is only logged, as the session is
// refused either way.
func (u *UI) drop(ctx context.Context, key string) {
	if err := u.store.DeleteSetting(ctx, store.Scope{}, key); err != nil && !errors.Is(err, store.ErrNotFound) {
		u.log.WarnContext(ctx, "ui_session_delete_failed", "err", err)
	}
}

// sweep removes expired sessions; it runs on each login, which bounds the
// table by the logins of one lifetime.
func (u *UI) sweep(ctx context.Context) {
	all, err := u.store.ListSettings(ctx, "")
	if err != nil {
		u.log.WarnContext(ctx, "ui_session_sweep_failed", "err", err)
		return
	}
	now := u.now()
	for _, st := range all {
		if !strings.HasPrefix(st.Key, sessionKeyPrefix) || st.Project != "" {
			continue
		}
		var doc sessionDoc
		if json.Unmarshal(st.Value, &doc) != nil || now.Sub(doc.Seen) > u.idle || now.Sub(doc.Created) > u.lifetime {
			u.drop(ctx, st.Key)
		}
	}
}

// withSession runs h for a signed-in request, and checks the CSRF token of
// every POST. A request without a session is sent to the login page (an
// htmx request through HX-Redirect, as it would swap the page in).
func (u *UI) withSession(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := u.lookup(r.Context(), r)
		if err != nil {
			u.internalError(w, r, err)
			return
		}
		if s == nil {
			target := "/login"
			if r.Method == http.MethodGet && r.URL.Path != "/" {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			if r.Header.Get("HX-Request") == "true" {
				w.Header().Set("HX-Redirect", target)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil || !equalSecret(s.CSRF, r.PostForm.Get(csrfField)) {
				u.log.WarnContext(r.Context(), "ui_csrf_rejected", "path", r.URL.Path, "token_name", s.Principal.TokenName)
				u.renderError(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)), http.StatusForbidden,
					"The form was not accepted: it is missing this session's security token. Reload the page and try again.")
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	})
}

// loginData is the data of the login page. It never holds the token.
type loginData struct {
	pageBase
	Next  string
	Error string
}

// safeNext keeps a post-login destination only when it is a path on this
// server, so the login cannot be used to send people elsewhere. Browsers
// drop ASCII tabs and newlines anywhere in a URL and read a backslash as a
// slash, so "/\t/evil.example" and "/\evil.example" mean
// "//evil.example", another host, to them: a destination with a control
// character or a backslash is refused rather than cleaned, and what is left
// must parse as a URL with neither scheme nor host whose path starts with
// exactly one slash.
func safeNext(next string) string {
	if strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "/"
	}
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.EscapedPath(), "/") || strings.HasPrefix(u.EscapedPath(), "//") {
		return "/"
	}
	return next
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	s, err := u.lookup(r.Context(), r)
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	next := safeNext(r.URL.Query().Get("next"))
	if s != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	u.showLogin(w, r, http.StatusOK, next, "")
}

// showLogin renders the login form with a fresh login CSRF token.
func (u *UI) showLogin(w http.ResponseWriter, r *http.Request, status int, next, msg string) {
	tok, err := randomToken()
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	u.setCookie(w, r, loginCookie, tok, "/login", http.SameSiteStrictMode, 3600)
	d := loginData{pageBase: base(nil, "Sign in"), Next: next, Error: msg}
	d.CSRF = tok
	u.render(w, r, status, "login", d)
}

// login checks the token of the login form and starts a session.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		u.renderError(w, r, http.StatusBadRequest, "The sign-in form could not be read.")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	c, err := r.Cookie(loginCookie)
	if err != nil || !equalSecret(c.Value, r.PostForm.Get(csrfField)) {
		u.log.WarnContext(ctx, "ui_login_csrf_rejected")
		u.showLogin(w, r, http.StatusForbidden, next, "The sign-in form expired or came from another site. Please sign in again.")
		return
	}
	secret := strings.TrimSpace(r.PostForm.Get("token"))
	fail := func(msg string) {
		u.log.InfoContext(ctx, "ui_login_failed")
		u.showLogin(w, r, http.StatusUnauthorized, next, msg)
	}
	if auth.CheckFormat(secret) != nil {
		fail("That is not an API token. Paste a token created with `tend create token` (it starts with tend_).")
		return
	}
	tok, err := u.store.TokenByHash(ctx, auth.Sum(secret))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !auth.VerifySum(tok.Hash, secret)) {
		fail("The token was not accepted: it is unknown or was revoked.")
		return
	}
	if err != nil {
		u.internalError(w, r, fmt.Errorf("look up token: %w", err))
		return
	}
	if tok.Scope == string(apitypes.ScopeIntake) {
		fail("An intake token only delivers alerts and cannot sign in. Use a read, write or admin token.")
		return
	}
	u.sweep(ctx)
	id, err := randomToken()
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	csrf, err := randomToken()
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	now := u.now()
	if err := u.putSession(ctx, settingKey(id), sessionDoc{TokenHash: auth.Sum(secret), CSRF: csrf, Created: now, Seen: now}); err != nil {
		u.internalError(w, r, err)
		return
	}
	u.log.InfoContext(ctx, "ui_login", "token_name", tok.Name)
	u.setCookie(w, r, loginCookie, "", "/login", http.SameSiteStrictMode, -1)
	u.setCookie(w, r, sessionCookie, id, "/", http.SameSiteLaxMode, 0)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session (the CSRF check ran in withSession).
func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	s, _ := sessionFrom(r.Context())
	u.drop(r.Context(), s.key)
	u.log.InfoContext(r.Context(), "ui_logout", "token_name", s.Principal.TokenName)
	u.setCookie(w, r, sessionCookie, "", "/", http.SameSiteLaxMode, -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
