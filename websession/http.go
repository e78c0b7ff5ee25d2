package websession

import (
	"io/fs"
	"net"
	"net/http"
	"strconv"
)

// The small HTTP pieces both web interfaces use the same way.

// Source is the request's client address without the port.
func Source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// LogQuote makes a string from the network safe for a terminal or a
// log: at most 64 bytes of it, quoted in ASCII.
func LogQuote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.QuoteToASCII(s)
}

// SeeOther sends the browser to path with a GET (post/redirect/get).
func SeeOther(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// SignedOut answers a request without a live session: a form post gets
// 403 (its change is not made), a page request is sent to sign in at
// login.
func SignedOut(w http.ResponseWriter, r *http.Request, login string) {
	if r.Method == http.MethodPost {
		http.Error(w, "Forbidden: not signed in, or the session has ended; sign in again", http.StatusForbidden)
		return
	}
	SeeOther(w, r, login)
}

// Static serves the files of dir in fsys under the URL prefix (which
// ends in a slash), cached by the browser for an hour.
func Static(fsys fs.FS, dir, prefix string) http.Handler {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	files := http.StripPrefix(prefix, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// FormCookie sets the cookie name, valid for an hour on path, to a fresh
// token for a form shown before any session exists (a double-submit
// token: a cross-site page can neither read the cookie nor set it), and
// returns the token for the form's hidden field.
func FormCookie(w http.ResponseWriter, name, path string) string {
	tok := RandomToken()
	http.SetCookie(w, &http.Cookie{Name: name, Value: tok, Path: path, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	return tok
}
