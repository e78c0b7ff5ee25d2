package websession

import (
	"html/template"
	"net/http"
	"strings"
	"time"
)

// Harden sets the security headers every answer of a web interface
// carries: a strict content policy (scripts, styles and images from the
// site only, no framing), HSTS, no sniffing, no referrer to other sites.
// Pages (all but what is under staticPrefix) show codes, tokens and
// settings, so nothing of them is kept by the browser or a proxy. A
// POST's body is cut at maxForm bytes.
func Harden(w http.ResponseWriter, r *http.Request, staticPrefix string, maxForm int64) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Strict-Transport-Security", "max-age=31536000")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, staticPrefix) {
		h.Set("Cache-Control", "no-store")
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	}
}

// Funcs are the template functions both web interfaces use, with more
// of a page set's own: stamp (a time in UTC to the second, "—" for none),
// date (the day in UTC) and orDash ("—" for an empty string).
func Funcs(more template.FuncMap) template.FuncMap {
	f := template.FuncMap{
		"stamp": func(t time.Time) string {
			if t.IsZero() || t.UnixMilli() == 0 {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"date": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02")
		},
		"orDash": func(s string) string {
			if s == "" {
				return "—"
			}
			return s
		},
	}
	for k, v := range more {
		f[k] = v
	}
	return f
}
