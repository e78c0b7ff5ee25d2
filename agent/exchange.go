package agent

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"vxway/agentclient"
)

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
		return fmt.Errorf("%w: the manager could not be reached (%v); retrying every 15 minutes", agentclient.ErrPending, err)
	}
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
		return fmt.Errorf("%w: register first: xcommand License Smart Register Token: \"<token>\"", agentclient.ErrNotRegistered)
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
		return fmt.Errorf("%w: the registration changed during renewal", agentclient.ErrNotRegistered)
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

// UpdateUsage reports the current usage now; it is the same exchange as
// an authorization renewal.
func (a *Agent) UpdateUsage() error { return a.RenewAuthorization() }

func (a *Agent) authorize() error {
	a.mu.Lock()
	if a.st.Registration == nil {
		a.mu.Unlock()
		return fmt.Errorf("%w: register first: xcommand License Smart Register Token: \"<token>\"", agentclient.ErrNotRegistered)
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
		return fmt.Errorf("%w: the registration changed during authorization", agentclient.ErrNotRegistered)
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
		return "", fmt.Errorf("%w: nothing to deregister", agentclient.ErrNotRegistered)
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
