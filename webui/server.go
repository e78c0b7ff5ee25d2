package webui

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"vxway/agentclient"
	"vxway/clock"
	"vxway/netconf"
	"vxway/platform"
	"vxway/websession"
)

// Licensing is what the pages need of the Smart Licensing agent: the
// calls the xAPI's License Smart handlers make. *agentclient.Client is
// the one used on the device.
type Licensing interface {
	Status(ctx context.Context) (agentclient.Status, error)
	Config(ctx context.Context) (agentclient.Config, error)
	SetConfig(ctx context.Context, leaf, value string) (agentclient.Config, error)
	Enable(ctx context.Context) error
	Register(ctx context.Context, token string, reregister bool) (agentclient.Status, error)
	Deregister(ctx context.Context) (string, error)
	RenewAuthorization(ctx context.Context) (agentclient.Status, error)
	RenewRegistration(ctx context.Context) (agentclient.Status, error)
	UpdateUsage(ctx context.Context) (agentclient.Status, error)
	SetReservationEnabled(ctx context.Context, on bool) error
	ReservationRequest(ctx context.Context) (agentclient.ReservationRequestResult, error)
	ReservationInstall(ctx context.Context, code string) (agentclient.ReservationInstallResult, error)
	ReservationReturn(ctx context.Context) (agentclient.ReservationReturnResult, error)
	ReservationReturnAuthorization(ctx context.Context, code string) (agentclient.ReservationReturnResult, error)
	ReservationCancel(ctx context.Context) error
}

// Options configure a Server; zero fields take the device's defaults.
type Options struct {
	// Root is the device root ("/" on the device).
	Root string
	// Clock times sessions and the lockout (nil: the real clock).
	Clock clock.Clock
	// Licensing is the agent's client.
	Licensing Licensing
	// Events receives one line per sign-in, sign-out, failed or locked
	// sign-in and password change (init's log). Nil discards them.
	Events io.Writer
	// IdleTimeout ends a session unused this long; zero takes the
	// device's setting (xconfiguration SystemUnit SessionTimeout,
	// DefaultIdleTimeout until set). MaxLifetime ends any session this
	// long after sign-in (DefaultMaxLifetime).
	IdleTimeout time.Duration
	MaxLifetime time.Duration
	// Lockout is the sign-in lockout (DefaultLockout).
	Lockout *LockoutPolicy
	// NetworkWait bounds how long a network change waits for the network
	// service to apply it (netconf.ApplyWait).
	NetworkWait time.Duration
	// Limits on connections; zero fields take DefaultLimits.
	Limits Limits
	// Upgrader installs upgrades for the Upgrade page (nil: the page
	// shows the software but refuses upgrades).
	Upgrader Upgrader
}

// Admins are the accounts that sign in to the web interface; root is for
// the console and SSH only, as on the product.
var Admins = []string{platform.UserAdmin}

// Server is the web administration interface.
type Server struct {
	root     string
	clock    clock.Clock
	lic      Licensing
	users    *platform.Users
	alarms   *platform.Alarms
	sessions *websession.Sessions
	lockout  *websession.Lockout
	netWait  time.Duration
	upgrader Upgrader
	upgrade  upgradeJob
	events   io.Writer
	eventsMu sync.Mutex
	mux      *http.ServeMux
	// sleep waits before answering a failed sign-in.
	sleep func(time.Duration)
	// Limits; the zero value means DefaultLimits.
	Limits Limits
	// FIPS restricts TLS to approved algorithms (FIPS 140 mode).
	FIPS bool
}

// New returns the web interface of the device under o.Root.
func New(o Options) *Server {
	c := o.Clock
	if c == nil {
		c = clock.Real{}
	}
	life := o.MaxLifetime
	idle := func() time.Duration { return o.IdleTimeout }
	if o.IdleTimeout <= 0 {
		idle = func() time.Duration {
			cfg, err := platform.LoadSystemConfig(o.Root)
			if err != nil {
				return DefaultIdleTimeout
			}
			return cfg.IdleTimeout()
		}
	}
	if life <= 0 {
		life = DefaultMaxLifetime
	}
	pol := DefaultLockout
	if o.Lockout != nil {
		pol = *o.Lockout
	}
	wait := o.NetworkWait
	if wait <= 0 {
		wait = netconf.ApplyWait
	}
	s := &Server{
		root:     o.Root,
		clock:    c,
		lic:      o.Licensing,
		users:    platform.NewUsers(o.Root, c),
		alarms:   platform.NewAlarms(o.Root, c),
		sessions: websession.New(c, idle, life, 0),
		lockout:  websession.NewLockout(c, pol),
		netWait:  wait,
		upgrader: o.Upgrader,
		events:   o.Events,
		Limits:   o.Limits,
	}
	s.sleep = func(d time.Duration) { clock.Sleep(c, d) }
	s.routes()
	return s
}

// maxForm bounds a form's body: a SLR authorization code with many
// entitlements is the largest thing typed into a page.
const maxForm = 256 << 10

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.home)
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.loginPost)
	m.HandleFunc("POST /logout", s.logout)
	m.Handle("GET /static/", websession.Static(staticFS, "static", "/static/"))
	page := func(path string, get, post func(http.ResponseWriter, *http.Request, *session)) {
		m.HandleFunc("GET "+path, s.signedIn(get))
		if post != nil {
			m.HandleFunc("POST "+path, s.signedIn(s.checked(post)))
		}
	}
	page("/status/overview", s.overview, nil)
	page("/status/alarms", s.alarmsPage, s.alarmsPost)
	page("/maintenance/smart-licensing", s.licensingPage, s.licensingPost)
	page("/maintenance/upgrade", s.upgradePage, s.upgradePost)
	page("/system/service-select", s.serviceSelectPage, s.serviceSelectPost)
	page("/system/network", s.networkPage, s.networkPost)
	page("/users/password", s.passwordPage, s.passwordPost)
	s.mux = m
}

// ServeHTTP sets the security headers every answer carries and serves
// the pages.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	websession.Harden(w, r, "/static/", maxForm)
	s.mux.ServeHTTP(w, r)
}

// home sends a signed-in browser to the overview and others to sign in.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.session(r); ok {
		http.Redirect(w, r, "/status/overview", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// session returns the request's live session. A session whose user's
// password changed since sign-in (on any channel) is ended.
func (s *Server) session(r *http.Request) (*session, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, false
	}
	x, ok := s.sessions.Get(c.Value)
	if !ok {
		return nil, false
	}
	stamp, err := s.users.PasswordStamp(x.User)
	if err != nil || stamp != x.Stamp {
		s.sessions.Drop(x.ID)
		return nil, false
	}
	return x, true
}

// signedIn serves h to signed-in browsers and sends others to /login.
func (s *Server) signedIn(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		x, ok := s.session(r)
		if !ok {
			websession.SignedOut(w, r, "/login")
			return
		}
		h(w, r, x)
	}
}

// checked refuses a state-changing request that is cross-site or lacks
// the session's CSRF token, with 403 and nothing changed.
func (s *Server) checked(h func(http.ResponseWriter, *http.Request, *session)) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, x *session) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "Bad request: the form could not be read", http.StatusBadRequest)
			return
		}
		if !websession.CheckPost(r, x.CSRF) {
			http.Error(w, "Forbidden: the form's security token is missing or wrong, or it came from another site; nothing was changed. Reload the page and try again.", http.StatusForbidden)
			return
		}
		h(w, r, x)
	}
}

// event writes one line to the event log.
func (s *Server) event(format string, args ...any) {
	if s.events == nil {
		return
	}
	s.eventsMu.Lock()
	defer s.eventsMu.Unlock()
	fmt.Fprintf(s.events, "https: %s "+format+"\n", append([]any{s.clock.Now().UTC().Format(time.RFC3339)}, args...)...)
}
