package websession

import (
	"html/template"
	"io/fs"
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

// ParsePages parses each page templates/NAME.html of fsys into the
// layout templates/layout.html with funcs, and with the partials (file
// names under templates/, which are not pages themselves); it returns
// the pages by NAME. A template that does not parse is a build mistake:
// it panics.
func ParsePages(fsys fs.FS, funcs template.FuncMap, partials ...string) map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(fsys, "templates/layout.html"))
	pages, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		panic(err)
	}
	var shared []string
	skip := map[string]bool{"layout.html": true}
	for _, p := range partials {
		shared = append(shared, "templates/"+p)
		skip[p] = true
	}
	out := map[string]*template.Template{}
	for _, p := range pages {
		file := strings.TrimPrefix(p, "templates/")
		if skip[file] {
			continue
		}
		out[strings.TrimSuffix(file, ".html")] = template.Must(template.Must(layout.Clone()).ParseFS(fsys, append(shared, p)...))
	}
	return out
}
