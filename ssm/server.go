package ssm

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"vxway/clock"
	"vxway/licproto"
)

// Modes of the agent endpoint.
const (
	ModeOnPrem = "onprem"
	ModeCloud  = "cloud"
)

// AgentPath returns the agent endpoint path for mode; cloudPath overrides
// the cloud default (licproto.DirectPath).
func AgentPath(mode, cloudPath string) (string, error) {
	switch mode {
	case ModeOnPrem:
		return licproto.OnPremPath, nil
	case ModeCloud:
		if cloudPath == "" {
			return licproto.DirectPath, nil
		}
		if !strings.HasPrefix(cloudPath, "/") || strings.HasPrefix(cloudPath, "/api/") || strings.ContainsAny(cloudPath, " ?#") {
			return "", fmt.Errorf("%w: cloud path %q must start with / and not be under /api/", ErrInvalid, cloudPath)
		}
		return cloudPath, nil
	}
	return "", fmt.Errorf("%w: mode %q is not onprem or cloud", ErrInvalid, mode)
}

// Handler serves the agent endpoint at agentPath and the admin API under
// /api/v1/.
func Handler(m *Manager, a *Admin, agentPath string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(agentPath, m.serveAgent)
	mux.Handle("/api/v1/", a)
	return mux
}

func (m *Manager) serveAgent(w http.ResponseWriter, r *http.Request) {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && !m.limit.allow(ap.Addr()) {
		m.logs.info("limited", "request refused: too many from this address", "from", sourceKey(ap.Addr()))
		w.Header().Set("Retry-After", "10")
		http.Error(w, "too many requests from this address; try again later", http.StatusTooManyRequests)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "the Smart Transport endpoint takes POST requests with a JSON body", http.StatusMethodNotAllowed)
		return
	}
	// Read one byte past the limit so that ParseRequest sees the excess.
	body, err := io.ReadAll(io.LimitReader(r.Body, licproto.MaxBody+1))
	if err != nil {
		http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	out, status := m.Handle(r.Context(), body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(out)
}

// ServeOptions configure Serve.
type ServeOptions struct {
	Dir       string // data directory (CA, keys, admin token, SQLite file)
	DB        string // postgres:// URL; empty means the SQLite file in Dir
	Listen    string // host:port
	Mode      string // onprem or cloud
	CloudPath string // cloud endpoint path; empty means licproto.DirectPath
	// Store, when set, is used instead of opening DB (and not closed).
	Store *Store
	Clock clock.Clock
	Log   *slog.Logger
	// RateLimit is how many agent requests and TLS handshakes one source
	// address may make per second (bursts of ten times as many): zero
	// means DefaultRateLimit, a negative value no limit.
	RateLimit float64
	// Ready, when set, is called with the listening address once the
	// server accepts connections.
	Ready func(addr net.Addr, agentPath string)
	// Portal, when set, makes the web portal served under /portal/
	// (package ssm/portal, which imports this one).
	Portal func(PortalDeps) http.Handler
}

// PortalDeps is what the web portal is made of: the store, the
// reservation desk, the clock and the log of the server.
type PortalDeps struct {
	Store        *Store
	Reservations *Reservations
	Clock        clock.Clock
	Log          *slog.Logger
}

// DBPath returns the database to use: db when given, else the SQLite file
// in dir.
func DBPath(dir, db string) string {
	if db != "" {
		return db
	}
	return dir + "/" + DBFile
}

// errTooManyHandshakes refuses a TLS handshake from a source over its
// rate.
var errTooManyHandshakes = errors.New("too many TLS handshakes from this address")

// Serve runs the manager until ctx is done.
func Serve(ctx context.Context, o ServeOptions) error {
	path, err := AgentPath(o.Mode, o.CloudPath)
	if err != nil {
		return err
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if _, err := os.Stat(filepath.Join(o.Dir, CACertFile)); err == nil {
		reissued, err := EnsureSigner(o.Dir, o.Clock.Now())
		if err != nil {
			return err
		}
		if reissued {
			o.Log.Warn("reissued the answer signing certificate: the one in the data directory lacked the answer signing policy devices require, did not match its key, or had expired", "file", filepath.Join(o.Dir, SignerCertFile))
		}
	}
	pki, err := LoadPKI(o.Dir)
	if err != nil {
		return err
	}
	store := o.Store
	if store == nil {
		if store, err = OpenStore(ctx, DBPath(o.Dir, o.DB)); err != nil {
			return err
		}
		defer store.Close()
	}
	m, err := NewManager(store, pki, o.Clock, o.Log)
	if err != nil {
		return err
	}
	rs, err := NewReservations(store, pki)
	if err != nil {
		return err
	}
	rate := o.RateLimit
	if rate == 0 {
		rate = DefaultRateLimit
	}
	m.limit = newLimiter(rate, 10*rate, o.Clock)
	a := NewAdmin(store, rs, pki.AdminToken, o.Clock)
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.Listen, err)
	}
	handler := Handler(m, a, path)
	if o.Portal != nil {
		mux := http.NewServeMux()
		mux.Handle("/", handler)
		mux.Handle("/portal/", o.Portal(PortalDeps{Store: store, Reservations: rs, Clock: o.Clock, Log: o.Log}))
		mux.Handle("GET /{$}", http.RedirectHandler("/portal/", http.StatusSeeOther))
		handler = mux
	}
	srv := &http.Server{
		Handler: handler,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pki.Server}, MinVersion: tls.VersionTLS12,
			// A handshake costs the server a signature: refuse it, before
			// that, to a source over its rate.
			GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
				if !m.limit.allow(remoteAddr(hello.Conn.RemoteAddr())) {
					return nil, errTooManyHandshakes
				}
				return nil, nil
			}},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          log.New(m.logs, "", 0),
	}
	if o.Ready != nil {
		o.Ready(ln.Addr(), path)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// Admin is the JSON admin API under /api/v1/, guarded by a bearer token.
type Admin struct {
	store *Store
	res   *Reservations
	token string
	clock clock.Clock
	mux   *http.ServeMux
}

// NewAdmin returns the admin API over store and the reservation desk rs;
// token is the bearer token requests must carry.
func NewAdmin(store *Store, rs *Reservations, token string, clk clock.Clock) *Admin {
	if clk == nil {
		clk = clock.Real{}
	}
	a := &Admin{store: store, res: rs, token: token, clock: clk, mux: http.NewServeMux()}
	a.mux.HandleFunc("GET /api/v1/accounts", a.listAccounts)
	a.mux.HandleFunc("POST /api/v1/accounts", a.createAccount)
	a.mux.HandleFunc("POST /api/v1/virtual-accounts", a.createVA)
	a.mux.HandleFunc("GET /api/v1/licenses", a.listLicenses)
	a.mux.HandleFunc("POST /api/v1/licenses", a.addLicenses)
	a.mux.HandleFunc("POST /api/v1/licenses/transfer", a.transferLicenses)
	a.mux.HandleFunc("GET /api/v1/tokens", a.listTokens)
	a.mux.HandleFunc("POST /api/v1/tokens", a.createToken)
	a.mux.HandleFunc("POST /api/v1/tokens/revoke", a.revokeToken)
	a.mux.HandleFunc("GET /api/v1/instances", a.listInstances)
	a.mux.HandleFunc("GET /api/v1/instance", a.showInstance)
	a.mux.HandleFunc("DELETE /api/v1/instance", a.removeInstance)
	a.mux.HandleFunc("POST /api/v1/instance/transfer", a.transferInstance)
	a.mux.HandleFunc("GET /api/v1/events", a.listEvents)
	a.mux.HandleFunc("GET /api/v1/stats", a.stats)
	a.mux.HandleFunc("GET /api/v1/reservations", a.listReservations)
	a.mux.HandleFunc("POST /api/v1/reservations/authorize", a.authorizeReservation)
	a.mux.HandleFunc("POST /api/v1/reservations/confirm", a.confirmReservation)
	a.mux.HandleFunc("POST /api/v1/reservations/return", a.returnReservation)
	return a
}

// ServeHTTP authenticates the request, by the global admin token (a
// manager administrator) or a portal user's API token (scoped like the
// user's role), and serves it.
func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	var u *User
	switch {
	case !ok:
	case subtle.ConstantTimeCompare([]byte(got), []byte(a.token)) == 1:
		u = AdminTokenUser
	default:
		if uu, err := a.store.UserByToken(r.Context(), got); err == nil {
			u = uu
		} else if !errors.Is(err, ErrBadCredentials) {
			writeErr(w, err)
			return
		}
	}
	if u == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ssm admin"`)
		writeJSONError(w, http.StatusUnauthorized, "missing or wrong bearer token: give the data directory's admin.token, or a user's API token (ssm user token)")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	a.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, u)))
}

type principalKey struct{}

// principal is the user a request of the admin API acts as.
func principal(r *http.Request) *User {
	return r.Context().Value(principalKey{}).(*User)
}

// scoped reports whether err (a scope check) lets the request go on,
// answering the refusal when not.
func scoped(w http.ResponseWriter, err error) bool {
	if err != nil {
		writeErr(w, err)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// writeErr maps store errors to HTTP statuses.
func writeErr(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrExists):
		status = http.StatusConflict
	case errors.Is(err, ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, ErrForbidden):
		status = http.StatusForbidden
	case errors.Is(err, ErrBadCredentials):
		status = http.StatusUnauthorized
	}
	writeJSONError(w, status, err.Error())
}

// decodeBody reads the request body as exactly one JSON object into v; on
// a bad body it answers 400 and reports false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decodeJSONObject(r.Body, v); err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return false
	}
	return true
}

func needQuery(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		writeJSONError(w, http.StatusBadRequest, "query parameter "+name+" is required")
		return "", false
	}
	return v, true
}

func (a *Admin) listAccounts(w http.ResponseWriter, r *http.Request) {
	list, err := a.store.VisibleAccounts(r.Context(), principal(r))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"accounts": list})
}

func (a *Admin) createAccount(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if !decodeBody(w, r, &in) || !scoped(w, RequireManagerAdmin(principal(r), "create smart accounts")) {
		return
	}
	if err := a.store.CreateAccount(r.Context(), in.Name, a.clock.Now()); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 201, in)
}

func (a *Admin) createVA(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Account string `json:"account"`
		Name    string `json:"name"`
	}
	if !decodeBody(w, r, &in) || !scoped(w, RequireAccountAdmin(principal(r), "create virtual accounts")) ||
		!scoped(w, a.store.ScopeAccount(r.Context(), principal(r), in.Account)) {
		return
	}
	if err := a.store.CreateVA(r.Context(), in.Account, in.Name, a.clock.Now()); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 201, in)
}

func (a *Admin) listLicenses(w http.ResponseWriter, r *http.Request) {
	va, ok := needQuery(w, r, "va")
	if !ok || !scoped(w, a.store.ScopeVA(r.Context(), principal(r), va)) {
		return
	}
	list, err := a.store.Licenses(r.Context(), va)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"virtual_account": va, "licenses": list})
}

func (a *Admin) addLicenses(w http.ResponseWriter, r *http.Request) {
	var in struct {
		VA    string `json:"va"`
		Type  string `json:"type"`
		Count int    `json:"count"`
	}
	if !decodeBody(w, r, &in) || !scoped(w, RequireManagerAdmin(principal(r), "add purchased licenses")) ||
		!scoped(w, a.store.ScopeVA(r.Context(), principal(r), in.VA)) {
		return
	}
	if err := a.store.AddLicenses(r.Context(), in.VA, licproto.LicenseType(in.Type), in.Count); err != nil {
		writeErr(w, err)
		return
	}
	list, err := a.store.Licenses(r.Context(), in.VA)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"virtual_account": in.VA, "licenses": list})
}

func (a *Admin) listTokens(w http.ResponseWriter, r *http.Request) {
	va, ok := needQuery(w, r, "va")
	if !ok || !scoped(w, a.store.ScopeVA(r.Context(), principal(r), va)) {
		return
	}
	list, err := a.store.Tokens(r.Context(), va)
	if err != nil {
		writeErr(w, err)
		return
	}
	type row struct {
		TokenInfo
		Status string `json:"status"`
	}
	out := []row{}
	now := a.clock.Now()
	for _, t := range list {
		out = append(out, row{t, t.Status(now)})
	}
	writeJSON(w, 200, map[string]any{"tokens": out})
}

func (a *Admin) createToken(w http.ResponseWriter, r *http.Request) {
	in := struct {
		VA               string `json:"va"`
		ExpiresDays      int    `json:"expires_days"`
		Uses             int    `json:"uses"`
		ExportControlled *bool  `json:"export_controlled"`
		Description      string `json:"description"`
	}{}
	if !decodeBody(w, r, &in) || !scoped(w, a.store.ScopeVA(r.Context(), principal(r), in.VA)) {
		return
	}
	// Left out means not allowed: export-controlled functionality is
	// granted only when asked for.
	exp := in.ExportControlled != nil && *in.ExportControlled
	tok, info, err := a.store.CreateToken(r.Context(), in.VA, TokenOptions{ExpiresDays: in.ExpiresDays, MaxUses: in.Uses, ExportControlled: exp, Description: in.Description}, a.clock.Now())
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 201, map[string]any{"token": tok, "info": info})
}

func (a *Admin) revokeToken(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token string `json:"token"`
	}
	if !decodeBody(w, r, &in) || !scoped(w, a.store.ScopeToken(r.Context(), principal(r), in.Token)) {
		return
	}
	info, err := a.store.RevokeToken(r.Context(), in.Token, a.clock.Now())
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, info)
}

func (a *Admin) listInstances(w http.ResponseWriter, r *http.Request) {
	list, err := a.instances(r, r.URL.Query().Get("va"))
	if err != nil {
		writeErr(w, err)
		return
	}
	if list == nil {
		list = []Instance{}
	}
	writeJSON(w, 200, map[string]any{"instances": list})
}

func (a *Admin) showInstance(w http.ResponseWriter, r *http.Request) {
	udi, ok := needQuery(w, r, "udi")
	if !ok {
		return
	}
	if _, err := a.store.ScopeInstance(r.Context(), principal(r), udi); !scoped(w, err) {
		return
	}
	in, err := a.store.Instance(r.Context(), udi)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, in)
}

func (a *Admin) removeInstance(w http.ResponseWriter, r *http.Request) {
	udi, ok := needQuery(w, r, "udi")
	if !ok {
		return
	}
	if _, err := a.store.ScopeInstance(r.Context(), principal(r), udi); !scoped(w, err) {
		return
	}
	if err := a.store.RemoveInstance(r.Context(), udi, a.clock.Now()); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]string{"removed": udi})
}

func (a *Admin) transferInstance(w http.ResponseWriter, r *http.Request) {
	var in struct {
		UDI string `json:"udi"`
		VA  string `json:"va"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	if _, err := a.store.ScopeInstance(r.Context(), principal(r), in.UDI); !scoped(w, err) || !scoped(w, a.store.ScopeVA(r.Context(), principal(r), in.VA)) {
		return
	}
	if err := a.store.TransferInstance(r.Context(), in.UDI, in.VA, a.clock.Now()); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, in)
}

func (a *Admin) listEvents(w http.ResponseWriter, r *http.Request) {
	va, ok := needQuery(w, r, "va")
	if !ok || !scoped(w, a.store.ScopeVA(r.Context(), principal(r), va)) {
		return
	}
	list, err := a.store.Events(r.Context(), va, 0)
	if err != nil {
		writeErr(w, err)
		return
	}
	if list == nil {
		list = []Event{}
	}
	writeJSON(w, 200, map[string]any{"events": list})
}

func (a *Admin) listReservations(w http.ResponseWriter, r *http.Request) {
	va, ok := needQuery(w, r, "va")
	if !ok || !scoped(w, a.store.ScopeVA(r.Context(), principal(r), va)) {
		return
	}
	list, err := a.res.List(r.Context(), va)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"reservations": list})
}

func (a *Admin) authorizeReservation(w http.ResponseWriter, r *http.Request) {
	var in struct {
		VA            string `json:"va"`
		Request       string `json:"request"`
		PLR           bool   `json:"plr"`
		ExportControl bool   `json:"export_control"`
		Licenses      string `json:"licenses"` // TYPE=N[,TYPE=N...]
		End           string `json:"end"`      // YYYY-MM-DD
	}
	if !decodeBody(w, r, &in) || !scoped(w, a.store.ScopeVA(r.Context(), principal(r), in.VA)) {
		return
	}
	o, err := ParseReserveOptions(in.PLR, in.ExportControl, in.Licenses, in.End)
	if err != nil {
		writeErr(w, err)
		return
	}
	code, info, err := a.res.Authorize(r.Context(), in.VA, in.Request, o, a.clock.Now())
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 201, map[string]any{"code": code, "reservation": info})
}

func (a *Admin) confirmReservation(w http.ResponseWriter, r *http.Request) {
	var in struct {
		VA   string `json:"va"`
		Code string `json:"code"`
	}
	if !decodeBody(w, r, &in) || !scoped(w, a.store.ScopeVA(r.Context(), principal(r), in.VA)) {
		return
	}
	info, err := a.res.Confirm(r.Context(), in.VA, in.Code, a.clock.Now())
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, info)
}

func (a *Admin) returnReservation(w http.ResponseWriter, r *http.Request) {
	var in struct {
		VA   string `json:"va"`
		Code string `json:"code"`
	}
	if !decodeBody(w, r, &in) || !scoped(w, a.store.ScopeVA(r.Context(), principal(r), in.VA)) {
		return
	}
	info, err := a.res.Return(r.Context(), in.VA, in.Code, a.clock.Now())
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, info)
}

func (a *Admin) stats(w http.ResponseWriter, r *http.Request) {
	if !scoped(w, RequireManagerAdmin(principal(r), "read the manager's statistics")) {
		return
	}
	writeJSON(w, 200, map[string]any{"database": a.store.Dialect(), "writer": a.store.BatchStats()})
}

// instances lists the instances of va, or of every virtual account the
// request's user may see when va is empty.
func (a *Admin) instances(r *http.Request, va string) ([]Instance, error) {
	u := principal(r)
	if va != "" {
		if err := a.store.ScopeVA(r.Context(), u, va); err != nil {
			return nil, err
		}
		return a.store.Instances(r.Context(), va)
	}
	if u.IsManagerAdmin() {
		return a.store.Instances(r.Context(), "")
	}
	vas, err := a.store.VisibleVAs(r.Context(), u)
	if err != nil {
		return nil, err
	}
	var out []Instance
	for _, v := range vas {
		list, err := a.store.Instances(r.Context(), v)
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}

func (a *Admin) transferLicenses(w http.ResponseWriter, r *http.Request) {
	var in struct {
		From  string `json:"from"`
		To    string `json:"to"`
		Type  string `json:"type"`
		Count int    `json:"count"`
	}
	if !decodeBody(w, r, &in) || !scoped(w, a.store.ScopeVA(r.Context(), principal(r), in.From)) ||
		!scoped(w, a.store.ScopeVA(r.Context(), principal(r), in.To)) {
		return
	}
	if err := a.store.TransferLicenses(r.Context(), in.From, in.To, licproto.LicenseType(in.Type), in.Count, a.clock.Now()); err != nil {
		writeErr(w, err)
		return
	}
	list, err := a.store.Licenses(r.Context(), in.From)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"virtual_account": in.From, "licenses": list})
}
