package agent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"vxway/clock"
	"vxway/platform"
)

// The licensing periods of SPEC §2.
const (
	EvaluationPeriod   = 90 * 24 * time.Hour
	AuthRenewEvery     = 30 * 24 * time.Hour
	AuthValidFor       = 90 * 24 * time.Hour
	RetryEvery         = 15 * time.Minute
	UsageReportEvery   = 6 * time.Hour
	expiringSoon       = 30 * 24 * time.Hour
	anchorRefreshEvery = 24 * time.Hour
	anchorWriteStep    = 6 * time.Hour
	newTypeDelay       = time.Minute
	defaultTimeout     = 30 * time.Second
)

// regRenewAfter is when a registration is renewed: six calendar months.
func regRenewAfter(t time.Time) time.Time { return t.AddDate(0, 6, 0) }

// Options configure an Agent.
type Options struct {
	// Root is the device root directory ("/" on the device).
	Root string
	// Clock is the time source; clock.Real{} when nil.
	Clock clock.Clock
	// Dial makes the Manager for a configuration; the HTTPS transport when
	// nil.
	Dial Dialer
	// Logf logs one line; nothing is logged when nil. Tokens and passwords
	// are never passed to it.
	Logf func(format string, args ...any)
	// Timeout bounds one exchange with the manager (30 s when zero).
	Timeout time.Duration
	// RetryEvery is the wait after a failed exchange (RetryEvery, 15
	// minutes, when zero); integration tests on real time shorten it.
	RetryEvery time.Duration
	// Hostname and IP report what the device would share with the manager;
	// when nil they come from /data/config/system.json and the interfaces.
	Hostname func() string
	IP       func() string
}

// Agent is the licensing state machine. All methods are safe for
// concurrent use.
type Agent struct {
	root       string
	clk        clock.Clock
	dial       Dialer
	logf       func(string, ...any)
	timeout    time.Duration
	retryEvery time.Duration
	host       func() string
	ip         func() string

	// op serializes exchanges with the manager (held during I/O).
	op sync.Mutex

	// mu guards everything below.
	mu          sync.Mutex
	st          *State
	cfg         Config
	anchor      Anchor
	hasAnchor   bool
	anchorSaved time.Time
	key         *ecdsa.PrivateKey
	alarms      *alarms
	saved       []byte
	timer       clock.Timer
	closed      bool
	// In-memory schedule: retries and the usage tick restart with the
	// process, which is what a restarted agent should do anyway.
	authRetry, renewRetry, pendingRetry time.Time
	usageTick                           time.Time
	newTypeAt                           time.Time
	export                              exportControl
	// resv is the installed reservation as judged at start (or at the
	// last install): hard enforcement keeps it until the next start.
	resv judged
}

// New loads the agent's state from opts.Root. It does not start timers;
// call Start.
func New(opts Options) (*Agent, error) {
	a := &Agent{
		root:    opts.Root,
		clk:     opts.Clock,
		dial:    opts.Dial,
		logf:    opts.Logf,
		timeout: opts.Timeout,
		host:    opts.Hostname,
		ip:      opts.IP,
	}
	if a.clk == nil {
		a.clk = clock.Real{}
	}
	if a.logf == nil {
		a.logf = func(string, ...any) {}
	}
	if a.timeout == 0 {
		a.timeout = defaultTimeout
	}
	a.retryEvery = opts.RetryEvery
	if a.retryEvery <= 0 {
		a.retryEvery = RetryEvery
	}
	if a.host == nil {
		a.host = func() string { return systemHostname(a.root) }
	}
	if a.ip == nil {
		a.ip = firstIPv4
	}
	if a.dial == nil {
		a.dial = func(cfg Config) (Manager, error) { return NewHTTPSManager(a.root, cfg, a.timeout, a.clk) }
	}
	st, err := LoadState(a.root)
	if errors.Is(err, ErrCorrupt) {
		// Atomic writes make this a disk fault; keep the evidence and
		// start unregistered (the anchor on persist keeps evaluation).
		a.setAside(stateFile, err)
		st, err = &State{Version: stateVersion}, nil
	}
	if err != nil {
		return nil, err
	}
	a.st = st
	a.saved, _ = marshalState(st)
	a.cfg, err = loadConfig(a.root)
	if errors.Is(err, ErrCorrupt) {
		a.setAside(configFile, err)
		a.cfg, err = DefaultConfig(), nil
	}
	if err != nil {
		return nil, err
	}
	a.anchor, a.hasAnchor, err = loadAnchor(a.root)
	if errors.Is(err, ErrCorrupt) {
		// A damaged anchor must not buy a new evaluation: it counts as
		// spent.
		a.setAside(anchorFile, err)
		now := a.clk.Now()
		a.anchor, a.hasAnchor, err = Anchor{Start: now.Add(-EvaluationPeriod), Latest: now}, true, nil
		if err := saveAnchor(a.root, a.anchor); err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	a.anchorSaved = a.anchor.Latest
	if st.Enabled {
		if a.key, err = loadOrMakeKey(a.root); err != nil {
			return nil, err
		}
		if !a.hasAnchor {
			// persist lost its anchor (a new disk): evaluation starts now,
			// which is the only start this device can prove.
			now := a.clk.Now()
			a.anchor, a.hasAnchor = Anchor{Start: now, Latest: now}, true
			if err := saveAnchor(a.root, a.anchor); err != nil {
				return nil, err
			}
		}
	}
	a.alarms = loadAlarms(a.root, a.clk)
	a.export = newExportControl()
	a.judgeAtStart()
	return a, nil
}

// Start runs the first pass of the state machine (renewals and retries
// that are due) and arms the timer for the next deadline.
func (a *Agent) Start() {
	a.mu.Lock()
	a.usageTick = a.clk.Now().Add(UsageReportEvery)
	a.mu.Unlock()
	a.wake()
}

// Close stops the timer; an exchange in progress finishes.
func (a *Agent) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	if a.timer != nil {
		a.timer.Stop()
	}
}

// nowLocked is the device's time, never earlier than the latest time the
// anchor has seen: a clock moved back does not move licensing back.
func (a *Agent) nowLocked() time.Time {
	now := a.clk.Now()
	if a.hasAnchor && now.Before(a.anchor.Latest) {
		return a.anchor.Latest
	}
	return now
}

// touchAnchorLocked records now as the latest time seen, writing persist
// at most once an hour of device time.
func (a *Agent) touchAnchorLocked(now time.Time) {
	if !a.hasAnchor || !now.After(a.anchor.Latest) {
		return
	}
	a.anchor.Latest = now
	if now.Sub(a.anchorSaved) >= anchorWriteStep {
		if err := saveAnchor(a.root, a.anchor); err != nil {
			a.logf("licensing: %v", err)
			return
		}
		a.anchorSaved = now
	}
}

// Enable turns Smart Licensing on. It cannot be undone (only a factory
// reset does); the first enable records the evaluation start on persist
// and makes the device identity key.
func (a *Agent) Enable() error {
	a.mu.Lock()
	if a.st.Enabled {
		a.mu.Unlock()
		return nil
	}
	now := a.nowLocked()
	key, err := loadOrMakeKey(a.root)
	if err != nil {
		a.mu.Unlock()
		return err
	}
	a.key = key
	if !a.hasAnchor {
		a.anchor, a.hasAnchor = Anchor{Start: now, Latest: now}, true
		if err := saveAnchor(a.root, a.anchor); err != nil {
			a.mu.Unlock()
			return err
		}
		a.anchorSaved = now
	}
	a.st.Enabled = true
	err = a.saveLocked()
	a.mu.Unlock()
	a.logf("licensing: smart licensing enabled; evaluation started %s", a.anchor.Start.UTC().Format(time.RFC3339))
	a.wake()
	return err
}

// saveLocked writes the state when it changed since the last write.
func (a *Agent) saveLocked() error {
	b, err := marshalState(a.st)
	if err != nil {
		return fmt.Errorf("encoding licensing state: %w", err)
	}
	if bytes.Equal(b, a.saved) {
		return nil
	}
	if err := writeFile(a.root, stateFile, b); err != nil {
		return err
	}
	a.saved = b
	return nil
}

// evalExpiresLocked is when evaluation ends (zero when never enabled).
func (a *Agent) evalExpiresLocked() time.Time {
	if !a.hasAnchor {
		return time.Time{}
	}
	return a.anchor.Start.Add(EvaluationPeriod)
}

func (a *Agent) evalActiveLocked(now time.Time) bool {
	return a.hasAnchor && now.Before(a.evalExpiresLocked())
}

// unauthorizedLocked reports whether new endpoint registrations are
// refused: enabled, not registered, evaluation over.
func (a *Agent) unauthorizedLocked(now time.Time) bool {
	return a.st.Enabled && a.st.Registration == nil && !a.reservedLocked() && !a.evalActiveLocked(now)
}

// authBase is the manager time the current authorization counts from.
func authBase(r *Registration) time.Time {
	if r.Auth != nil {
		return r.Auth.At
	}
	return r.RegisteredAt.Add(r.Skew)
}

// local converts a manager time to local time with the measured skew.
func local(r *Registration, mgr time.Time) time.Time { return mgr.Add(-r.Skew) }

func authExpired(r *Registration, now time.Time) bool {
	return !now.Add(r.Skew).Before(authBase(r).Add(AuthValidFor))
}

// wake is the state machine's single step: it runs whatever is due,
// recomputes alarms, saves, and arms the timer for the next deadline.
// Timers call it; so do the operations after they change state.
func (a *Agent) wake() {
	a.op.Lock()
	defer a.op.Unlock()
	a.step()
}

// step does the work of wake; the caller holds op.
func (a *Agent) step() {
	for range 4 { // an exchange may make another due (register -> authorize)
		job := a.dueJob()
		if job == nil {
			break
		}
		job()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if now, ok := a.settleLocked(); ok {
		a.armLocked(now)
	}
}

// settleLocked saves the state and sets the alarms it calls for; ok is
// false once the agent is closed.
func (a *Agent) settleLocked() (now time.Time, ok bool) {
	if a.closed {
		return time.Time{}, false
	}
	now = a.nowLocked()
	a.touchAnchorLocked(now)
	a.expireLocked(now)
	if err := a.saveLocked(); err != nil {
		a.logf("licensing: %v", err)
	}
	if err := a.alarms.set(licensingAlarms(), a.conditionsLocked(now), now); err != nil {
		a.logf("licensing: %v", err)
	}
	return now, true
}

// expireLocked ends a registration whose certificate ran out.
func (a *Agent) expireLocked(now time.Time) {
	r := a.st.Registration
	if r == nil || now.Add(r.Skew).Before(r.CertNotAfter) {
		return
	}
	a.logf("licensing: registration expired at %s (manager time): the identity certificate was not renewed", r.CertNotAfter.UTC().Format(time.RFC3339))
	a.st.Registration = nil
	a.st.RegistrationExpired = true
	a.authRetry, a.renewRetry = time.Time{}, time.Time{}
}

// dueJob picks the next exchange that is due, or nil.
func (a *Agent) dueJob() func() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || !a.st.Enabled {
		return nil
	}
	now := a.nowLocked()
	a.expireLocked(now)
	if p := a.st.Pending; p != nil && !now.Before(a.pendingRetry) {
		tok, rereg := p.Token, p.Reregister
		return func() { _ = a.register(tok, rereg, true) }
	}
	r := a.st.Registration
	if r == nil {
		return nil
	}
	if !now.Before(a.renewDueLocked(now)) {
		return func() { _ = a.renewRegistration() }
	}
	if !now.Before(a.authDueLocked(now)) {
		return func() { _ = a.authorize() }
	}
	return nil
}

// renewDueLocked is when the registration is next renewed (or retried).
func (a *Agent) renewDueLocked(now time.Time) time.Time {
	r := a.st.Registration
	if r.RenewFailure != nil {
		return a.renewRetry
	}
	// A new hostname (or the privacy flag turned on) is pushed to the
	// manager by renewing the registration.
	if host, _ := a.sharedLocked(); host != r.SentHostname {
		return now
	}
	return regRenewAfter(r.RenewedAt)
}

// authDueLocked is when the next authorization request goes out: a
// retry, the 30-day renewal, the 6-hour usage report when usage changed,
// or shortly after a license type first comes into use.
func (a *Agent) authDueLocked(now time.Time) time.Time {
	r := a.st.Registration
	if r.AuthFailure != nil {
		return a.authRetry
	}
	if r.Auth == nil {
		return now
	}
	due := r.Auth.AtLocal.Add(AuthRenewEvery)
	if !a.usageTick.IsZero() && !usageEqual(a.st.Usage, r.Auth.Reported) && a.usageTick.Before(due) {
		due = a.usageTick
	}
	if !a.newTypeAt.IsZero() && a.newTypeAt.Before(due) {
		due = a.newTypeAt
	}
	return due
}

// armLocked sets the timer for the next deadline of any kind.
func (a *Agent) armLocked(now time.Time) {
	if a.timer != nil {
		a.timer.Stop()
	}
	if !a.st.Enabled {
		return
	}
	next := now.Add(anchorRefreshEvery)
	consider := func(t time.Time) {
		if !t.IsZero() && t.After(now) && t.Before(next) {
			next = t
		}
	}
	if a.evalActiveLocked(now) {
		consider(a.evalExpiresLocked())
	}
	if a.st.Pending != nil {
		consider(a.pendingRetry)
	}
	for !a.usageTick.IsZero() && !a.usageTick.After(now) {
		a.usageTick = a.usageTick.Add(UsageReportEvery)
	}
	if r := a.st.Registration; r != nil {
		consider(a.renewDueLocked(now))
		consider(a.authDueLocked(now))
		base := authBase(r)
		consider(local(r, base.Add(AuthValidFor-expiringSoon)))
		consider(local(r, base.Add(AuthValidFor)))
		consider(local(r, r.CertNotAfter.Add(-expiringSoon)))
		consider(local(r, r.CertNotAfter))
		consider(a.usageTick)
	}
	d := next.Sub(a.clk.Now())
	if d < 0 {
		d = 0
	}
	a.timer = a.clk.AfterFunc(d, a.wake)
}

// conditionsLocked is the set of alarms the state calls for, each with
// its detail.
func (a *Agent) conditionsLocked(now time.Time) map[int]string {
	on := map[int]string{}
	if !a.st.Enabled {
		return on
	}
	day := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }
	r := a.st.Registration
	if r == nil && a.reservedLocked() {
		a.reservationConditionsLocked(on)
		return on
	}
	if r == nil {
		if a.evalActiveLocked(now) {
			on[AlarmEvaluation] = "evaluation ends " + day(a.evalExpiresLocked())
		} else {
			on[AlarmEvaluationExpired] = "evaluation ended " + day(a.evalExpiresLocked()) + "; new endpoint registrations are refused until the device is registered"
		}
		if a.st.RegistrationExpired {
			on[AlarmRegExpired] = "register the device again with a new token"
		}
		if p := a.st.Pending; p != nil {
			on[AlarmCommError] = "registration: " + p.Reason
		}
		return on
	}
	mgrNow := now.Add(r.Skew)
	expires := authBase(r).Add(AuthValidFor)
	if authExpired(r, now) {
		on[AlarmAuthExpired] = "no contact with the manager since " + day(authBase(r))
		if totalUsage(a.st.Usage) > 0 {
			on[AlarmAuthExpiredInUse] = "licenses are in use without authorization"
		}
	} else {
		if !mgrNow.Before(expires.Add(-expiringSoon)) {
			on[AlarmAuthExpiringSoon] = "authorization expires " + day(expires)
		}
		if r.Auth != nil {
			var types []string
			for _, t := range licenseTypes() {
				if r.Auth.Results[t] == ResultOutOfCompliance {
					types = append(types, typeName(t))
				}
			}
			if len(types) > 0 {
				on[AlarmOutOfCompliance] = "not enough licenses: " + strings.Join(types, ", ")
			}
		}
	}
	if f := r.AuthFailure; f != nil {
		on[AlarmAuthRenewFailed] = f.Reason
		on[AlarmCommError] = f.Reason
	}
	if f := r.RenewFailure; f != nil {
		on[AlarmRegRenewFailed] = f.Reason
		on[AlarmCommError] = f.Reason
	}
	if !mgrNow.Before(r.CertNotAfter.Add(-expiringSoon)) {
		on[AlarmRegExpiringSoon] = "registration expires " + day(r.CertNotAfter)
	}
	return on
}

func totalUsage(u map[string]int) int {
	n := 0
	for _, c := range u {
		n += c
	}
	return n
}

// usageEqual compares usage ignoring zero counts.
func usageEqual(a, b map[string]int) bool {
	for k, v := range a {
		if v != b[k] {
			return false
		}
	}
	for k, v := range b {
		if v != a[k] {
			return false
		}
	}
	return true
}

func nonZero(u map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range u {
		if v > 0 {
			out[k] = v
		}
	}
	return out
}

// device is the identity the manager knows, or an error when there is
// no key yet.
func (a *Agent) deviceLocked() Device {
	d := Device{Key: a.key, UDI: a.udiLocked()}
	if r := a.st.Registration; r != nil {
		d.InstanceID = r.InstanceID
		d.CertPEM = r.CertPEM
		d.Skew = r.Skew
	}
	return d
}

// udiLocked is the device's UDI: the platform's serial when known, else
// one derived from the identity key.
func (a *Agent) udiLocked() string {
	sn := platformSerial(a.root)
	if sn == "" && a.key != nil {
		pub, _ := a.key.PublicKey.Bytes()
		sum := sha256.Sum256(pub)
		sn = strings.ToUpper(fmt.Sprintf("%x", sum[:4]))
	}
	return fmt.Sprintf("UDI_PID:Expressway; UDI_SN:%s; UDI_VID:1.0;", sn)
}

// shared reports the hostname and IP to send, both empty with the
// privacy flag on.
func (a *Agent) sharedLocked() (string, string) {
	if a.cfg.HideHostname {
		return "", ""
	}
	return a.host(), a.ip()
}

func (a *Agent) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), a.timeout)
}

// manager dials the manager for the current configuration.
func (a *Agent) managerLocked() (Manager, error) { return a.dial(a.cfg) }

// Register registers the device with a token, or with reregister moves a
// registered device to the token's virtual account. A refusal by the
// manager leaves Registration Failed with its reason; an unreachable
// manager leaves Registration Pending, retried every 15 minutes.
func (a *Agent) Register(token string, reregister bool) error {
	token = strings.TrimSpace(token)
	if err := validateToken(token); err != nil {
		return err
	}
	a.mu.Lock()
	enabled, registered := a.st.Enabled, a.st.Registration != nil
	a.mu.Unlock()
	if !enabled {
		return fmt.Errorf("%w: turn it on first", ErrNotEnabled)
	}
	if registered && !reregister {
		return fmt.Errorf("%w already; to move it to another virtual account add Reregister: Yes", ErrRegistered)
	}
	a.mu.Lock()
	resMode := a.reservationModeLocked()
	a.mu.Unlock()
	if resMode {
		return fmt.Errorf("%w is on: a device with reserved licenses does not register; return the reservation and turn it off first (xconfiguration License Smart ReservationEnable: Off)", ErrReservation)
	}
	a.op.Lock()
	defer a.op.Unlock()
	err := a.register(token, reregister, false)
	a.step()
	return err
}

// register runs one registration exchange; the caller holds op.
func (a *Agent) register(token string, reregister, retry bool) error {
	a.mu.Lock()
	m, err := a.managerLocked()
	dev := a.deviceLocked()
	host, ip := a.sharedLocked()
	a.mu.Unlock()
	var ans RegisterAnswer
	if err == nil {
		ctx, cancel := a.ctx()
		ans, err = m.Register(ctx, dev, RegisterRequest{Token: token, Reregister: reregister, Hostname: host, IP: ip})
		cancel()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	defer a.settleLocked() // outcome saved and alarms set before anyone sees it
	now := a.nowLocked()
	wasRegistered := a.st.Registration != nil
	switch {
	case err == nil:
		a.st.Registration = &Registration{
			InstanceID:       ans.InstanceID,
			SmartAccount:     ans.SmartAccount,
			VirtualAccount:   ans.VirtualAccount,
			ExportControlled: ans.ExportControlled,
			CertPEM:          ans.CertPEM,
			CertNotAfter:     ans.CertNotAfter,
			RegisteredAt:     now,
			RenewedAt:        now,
			SentHostname:     host,
			Skew:             skew(ans.ManagerTime, now),
		}
		a.st.Pending, a.st.Failed, a.st.RegistrationExpired, a.st.Warning = nil, "", false, ""
		a.authRetry, a.renewRetry, a.pendingRetry = time.Time{}, time.Time{}, time.Time{}
		a.logf("licensing: registered to smart account %q, virtual account %q", ans.SmartAccount, ans.VirtualAccount)
		return nil
	case isRejected(err):
		a.st.Pending = nil
		a.pendingRetry = time.Time{}
		a.st.Failed = err.Error()
		a.logf("licensing: registration refused by the manager: %v", err)
		return fmt.Errorf("registration failed: %w", err)
	case reregister && wasRegistered:
		a.logf("licensing: reregistration could not reach the manager: %v", err)
		return fmt.Errorf("reregistration could not reach the manager (%v); the current registration is kept, try again", err)
	default:
		since := now
		if p := a.st.Pending; p != nil && retry {
			since = p.Since
		}
		a.st.Pending = &Pending{Token: token, Reregister: reregister, Since: since, Reason: err.Error()}
		a.st.Failed = ""
		a.pendingRetry = now.Add(a.retryEvery)
		a.logf("licensing: registration pending, retrying in 15 minutes: %v", err)
		return fmt.Errorf("%w: the manager could not be reached (%v); retrying every 15 minutes", ErrPending, err)
	}
}

func skew(mgr, now time.Time) time.Duration {
	if mgr.IsZero() {
		return 0
	}
	return mgr.Sub(now)
}

// RenewRegistration renews the identity certificate now.
func (a *Agent) RenewRegistration() error {
	a.op.Lock()
	defer a.op.Unlock()
	err := a.renewRegistration()
	a.step()
	return err
}

func (a *Agent) renewRegistration() error {
	a.mu.Lock()
	if a.st.Registration == nil {
		a.mu.Unlock()
		return fmt.Errorf("%w: register first: xcommand License Smart Register Token: \"<token>\"", ErrNotRegistered)
	}
	m, err := a.managerLocked()
	dev := a.deviceLocked()
	host, ip := a.sharedLocked()
	a.mu.Unlock()
	var ans RenewAnswer
	if err == nil {
		ctx, cancel := a.ctx()
		ans, err = m.RenewRegistration(ctx, dev, host, ip)
		cancel()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	defer a.settleLocked() // outcome saved and alarms set before anyone sees it
	r := a.st.Registration
	if r == nil || r.InstanceID != dev.InstanceID {
		return fmt.Errorf("%w: the registration changed during renewal", ErrNotRegistered)
	}
	now := a.nowLocked()
	if err != nil {
		if isGone(err) {
			a.goneLocked(err)
			return fmt.Errorf("renewing the registration: %w", err)
		}
		r.RenewFailure = failure(r.RenewFailure, err, now)
		a.renewRetry = now.Add(a.retryEvery)
		a.logf("licensing: registration renewal failed, retrying in 15 minutes: %v", err)
		return fmt.Errorf("renewing the registration: %w", err)
	}
	r.CertPEM, r.CertNotAfter, r.RenewedAt, r.SentHostname = ans.CertPEM, ans.CertNotAfter, now, host
	r.Skew = skew(ans.ManagerTime, now)
	r.RenewFailure = nil
	a.renewRetry = time.Time{}
	a.logf("licensing: registration renewed; certificate valid until %s", ans.CertNotAfter.UTC().Format(time.RFC3339))
	return nil
}

// goneLocked ends a registration the manager no longer knows: the
// instance was removed there, so the device is unregistered and says so.
func (a *Agent) goneLocked(err error) {
	a.logf("licensing: the manager no longer knows this product instance: %v", err)
	a.st.Registration = nil
	a.st.Warning = fmt.Sprintf("The manager no longer knows this product instance (%v); it was removed there. Register again with a token.", err)
	a.authRetry, a.renewRetry = time.Time{}, time.Time{}
}

func failure(old *Failure, err error, now time.Time) *Failure {
	if old != nil {
		return &Failure{Reason: err.Error(), Since: old.Since}
	}
	return &Failure{Reason: err.Error(), Since: now}
}

// RenewAuthorization sends an authorization request (with the current
// usage) now.
func (a *Agent) RenewAuthorization() error {
	a.op.Lock()
	defer a.op.Unlock()
	err := a.authorize()
	a.step()
	return err
}

// RetryNow is what the network service calls when the network or DNS
// configuration changes (at boot too, when it first writes resolv.conf):
// every exchange waiting for its 15-minute retry after a failure (a
// pending registration, a failed registration renewal or authorization)
// runs at once, and a registered device whose authorization is not failing
// checks in with an authorization request. So a device kept registered
// through a factory reset but offline for lack of DNS shows 30042 and 30044
// at boot, and they clear as soon as DNS lets it reach the manager. An
// unregistered device with nothing pending sends nothing.
func (a *Agent) RetryNow() {
	a.op.Lock()
	defer a.op.Unlock()
	a.mu.Lock()
	now := a.nowLocked()
	checkIn := false
	if a.st.Pending != nil {
		a.pendingRetry = now
	}
	if r := a.st.Registration; r != nil {
		if r.RenewFailure != nil {
			a.renewRetry = now
		}
		if r.AuthFailure != nil {
			a.authRetry = now
		} else {
			checkIn = true
		}
	}
	a.mu.Unlock()
	if checkIn {
		_ = a.authorize() // its outcome is in the state and the alarms
	}
	a.step()
}

// UpdateUsage reports the current usage now; it is the same exchange as
// an authorization renewal.
func (a *Agent) UpdateUsage() error { return a.RenewAuthorization() }

func (a *Agent) authorize() error {
	a.mu.Lock()
	if a.st.Registration == nil {
		a.mu.Unlock()
		return fmt.Errorf("%w: register first: xcommand License Smart Register Token: \"<token>\"", ErrNotRegistered)
	}
	m, err := a.managerLocked()
	dev := a.deviceLocked()
	host, ip := a.sharedLocked()
	usage := nonZero(a.st.Usage)
	a.mu.Unlock()
	var ans AuthAnswer
	if err == nil {
		ctx, cancel := a.ctx()
		ans, err = m.Authorize(ctx, dev, usage, host, ip)
		cancel()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	defer a.settleLocked() // outcome saved and alarms set before anyone sees it
	r := a.st.Registration
	if r == nil || r.InstanceID != dev.InstanceID {
		return fmt.Errorf("%w: the registration changed during authorization", ErrNotRegistered)
	}
	now := a.nowLocked()
	a.newTypeAt = time.Time{}
	if err != nil {
		if isGone(err) {
			a.goneLocked(err)
			return fmt.Errorf("renewing the authorization: %w", err)
		}
		r.AuthFailure = failure(r.AuthFailure, err, now)
		a.authRetry = now.Add(a.retryEvery)
		a.logf("licensing: authorization request failed, retrying in 15 minutes: %v", err)
		return fmt.Errorf("renewing the authorization: %w", err)
	}
	r.Auth = &Authorization{At: ans.ManagerTime, AtLocal: now, Results: maps.Clone(ans.Results), Reported: usage}
	if r.Auth.At.IsZero() {
		r.Auth.At = now.Add(r.Skew)
	} else {
		r.Skew = skew(ans.ManagerTime, now)
	}
	if r.Auth.Results == nil {
		r.Auth.Results = map[string]string{}
	}
	r.AuthFailure = nil
	a.authRetry = time.Time{}
	return nil
}

// Deregister releases the device's licenses on the manager and returns
// it to evaluation (or Evaluation Expired). When the manager cannot be
// reached the device deregisters locally and the warning says to remove
// the instance on the manager by hand.
func (a *Agent) Deregister() (warning string, err error) {
	a.op.Lock()
	defer a.op.Unlock()
	a.mu.Lock()
	if a.st.Registration == nil {
		if a.st.Pending != nil {
			a.st.Pending = nil
			a.pendingRetry = time.Time{}
			a.mu.Unlock()
			a.step()
			return "", nil
		}
		a.mu.Unlock()
		return "", fmt.Errorf("%w: nothing to deregister", ErrNotRegistered)
	}
	m, err := a.managerLocked()
	dev := a.deviceLocked()
	a.mu.Unlock()
	if err == nil {
		ctx, cancel := a.ctx()
		err = m.Deregister(ctx, dev)
		cancel()
	}
	a.mu.Lock()
	if err != nil {
		warning = fmt.Sprintf("The manager could not be reached (%v). The device is deregistered locally; remove product instance %s on the manager by hand to free its licenses.", err, dev.InstanceID)
		a.logf("licensing: deregistered locally; the manager could not be reached: %v", err)
	} else {
		a.logf("licensing: deregistered; licenses returned to the virtual account")
	}
	a.st.Registration, a.st.Pending, a.st.Failed, a.st.RegistrationExpired = nil, nil, "", false
	a.st.Warning = warning
	a.authRetry, a.renewRetry = time.Time{}, time.Time{}
	a.mu.Unlock()
	a.step()
	return warning, nil
}

// SetConfig changes one configuration leaf (see Config.Apply), saving it
// atomically. Nothing changes on error. A change the manager must learn
// (the privacy flag) is sent by the state machine right after.
func (a *Agent) SetConfig(leaf, value string) (Config, error) {
	cfg, err := a.setConfig(leaf, value)
	if err == nil {
		go a.wake()
	}
	return cfg, err
}

func (a *Agent) setConfig(leaf, value string) (Config, error) {
	a.op.Lock()
	defer a.op.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	n, err := a.cfg.Apply(leaf, value, a.st.Registration != nil)
	if err != nil {
		return a.cfg.Redacted(), err
	}
	if err := saveConfig(a.root, n); err != nil {
		return a.cfg.Redacted(), err
	}
	a.cfg = n
	if !strings.EqualFold(leaf, LeafProxyPassword) && !strings.EqualFold(leaf, "password") {
		a.logf("licensing: configuration %s set to %q", leaf, value)
	} else {
		a.logf("licensing: configuration %s changed", leaf)
	}
	return n.Redacted(), nil
}

// Config reports the configuration, the proxy password redacted.
func (a *Agent) Config() Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg.Redacted()
}

// SetUsage records the licenses of one type call control has in use.
// When the device is Unauthorized, raising a registration type's count
// (a new endpoint registration) is refused with ErrUnauthorized.
func (a *Agent) SetUsage(typ string, count int) error {
	typ = strings.ToLower(strings.TrimSpace(typ))
	known := false
	for _, t := range licenseTypes() {
		known = known || t == typ
	}
	if !known {
		return fmt.Errorf("%w: license type %q is unknown; use rms, room or desktop", ErrInvalidConfig, typ)
	}
	if count < 0 || count > maxUsage {
		return fmt.Errorf("%w: count %d is not from 0 to %d", ErrInvalidConfig, count, maxUsage)
	}
	a.mu.Lock()
	now := a.nowLocked()
	old := a.st.Usage[typ]
	if count > old && typ != TypeRMS && a.unauthorizedLocked(now) {
		a.mu.Unlock()
		return fmt.Errorf("%w: the evaluation period is over and the device is not registered, so new %s registrations are refused; register the device first", ErrUnauthorized, typ)
	}
	if a.reservedLocked() && count > old {
		if limit, why := a.reservedLimitLocked(typ); count > limit {
			a.mu.Unlock()
			return fmt.Errorf("%w: %d %s licenses in use is refused: %s", ErrNotReserved, count, typ, why)
		}
	}
	if a.st.Usage == nil {
		a.st.Usage = map[string]int{}
	}
	if count == 0 {
		delete(a.st.Usage, typ)
	} else {
		a.st.Usage[typ] = count
	}
	if r := a.st.Registration; r != nil && old == 0 && count > 0 && (r.Auth == nil || r.Auth.Results[typ] == "") {
		a.newTypeAt = now.Add(newTypeDelay)
	}
	err := a.saveLocked()
	if err == nil {
		if aerr := a.alarms.set(licensingAlarms(), a.conditionsLocked(now), now); aerr != nil {
			a.logf("licensing: %v", aerr)
		}
		a.armLocked(now)
	}
	a.mu.Unlock()
	return err
}

const maxUsage = 1_000_000

// systemHostname reads the hostname from the platform's system.json,
// falling back to the kernel's.
func systemHostname(root string) string {
	b, err := os.ReadFile(filepath.Join(root, systemFile))
	if err == nil {
		var s struct {
			Hostname string `json:"hostname"`
			Domain   string `json:"domain"`
		}
		if json.Unmarshal(b, &s) == nil && s.Hostname != "" {
			if s.Domain != "" {
				return s.Hostname + "." + s.Domain
			}
			return s.Hostname
		}
	}
	h, _ := os.Hostname()
	return h
}

// platformSerial reads the UDI serial from /persist/identity.json.
func platformSerial(root string) string {
	b, err := os.ReadFile(filepath.Join(root, identityFil))
	if err != nil {
		return ""
	}
	var id map[string]any
	if json.Unmarshal(b, &id) != nil {
		return ""
	}
	for _, k := range []string{"serial", "Serial", "udi_serial", "sn"} {
		if s, ok := id[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// firstIPv4 reports the first non-loopback IPv4 address of the device.
func firstIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, ad := range addrs {
		if n, ok := ad.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// setAside renames a damaged file to <name>.corrupt so that the agent can
// start and the file can still be examined.
func (a *Agent) setAside(rel string, cause error) {
	p := filepath.Join(a.root, rel)
	a.logf("licensing: %v; moved to %s.corrupt", cause, p)
	if err := os.Rename(p, p+".corrupt"); err != nil {
		a.logf("licensing: moving %s aside: %v", p, err)
	}
}

// platformEnabled reports the platform's Smart Licensing flag.
func platformEnabled(root string) (bool, error) { return platform.SmartLicensingEnabled(root) }
