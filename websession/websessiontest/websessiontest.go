// Package websessiontest drives the sign-in of a web interface in the
// tests of the packages that serve one.
package websessiontest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"vxway/websession"
)

// Form names the sign-in form of a web interface: its URL, the cookie
// holding its double-submit token, and its user and password fields.
type Form struct {
	URL, Cookie, UserField, PasswordField string
}

// CheckLockoutAtOnce posts n wrong passwords for user at once to f, with
// the form's token that jar holds (a GET of the form put it there), and
// fails t unless at most maxChecked were checked (answered 401) and the
// rest refused unchecked (429): sign-ins sent together cannot outrun the
// lockout.
func CheckLockoutAtOnce(t testing.TB, c *http.Client, jar http.CookieJar, f Form, user string, n, maxChecked int) {
	t.Helper()
	u, err := url.Parse(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	var tok string
	for _, ck := range jar.Cookies(u) {
		if ck.Name == f.Cookie {
			tok = ck.Value
		}
	}
	got := SignInsAtOnce(c, f.URL, f.Cookie, tok, f.UserField, f.PasswordField, user, n)
	if got[http.StatusUnauthorized] > maxChecked || got[http.StatusUnauthorized]+got[http.StatusTooManyRequests] != n {
		t.Errorf("answers to %d wrong passwords sent at once: %v; want at most %d checked (401), the rest refused (429)", n, got, maxChecked)
	}
}

// SignInsAtOnce posts n sign-in forms for user, each with its own wrong
// password, all released at the same moment, to the form at signInURL
// with the double-submit token tok in the cookie named cookie; it
// returns how many answers had each HTTP status (0: no answer).
func SignInsAtOnce(c *http.Client, signInURL, cookie, tok, userField, passwordField, user string, n int) map[int]int {
	codes := make(chan int, n)
	start := make(chan struct{})
	for i := range n {
		go func() {
			<-start
			f := url.Values{userField: {user}, passwordField: {"wrong-password-" + strconv.Itoa(i)}, websession.CSRFField: {tok}}
			req, err := http.NewRequest(http.MethodPost, signInURL, strings.NewReader(f.Encode()))
			if err != nil {
				codes <- 0
				return
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: cookie, Value: tok})
			resp, err := c.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	close(start)
	got := map[int]int{}
	for range n {
		got[<-codes]++
	}
	return got
}

// WrongToken is tok with its first character changed: a token of the
// right shape that is not the session's.
func WrongToken(tok string) string {
	first := byte('x')
	if strings.HasPrefix(tok, "x") {
		first = 'y'
	}
	return string(first) + tok[1:]
}
