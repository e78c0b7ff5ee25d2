package webui

import (
	"crypto/subtle"
	"net/http"
	"net/url"
)

// CSRFField is the hidden form field holding the CSRF token; every form
// that changes something carries it.
const CSRFField = "csrf"

// loginCookie holds the token of the sign-in form, before any session
// exists (a double-submit token: a cross-site page can neither read the
// cookie nor set it).
const loginCookie = "vxlogin"

// tokenEqual compares two tokens in constant time; an empty token never
// matches.
func tokenEqual(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// sameOrigin reports whether a state-changing request comes from the
// device's own pages. Browsers say where a request comes from in
// Sec-Fetch-Site (which a page cannot set), else in Origin; a request
// that names another site is refused even with a valid token. Requests
// that carry neither (older clients, scripts) rely on the token alone.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Scheme == "https" && u.Host == r.Host
}

// checkPost reports whether a POST may change something: from the
// device's own pages, with the expected token.
func checkPost(r *http.Request, want string) bool {
	return sameOrigin(r) && tokenEqual(r.PostFormValue(CSRFField), want)
}
