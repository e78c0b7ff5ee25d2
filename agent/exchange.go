package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"vxway/agentclient"
	"vxway/licproto"
)

// The exchanges with the manager: register, renew the registration,
// authorize (which also reports usage) and deregister. Each runs through
// exchange, with op held so that one exchange at a time is in flight.

// peer is what an exchange takes under mu for its call: the device as the
// manager knows it and what it may share.
type peer struct {
	dev      Device
	host, ip string
}

// exchange is one exchange with the manager, as run does it.
type exchange struct {
	// name is what the exchange is called in errors ("renewal").
	name string
	// registered requires a registration, and drops the outcome when the
	// registration changed during the call.
	registered bool
	// take, when set, runs under mu before the call, to take what the
	// call sends beyond the peer (the usage of an authorization).
	take func()
	// send calls the manager, without mu.
	send func(ctx context.Context, m Manager, p peer) error
	// land records the outcome under mu, at now (a dial error comes as
	// err without send having run).
	land func(p peer, now time.Time, err error) error
}

// run runs x; the caller holds op. The outcome is saved and the alarms
// set before anyone sees it.
func (a *Agent) run(x exchange) error {
	a.mu.Lock()
	if a.dormant {
		a.mu.Unlock()
		return errDormant()
	}
	if x.registered && a.st.Registration == nil {
		a.mu.Unlock()
		return errRegisterFirst()
	}
	m, err := a.managerLocked()
	p := peer{dev: a.deviceLocked()}
	p.host, p.ip = a.sharedLocked()
	if x.take != nil {
		x.take()
	}
	for attempt := 0; ; attempt++ {
		// The counter is spent once the manager has answered; a request
		// that got no answer (the manager down) leaves it for the next
		// one, so that retries do not rewrite the state file. Should the
		// manager have taken it after all, it says so below.
		p.dev.Seq = a.st.RequestSeq + 1
		a.mu.Unlock()
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
			err = x.send(ctx, m, p)
			cancel()
		}
		a.mu.Lock()
		if err == nil || isRejected(err) {
			a.st.RequestSeq = max(a.st.RequestSeq, p.dev.Seq)
		}
		// A manager that has seen this counter from the device's key (the
		// state file was restored or set aside, the agent stopped before
		// saving it, an answer was lost) says which it saw last: continue
		// above it, once.
		var pe *licproto.Error
		if attempt > 0 || !errors.As(err, &pe) || pe.Code != licproto.CodeReplay || pe.LastSeq < p.dev.Seq {
			break
		}
		a.logf("licensing: the manager has seen request counter %d of this device; continuing above it", pe.LastSeq)
		a.st.RequestSeq, err = pe.LastSeq, nil
	}
	defer a.mu.Unlock()
	defer a.settleLocked()
	if x.registered {
		if r := a.st.Registration; r == nil || r.InstanceID != p.dev.InstanceID {
			return fmt.Errorf("%w: the registration changed during %s", agentclient.ErrNotRegistered, x.name)
		}
	}
	return x.land(p, a.nowLocked(), err)
}

// managerLocked dials the manager for the current configuration.
func (a *Agent) managerLocked() (Manager, error) { return a.dial(a.cfg) }

// errRegisterFirst refuses an exchange that needs a registration.
func errRegisterFirst() error {
	return fmt.Errorf("%w: register first: xcommand License Smart Register Token: \"<token>\"", agentclient.ErrNotRegistered)
}

// retryLocked records a failed exchange of a registered device: a manager
// that no longer knows the instance ends the registration; any other
// failure is kept in *f and retried at *retry, after the retry interval.
func (a *Agent) retryLocked(what string, f **Failure, retry *time.Time, now time.Time, err error) {
	if isGone(err) {
		a.goneLocked(err)
		return
	}
	*f = failure(*f, err, now)
	*retry = now.Add(a.retryEvery)
	a.logf("licensing: %s failed, retrying in %s: %v", what, every(a.retryEvery), err)
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

// Register registers the device with a token, or with reregister moves a
// registered device to the token's virtual account. A refusal by the
// manager leaves Registration Failed with its reason; an unreachable
// manager leaves Registration Pending, retried every RetryEvery.
func (a *Agent) Register(token string, reregister bool) error {
	token = strings.TrimSpace(token)
	if err := validateToken(token); err != nil {
		return err
	}
	a.mu.Lock()
	enabled, registered := a.st.Enabled, a.st.Registration != nil
	a.mu.Unlock()
	if !enabled {
		return fmt.Errorf("%w: turn it on first", agentclient.ErrNotEnabled)
	}
	if registered && !reregister {
		return fmt.Errorf("%w already; to move it to another virtual account add Reregister: Yes", agentclient.ErrRegistered)
	}
	a.mu.Lock()
	resMode := a.reservationModeLocked()
	a.mu.Unlock()
	if resMode {
		return fmt.Errorf("%w is on: a device with reserved licenses does not register; return the reservation and turn it off first (xconfiguration License Smart ReservationEnable: Off)", agentclient.ErrReservation)
	}
	return a.atOnce(func() error { return a.register(token, reregister, false) })
}

// atOnce runs an exchange asked for now rather than by the schedule, then
// the scheduler's step, which runs whatever became due and re-arms the
// timer.
func (a *Agent) atOnce(exchange func() error) error {
	a.op.Lock()
	defer a.op.Unlock()
	err := exchange()
	a.step()
	return err
}

// register runs one registration exchange (retry: the retry of a pending
// one); the caller holds op.
func (a *Agent) register(token string, reregister, retry bool) error {
	var ans RegisterAnswer
	return a.run(exchange{
		name: "registration",
		send: func(ctx context.Context, m Manager, p peer) (err error) {
			ans, err = m.Register(ctx, p.dev, RegisterRequest{Token: token, Reregister: reregister, Hostname: p.host, IP: p.ip})
			return err
		},
		land: func(p peer, now time.Time, err error) error {
			return a.registeredLocked(token, reregister, retry, p, ans, now, err)
		},
	})
}

// registeredLocked records the outcome of a registration.
func (a *Agent) registeredLocked(token string, reregister, retry bool, p peer, ans RegisterAnswer, now time.Time, err error) error {
	wasRegistered := a.st.Registration != nil
	switch {
	case err == nil:
		a.learn(ans.ManagerTime)
		a.st.Registration = &Registration{
			InstanceID:       ans.InstanceID,
			SmartAccount:     ans.SmartAccount,
			VirtualAccount:   ans.VirtualAccount,
			ExportControlled: ans.ExportControlled,
			CertPEM:          ans.CertPEM,
			CertNotAfter:     ans.CertNotAfter,
			RegisteredAt:     now,
			RenewedAt:        now,
			SentHostname:     p.host,
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
		a.logf("licensing: registration pending, retrying in %s: %v", every(a.retryEvery), err)
		// The user is told the product's rule; only tests shorten the
		// interval.
		return fmt.Errorf("%w: %s; retrying every %s", agentclient.ErrPending, registrationAttempt(err.Error()), every(RetryEvery))
	}
}

// RenewRegistration renews the identity certificate now.
func (a *Agent) RenewRegistration() error { return a.atOnce(a.renewRegistration) }

// renewRegistration runs one registration renewal; the caller holds op.
func (a *Agent) renewRegistration() error {
	var ans RenewAnswer
	return a.run(exchange{
		name:       "renewal",
		registered: true,
		send: func(ctx context.Context, m Manager, p peer) (err error) {
			ans, err = m.RenewRegistration(ctx, p.dev, p.host, p.ip)
			return err
		},
		land: func(p peer, now time.Time, err error) error {
			r := a.st.Registration
			if err != nil {
				a.retryLocked("registration renewal", &r.RenewFailure, &a.renewRetry, now, err)
				return fmt.Errorf("renewing the registration: %w", err)
			}
			a.learn(ans.ManagerTime)
			r.CertPEM, r.CertNotAfter, r.RenewedAt, r.SentHostname = ans.CertPEM, ans.CertNotAfter, now, p.host
			r.Skew = skew(ans.ManagerTime, now)
			r.RenewFailure = nil
			a.renewRetry = time.Time{}
			a.logf("licensing: registration renewed; certificate valid until %s", ans.CertNotAfter.UTC().Format(time.RFC3339))
			return nil
		},
	})
}

// RenewAuthorization sends an authorization request (with the current
// usage) now.
func (a *Agent) RenewAuthorization() error { return a.atOnce(a.authorize) }

// UpdateUsage reports the current usage now; it is the same exchange as
// an authorization renewal.
func (a *Agent) UpdateUsage() error { return a.RenewAuthorization() }

// authorize runs one authorization request with the usage now; the
// caller holds op.
func (a *Agent) authorize() error {
	var usage map[string]int
	var ans AuthAnswer
	return a.run(exchange{
		name:       "authorization",
		registered: true,
		take:       func() { usage = a.reportedUsageLocked() },
		send: func(ctx context.Context, m Manager, p peer) (err error) {
			ans, err = m.Authorize(ctx, p.dev, usage, p.host, p.ip)
			return err
		},
		land: func(_ peer, now time.Time, err error) error {
			r := a.st.Registration
			a.newTypeAt = time.Time{}
			if err != nil {
				a.retryLocked("authorization request", &r.AuthFailure, &a.authRetry, now, err)
				return fmt.Errorf("renewing the authorization: %w", err)
			}
			a.learn(ans.ManagerTime)
			r.Auth = &Authorization{At: ans.ManagerTime, AtLocal: now, Results: maps.Clone(ans.Results), Reported: usage}
			if r.Auth.At.IsZero() {
				r.Auth.At = now.Add(r.Skew)
			} else {
				r.Skew = skew(ans.ManagerTime, now)
			}
			if r.Auth.Results == nil {
				r.Auth.Results = map[string]string{}
			}
			for t, res := range r.Auth.Results {
				if res == ResultAuthorized {
					if r.Authorized == nil {
						r.Authorized = map[string]int{}
					}
					r.Authorized[t] = usage[t]
				}
			}
			r.AuthFailure = nil
			a.authRetry = time.Time{}
			return nil
		},
	})
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
		return "", fmt.Errorf("%w: nothing to deregister", agentclient.ErrNotRegistered)
	}
	a.mu.Unlock()
	err = a.run(exchange{
		name:       "deregistration",
		registered: true,
		send:       func(ctx context.Context, m Manager, p peer) error { return m.Deregister(ctx, p.dev) },
		land: func(p peer, _ time.Time, err error) error {
			if err != nil {
				warning = fmt.Sprintf("The manager could not be reached (%v). The device is deregistered locally; remove product instance %s on the manager by hand to free its licenses.", err, p.dev.InstanceID)
				a.logf("licensing: deregistered locally; the manager could not be reached: %v", err)
			} else {
				a.logf("licensing: deregistered; licenses returned to the virtual account")
			}
			a.st.Registration, a.st.Pending, a.st.Failed, a.st.RegistrationExpired = nil, nil, "", false
			a.st.Warning = warning
			a.authRetry, a.renewRetry = time.Time{}, time.Time{}
			return nil
		},
	})
	a.step()
	return warning, err
}
