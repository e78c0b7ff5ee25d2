package webui

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strings"
	"sync"

	"vxway/platform"
	"vxway/websession"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// templates are parsed once, at the first page served: the layout with
// each page's content. Not at package initialisation: every device
// program is one binary (rootfs.BuildMulticall), and the agent, the SIP
// service and the admin CLI would pay for the parsing at each start.
var templates = sync.OnceValue(parseTemplates)

var funcs = websession.Funcs(template.FuncMap{
	"lower": strings.ToLower,
})

func parseTemplates() map[string]*template.Template {
	return websession.ParsePages(templateFS, funcs)
}

// view is what every page's template gets.
type view struct {
	Title   string
	Section string
	Path    string
	// Product is the brand and type ("Cisco Expressway-C").
	Product  string
	Hostname string
	User     string
	CSRF     string
	// Banners are the default-password alarms, on every page until the
	// password is changed.
	Banners []banner
	Flash   []flash
	// Errors are the refusals of a form, by field ("" for the form as a
	// whole); Form is what the user typed, shown again.
	Errors map[string]string
	Form   map[string]string
	Data   any
}

type banner struct {
	Text   string
	Action string
	Link   string
}

// Field returns what the user typed in field, or def.
func (v *view) Field(field, def string) string {
	if s, ok := v.Form[field]; ok {
		return s
	}
	return def
}

// render writes page with v, filling in what every page shows.
func (s *Server) render(w http.ResponseWriter, r *http.Request, x *session, page string, status int, v *view) {
	v.Path = r.URL.Path
	brand, full, host := s.productName()
	// Before sign-in nothing but the product's name is shown: not the
	// type, the host name or the alarms.
	v.Product = brand
	if x != nil {
		v.Product, v.Hostname = full, host
		v.User, v.CSRF = x.User, x.CSRF
		v.Flash = append(s.sessions.TakeFlash(x), v.Flash...)
		v.Banners = s.banners()
	}
	var b bytes.Buffer
	if err := templates()[page].ExecuteTemplate(&b, "layout.html", v); err != nil {
		s.event("rendering %s: %v", page, err)
		http.Error(w, "Internal error: the page could not be shown", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// productName is the product's name, its name with the type as the
// product shows them, and the host name.
func (s *Server) productName() (brand, full, host string) {
	cfg, err := platform.LoadSystemConfig(s.root)
	switch {
	case err != nil:
		return "Cisco Expressway", "Cisco Expressway", ""
	case cfg.Brand == platform.BrandVCS:
		return "Cisco VCS", "Cisco VCS", cfg.Hostname
	}
	return "Cisco Expressway", "Cisco " + string(cfg.Type), cfg.Hostname
}

// banners are the raised default-password alarms.
func (s *Server) banners() []banner {
	var out []banner
	for _, id := range []int{platform.AlarmDefaultAdminPassword, platform.AlarmDefaultRootPassword} {
		a, ok, err := s.alarms.Get(id)
		if err != nil || !ok {
			continue
		}
		b := banner{Text: a.Title}
		if id == platform.AlarmDefaultAdminPassword {
			b.Action, b.Link = "Change the admin password", "/users/password"
		} else {
			b.Action = a.Action
		}
		out = append(out, b)
	}
	return out
}
