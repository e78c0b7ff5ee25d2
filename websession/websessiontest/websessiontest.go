// Package websessiontest drives the sign-in of a web interface in the
// tests of the packages that serve one.
package websessiontest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"vxway/websession"
)

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
