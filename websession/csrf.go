package websession

import (
	"crypto/subtle"
	"net/http"
	"net/url"
)

// CSRFField is the hidden form field holding the CSRF token; every form
// that changes something carries it.
const CSRFField = "csrf"

// TokenEqual compares two tokens in constant time; an empty token never
// matches.
func TokenEqual(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// SameOrigin reports whether a state-changing request comes from the
// server's own pages. Browsers say where a request comes from in
// Sec-Fetch-Site (which a page cannot set), else in Origin; a request
// that names another site is refused even with a valid token. Requests
// that carry neither (older clients, scripts) rely on the token alone.
func SameOrigin(r *http.Request) bool {
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

// CheckPost reports whether a POST may change something: from the
// server's own pages, with the expected token.
func CheckPost(r *http.Request, want string) bool {
	return SameOrigin(r) && TokenEqual(r.PostFormValue(CSRFField), want)
}
