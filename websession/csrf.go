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

// SignInForm reads a sign-in form posted with the double-submit token of
// the cookie named cookie (FormCookie). It answers 400 for a form it
// cannot read and 403 for a missing, wrong or cross-site token, and then
// returns false: nothing more is to be done.
func SignInForm(w http.ResponseWriter, r *http.Request, cookie string) bool {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad request: the form could not be read", http.StatusBadRequest)
		return false
	}
	c, err := r.Cookie(cookie)
	if err != nil || !CheckPost(r, c.Value) {
		http.Error(w, "Forbidden: the sign-in form's security token is missing or wrong, or it came from another site. Reload the sign-in page and try again.", http.StatusForbidden)
		return false
	}
	return true
}
