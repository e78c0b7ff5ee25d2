package websession

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestSourceAndLogQuote(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.7:4431", "192.0.2.7"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"@", "@"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if got := Source(r); got != tc.want {
			t.Errorf("Source(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
	if got := LogQuote("a\x1b[2Jb"); got != `"a\x1b[2Jb"` {
		t.Errorf("LogQuote kept a control character: %s", got)
	}
	if got := LogQuote(strings.Repeat("x", 100)); got != `"`+strings.Repeat("x", 64)+`..."` {
		t.Errorf("LogQuote did not cut a long string: %s", got)
	}
}

func TestStaticAndFormCookie(t *testing.T) {
	fsys := fstest.MapFS{"static/app.css": {Data: []byte("body{}")}}
	w := httptest.NewRecorder()
	Static(fsys, "static", "/s/").ServeHTTP(w, httptest.NewRequest("GET", "/s/app.css", nil))
	if w.Code != http.StatusOK || w.Body.String() != "body{}" || w.Header().Get("Cache-Control") != "max-age=3600" {
		t.Fatalf("static file: %d %q %q", w.Code, w.Body, w.Header().Get("Cache-Control"))
	}
	w = httptest.NewRecorder()
	tok := FormCookie(w, "form", "/login")
	c := w.Result().Cookies()
	if len(c) != 1 || c[0].Value != tok || tok == "" || !c[0].Secure || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Path != "/login" {
		t.Fatalf("form cookie %+v, token %q", c, tok)
	}
}

func TestHarden(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/page", strings.NewReader("a="+strings.Repeat("x", 100)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	Harden(w, r, "/static/", 10)
	h := w.Header()
	if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("page headers: %v", h)
	}
	if err := r.ParseForm(); err == nil {
		t.Fatal("a body over the cap was read")
	}
	w = httptest.NewRecorder()
	Harden(w, httptest.NewRequest("GET", "/static/app.css", nil), "/static/", 10)
	if w.Header().Get("Cache-Control") != "" {
		t.Fatalf("a static file was marked no-store")
	}
}
