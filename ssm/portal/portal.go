// Package portal is the license manager's web portal under /portal/: what
// a license administrator does in the vendor's portal, in a browser.
// Smart accounts and virtual accounts; Inventory with the General tab
// (registration tokens), the Licenses tab (license counts, license
// transfer, License Reservation), Product Instances and the Event Log.
//
// Users sign in with the names and passwords the manager keeps (ssm user
// add); sessions, CSRF checks and the sign-in lockout are package
// websession's, the rules of the device's web interface. Every page and
// form calls the same store functions as the CLI and the admin API, after
// the same scope checks as the admin API (ssm.Store.ScopeVA and friends):
// an object outside the user's scope is "not found".
package portal

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"vxway/clock"
	"vxway/ssm"
	"vxway/websession"
)

// Cookies and paths of the portal.
const (
	// SessionCookie is the portal's session cookie (path /portal/).
	SessionCookie = "ssmsession"
	// loginCookie holds the sign-in form's token before any session
	// exists (a double-submit token).
	loginCookie = "ssmlogin"
	// Prefix is where the portal is served.
	Prefix = "/portal/"
)

// The sign-in form's fields, as on the device.
const (
	FieldUsername = "username"
	FieldPassword = "password"
)

// Session timeouts of the portal.
const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultMaxLifetime = 8 * time.Hour
	// maxSessions bounds the sessions kept.
	maxSessions = 1024
	// maxForm bounds a form's body: request, confirmation and return
	// codes are the largest things typed into a page.
	maxForm = 64 << 10
)

// Options configure a Portal; zero fields take defaults.
type Options struct {
	Store        *ssm.Store
	Reservations *ssm.Reservations
	// Clock times sessions and the lockout, and stamps changes.
	Clock clock.Clock
	// Log receives sign-ins, sign-outs, failures and lockouts.
	Log         *slog.Logger
	IdleTimeout time.Duration
	MaxLifetime time.Duration
	Lockout     *websession.LockoutPolicy
}

// Portal serves the pages.
type Portal struct {
	store    *ssm.Store
	res      *ssm.Reservations
	clock    clock.Clock
	log      *slog.Logger
	sessions *websession.Sessions
	lockout  *websession.Lockout
	mux      *http.ServeMux
	// sleep waits before answering a failed sign-in.
	sleep func(time.Duration)
}

// New returns the portal.
func New(o Options) *Portal {
	c := o.Clock
	if c == nil {
		c = clock.Real{}
	}
	idle, life := o.IdleTimeout, o.MaxLifetime
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	if life <= 0 {
		life = DefaultMaxLifetime
	}
	pol := websession.DefaultLockout
	if o.Lockout != nil {
		pol = *o.Lockout
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Portal{
		store:    o.Store,
		res:      o.Reservations,
		clock:    c,
		log:      log,
		sessions: websession.New(c, func() time.Duration { return idle }, life, maxSessions),
		lockout:  websession.NewLockout(c, pol),
	}
	p.sleep = func(d time.Duration) { clock.Sleep(c, d) }
	p.routes()
	return p
}

// handler is a page or form of a signed-in user.
type handler func(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User)

func (p *Portal) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /portal/login", p.loginPage)
	m.HandleFunc("POST /portal/login", p.loginPost)
	m.HandleFunc("POST /portal/logout", p.logout)
	m.Handle("GET /portal/static/", websession.Static(staticFS, "static", "/portal/static/"))
	get := func(path string, h handler) { m.HandleFunc("GET "+path, p.signedIn(h)) }
	post := func(path string, h handler) { m.HandleFunc("POST "+path, p.signedIn(p.checked(h))) }
	get("/portal/{$}", p.accountsPage)
	post("/portal/accounts", p.createAccount)
	post("/portal/virtual-accounts", p.createVA)
	get("/portal/password", p.passwordPage)
	post("/portal/password", p.passwordPost)
	get("/portal/api-token", p.apiTokenPage)
	post("/portal/api-token", p.apiTokenPost)
	get("/portal/inventory/general", p.generalPage)
	post("/portal/inventory/tokens", p.createToken)
	post("/portal/inventory/tokens/revoke", p.revokeToken)
	get("/portal/inventory/licenses", p.licensesPage)
	post("/portal/inventory/licenses/transfer", p.transferLicenses)
	post("/portal/inventory/reservation/authorize", p.authorizeReservation)
	post("/portal/inventory/reservation/confirm", p.confirmReservation)
	get("/portal/inventory/instances", p.instancesPage)
	get("/portal/inventory/instances/remove", p.removeConfirmPage)
	post("/portal/inventory/instances/remove", p.removeInstance)
	post("/portal/inventory/instances/return", p.returnReservation)
	post("/portal/inventory/instances/transfer", p.transferInstance)
	get("/portal/inventory/events", p.eventsPage)
	get("/portal/users", p.usersPage)
	post("/portal/users", p.addUser)
	post("/portal/users/delete", p.deleteUser)
	post("/portal/users/reset", p.resetPassword)
	p.mux = m
}

// Routes lists the portal's routes (method and path) that need a
// signed-in user; tests walk them.
func Routes() []string {
	return []string{
		"GET /portal/", "POST /portal/accounts", "POST /portal/virtual-accounts",
		"GET /portal/password", "POST /portal/password", "GET /portal/api-token", "POST /portal/api-token",
		"GET /portal/inventory/general", "POST /portal/inventory/tokens", "POST /portal/inventory/tokens/revoke",
		"GET /portal/inventory/licenses", "POST /portal/inventory/licenses/transfer",
		"POST /portal/inventory/reservation/authorize", "POST /portal/inventory/reservation/confirm",
		"GET /portal/inventory/instances", "GET /portal/inventory/instances/remove", "POST /portal/inventory/instances/remove",
		"POST /portal/inventory/instances/return", "POST /portal/inventory/instances/transfer",
		"GET /portal/inventory/events",
		"GET /portal/users", "POST /portal/users", "POST /portal/users/delete", "POST /portal/users/reset",
	}
}

// ServeHTTP sets the security headers every answer carries and serves
// the pages.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	websession.Harden(w, r, "/portal/static/", maxForm)
	p.mux.ServeHTTP(w, r)
}

// session returns the request's live session and its user, read again
// from the database: a deleted user, or one whose password changed since
// sign-in (on any channel), is signed out.
func (p *Portal) session(r *http.Request) (*websession.Session, *ssm.User, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, nil, false
	}
	x, ok := p.sessions.Get(c.Value)
	if !ok {
		return nil, nil, false
	}
	u, err := p.store.User(r.Context(), x.User)
	if err != nil || u.Stamp != x.Stamp {
		p.sessions.Drop(x.ID)
		return nil, nil, false
	}
	return x, u, true
}

// signedIn serves h to signed-in users and sends others to sign in. A
// user with a one-time password only gets the password page until the
// password is changed.
func (p *Portal) signedIn(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		x, u, ok := p.session(r)
		if !ok {
			websession.SignedOut(w, r, "/portal/login")
			return
		}
		if u.MustChange && r.URL.Path != "/portal/password" {
			if r.Method == http.MethodPost {
				http.Error(w, "Forbidden: change the one-time password first (/portal/password); nothing was changed", http.StatusForbidden)
				return
			}
			http.Redirect(w, r, "/portal/password", http.StatusSeeOther)
			return
		}
		h(w, r, x, u)
	}
}

// checked refuses a state-changing request that is cross-site or lacks
// the session's CSRF token, with 403 and nothing changed.
func (p *Portal) checked(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "Bad request: the form could not be read", http.StatusBadRequest)
			return
		}
		if !websession.CheckPost(r, x.CSRF) {
			http.Error(w, "Forbidden: the form's security token is missing or wrong, or it came from another site; nothing was changed. Reload the page and try again.", http.StatusForbidden)
			return
		}
		h(w, r, x, u)
	}
}

// status is the HTTP status of a refusal.
func status(err error) int {
	switch {
	case errors.Is(err, ssm.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ssm.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ssm.ErrExists):
		return http.StatusConflict
	case errors.Is(err, ssm.ErrInvalid), errors.Is(err, ssm.ErrBadCredentials):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// vaPath is path with the virtual account va as its query.
func vaPath(path, va string) string {
	return path + "?va=" + url.QueryEscape(va)
}

func (p *Portal) flash(x *websession.Session, format string, args ...any) {
	p.sessions.AddFlash(x, websession.Flash{Text: fmt.Sprintf(format, args...)})
}
