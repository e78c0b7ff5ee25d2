package portal

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"net/url"

	"vxway/licproto"
	"vxway/reservation"
	"vxway/ssm"
	"vxway/websession"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// templates are parsed once: the layout with each page's content.
var templates = parseTemplates()

var funcs = websession.Funcs(template.FuncMap{
	"typeName": typeName,
	"counts":   func(c reservation.Counts) string { return ssm.CountsText(c) },
	"q":        url.QueryEscape,
})

// typeName is a license type's name as the vendor portal shows it.
func typeName(t licproto.LicenseType) string {
	if t.Valid() {
		return t.DisplayName()
	}
	return reservation.LicenseType(t).DisplayName()
}

func parseTemplates() map[string]*template.Template {
	return websession.ParsePages(templateFS, funcs, "tabs.html")
}

// view is what every page's template gets.
type view struct {
	Title string
	// Tab is the Inventory tab shown (General, Licenses, Product
	// Instances, Event Log), empty elsewhere.
	Tab  string
	Path string
	User *ssm.User
	CSRF string
	// VA is the virtual account of an Inventory page, Account its smart
	// account; VAs are the virtual accounts the user may switch to.
	VA      string
	Account string
	VAs     []string
	Flash   []websession.Flash
	// Errors are the refusals of a form, by field ("" for the form as a
	// whole); Form is what the user typed, shown again.
	Errors map[string]string
	Form   map[string]string
	Data   any
}

// Field returns what the user typed in field, or def.
func (v *view) Field(field, def string) string {
	if s, ok := v.Form[field]; ok {
		return s
	}
	return def
}

// Checked reports whether the checkbox field was ticked in the form shown
// again, or def when no form is shown again.
func (v *view) Checked(field string, def bool) bool {
	if v.Form == nil {
		return def
	}
	return v.Form[field] != ""
}

// render writes page with v, filling in what every page shows.
func (p *Portal) render(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User, page string, status int, v *view) {
	v.Path = r.URL.Path
	if x != nil {
		v.User, v.CSRF = u, x.CSRF
		v.Flash = append(p.sessions.TakeFlash(x), v.Flash...)
	}
	var b bytes.Buffer
	if err := templates[page].ExecuteTemplate(&b, "layout.html", v); err != nil {
		p.log.Error("portal: rendering a page", "page", page, "err", err)
		http.Error(w, "Internal error: the page could not be shown", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}
