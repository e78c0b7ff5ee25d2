package reservation

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// State is the device's reservation state: the request in progress,
// requests cancelled before anything was installed, what is installed,
// and which requests were returned. The agent keeps it as JSON in its
// state directory, written atomically after every change and before it
// prints the code a change produced.
//
// Each method either changes s and returns what to print, or returns an
// error and leaves s exactly as it was. A State is not safe for
// concurrent use: the agent serialises the reservation commands.
type State struct {
	Pending   *Request      `json:"pending,omitempty"`
	Cancelled []*Request    `json:"cancelled,omitempty"`
	Installed *Installed    `json:"installed,omitempty"`
	Returned  []RequestCode `json:"returned,omitempty"`
}

// Installed is the reservation in force: the request it answers and the
// codes installed for it, oldest first. An SLR reservation holds one
// code (an update replaces it); a PLR reservation holds every PLR code
// applied to it, since PLR codes add up.
type Installed struct {
	Request *Request `json:"request"`
	Kind    Kind     `json:"kind"`
	Codes   []string `json:"codes"`
}

// Limits on the history kept, so that the state file stays small.
const (
	maxCancelled = 8
	maxReturned  = 32
	maxPLRCodes  = 16
)

// Request returns the request code to show the administrator: the one of
// the installed reservation or of the request in progress, or else a new
// request made for the device udi and host id from rand. The bool
// reports whether a new request was made (and s changed).
func (s *State) Request(udi UDI, hostID string, rand io.Reader) (RequestCode, bool, error) {
	if s.Installed != nil {
		return s.Installed.Request.Code, false, nil
	}
	if s.Pending != nil {
		return s.Pending.Code, false, nil
	}
	r, err := NewRequest(udi, hostID, rand)
	if err != nil {
		return RequestCode{}, false, err
	}
	s.Pending = r
	return r.Code, true, nil
}

// Cancel abandons the request in progress. Its codes can still be
// returned with ReturnAuthorization.
func (s *State) Cancel() error {
	if s.Pending == nil {
		if s.Installed != nil {
			return fmt.Errorf("%w: use Return to give the reservation back", ErrInstalled)
		}
		return fmt.Errorf("%w: there is nothing to cancel", ErrNoRequest)
	}
	s.Cancelled = append(s.Cancelled, s.Pending)
	if len(s.Cancelled) > maxCancelled {
		s.Cancelled = s.Cancelled[len(s.Cancelled)-maxCancelled:]
	}
	s.Pending = nil
	return nil
}

// InstallResult is what Install reports.
type InstallResult struct {
	Authorization *Authorization
	// Confirmation is the code to enter on the manager (SLR only; "" for
	// PLR, whose manager side has no confirmation step).
	Confirmation string
	// Updated reports that an SLR code replaced the one installed.
	Updated bool
}

// Install verifies code (PLR or SLR) against the manager keys, the device
// udi and the request it answers, and installs it. A code must be newer
// than every installed one; a PLR code adds to installed PLR codes, an
// SLR code replaces the installed SLR code (an update).
func (s *State) Install(keys KeySet, udi UDI, code string) (*InstallResult, error) {
	c, err := ParseAuthorizationCode(code)
	if err != nil {
		return nil, err
	}
	var req *Request
	switch {
	case s.Installed != nil:
		req = s.Installed.Request
	case s.Pending != nil:
		req = s.Pending
	default:
		if err := s.explain(keys, udi, c); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: run xcommand License Smart Reservation Request first", ErrNoRequest)
	}
	a, err := c.Verify(keys, udi, req.Code)
	if errors.Is(err, ErrOtherRequest) {
		if e := s.explain(keys, udi, c); e != nil {
			return nil, e
		}
	}
	if err != nil {
		return nil, err
	}
	res := &InstallResult{Authorization: a}
	next := &Installed{Request: req, Kind: a.Kind, Codes: []string{a.Text}}
	if in := s.Installed; in != nil {
		cur, err := in.verify(keys, udi)
		if err != nil {
			return nil, fmt.Errorf("checking the installed reservation: %w", err)
		}
		newest := cur[len(cur)-1]
		if a.Kind != in.Kind {
			return nil, fmt.Errorf("%w: a %s reservation is installed; return it before installing a %s code", ErrOtherKind, in.Kind, a.Kind)
		}
		for _, old := range cur {
			if old.ID == a.ID {
				return nil, fmt.Errorf("%w: this code is already installed", ErrOlder)
			}
		}
		if !a.Issued.After(newest.Issued) {
			return nil, fmt.Errorf("%w: it was issued %s, the installed code %s", ErrOlder, a.Issued.UTC().Format(time.RFC3339), newest.Issued.UTC().Format(time.RFC3339))
		}
		if a.Kind == PLR {
			if len(in.Codes) >= maxPLRCodes {
				return nil, fmt.Errorf("%w: %d PLR codes are installed, the most the device keeps", ErrMalformed, maxPLRCodes)
			}
			next.Codes = append(append([]string(nil), in.Codes...), a.Text)
		} else {
			res.Updated = true
		}
	}
	if a.Kind == SLR {
		if res.Confirmation, err = req.Confirmation(a); err != nil {
			return nil, err
		}
	}
	s.Installed = next
	s.Pending = nil
	return res, nil
}

// explain reports why a code bound to none of the live requests is
// refused, when it is bound to a returned or cancelled one.
func (s *State) explain(keys KeySet, udi UDI, c *AuthorizationCode) error {
	for _, rc := range s.Returned {
		if _, err := c.Verify(keys, udi, rc); err == nil {
			return fmt.Errorf("%w: its reservation was returned; make a new request", ErrReturned)
		}
	}
	for _, r := range s.Cancelled {
		if _, err := c.Verify(keys, udi, r.Code); err == nil {
			return fmt.Errorf("%w: its request was cancelled; give it back with ReturnAuthorization", ErrOtherRequest)
		}
	}
	return nil
}

func (in *Installed) verify(keys KeySet, udi UDI) ([]*Authorization, error) {
	if len(in.Codes) == 0 {
		return nil, errors.New("no code recorded")
	}
	var out []*Authorization
	for _, t := range in.Codes {
		c, err := ParseAuthorizationCode(t)
		if err != nil {
			return nil, err
		}
		a, err := c.Verify(keys, udi, in.Request.Code)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Return drops the installed reservation and returns the return code
// for its newest code, which gives back everything reserved for the
// product instance.
func (s *State) Return(keys KeySet, udi UDI) (string, error) {
	if s.Installed == nil {
		return "", fmt.Errorf("%w: for a code that was never installed use ReturnAuthorization \"<code>\"", ErrNotInstalled)
	}
	cur, err := s.Installed.verify(keys, udi)
	if err != nil {
		return "", fmt.Errorf("checking the installed reservation: %w", err)
	}
	code, err := s.Installed.Request.ReturnCode(cur[len(cur)-1], ReturnInstalled)
	if err != nil {
		return "", err
	}
	s.addReturned(s.Installed.Request.Code)
	s.Installed = nil
	return code, nil
}

// ReturnAuthorization returns the return code for code, an authorization
// code never installed, made for the request in progress or a cancelled
// one; that request is then finished.
func (s *State) ReturnAuthorization(keys KeySet, udi UDI, code string) (string, error) {
	c, err := ParseAuthorizationCode(code)
	if err != nil {
		return "", err
	}
	if s.Installed != nil {
		if _, err := c.Verify(keys, udi, s.Installed.Request.Code); err == nil {
			return "", fmt.Errorf("%w for this code's request: use Return to give the reservation back", ErrInstalled)
		}
	}
	for _, rc := range s.Returned {
		if _, err := c.Verify(keys, udi, rc); err == nil {
			return "", fmt.Errorf("%w: its reservation was returned already", ErrReturned)
		}
	}
	candidates := append([]*Request(nil), s.Cancelled...)
	if s.Pending != nil {
		candidates = append(candidates, s.Pending)
	}
	if len(candidates) == 0 {
		return "", fmt.Errorf("%w: this device has no request that code could answer", ErrNoRequest)
	}
	var firstErr error
	for _, r := range candidates {
		a, err := c.Verify(keys, udi, r.Code)
		if err != nil {
			if firstErr == nil || errors.Is(firstErr, ErrOtherRequest) {
				firstErr = err
			}
			continue
		}
		out, err := r.ReturnCode(a, ReturnUninstalled)
		if err != nil {
			return "", err
		}
		if s.Pending == r {
			s.Pending = nil
		}
		s.Cancelled = without(s.Cancelled, r)
		s.addReturned(r.Code)
		return out, nil
	}
	return "", firstErr
}

func without(rs []*Request, r *Request) []*Request {
	var out []*Request
	for _, x := range rs {
		if x != r {
			out = append(out, x)
		}
	}
	return out
}

func (s *State) addReturned(rc RequestCode) {
	s.Returned = append(s.Returned, rc)
	if len(s.Returned) > maxReturned {
		s.Returned = s.Returned[len(s.Returned)-maxReturned:]
	}
}

// Reservation is the verified view of what is installed.
type Reservation struct {
	Kind          Kind
	ExportControl bool   // allowed by any installed code
	PIID          string // product instance id
	Codes         []*Authorization
	// Entitlements of the SLR code (nil for PLR).
	Entitlements []Entitlement
}

// Reservation verifies the installed codes again (as the agent does at
// start) and returns what they reserve; nil when nothing is installed.
func (s *State) Reservation(keys KeySet, udi UDI) (*Reservation, error) {
	if s.Installed == nil {
		return nil, nil
	}
	cur, err := s.Installed.verify(keys, udi)
	if err != nil {
		return nil, fmt.Errorf("checking the installed reservation: %w", err)
	}
	r := &Reservation{Kind: s.Installed.Kind, PIID: s.Installed.Request.Code.PIID(), Codes: cur}
	for _, a := range cur {
		r.ExportControl = r.ExportControl || a.ExportControl
	}
	if r.Kind == SLR {
		r.Entitlements = cur[len(cur)-1].Entitlements
	}
	return r, nil
}

// Limits is what a reservation allows, judged once at a given time: the
// agent judges at start and keeps the result until the next start, so
// that an entitlement ending while the device runs changes nothing until
// it restarts (hard enforcement).
type Limits struct {
	// Unlimited: a PLR reservation, every license type up to the box's
	// capacity.
	Unlimited bool
	// Counts is the number of licenses of each type that may be used
	// (SLR): entitlements that have started and not ended.
	Counts map[LicenseType]int
	// Expired lists the types whose TERM entitlement has ended: their
	// functionality stops and an alarm is raised.
	Expired []LicenseType
	// NotStarted lists the types whose entitlement starts later.
	NotStarted []LicenseType
	// InvalidTags lists entitlement tags this product does not know.
	InvalidTags []string
}

// Permits reports whether n licenses of type t in use stay within l. A
// PLR reservation permits any number (the box's capacity is the limit).
func (l Limits) Permits(t LicenseType, n int) bool {
	return l.Unlimited || n <= l.Counts[t]
}

// LimitsAt judges r at the time at.
func (r *Reservation) LimitsAt(at time.Time) Limits {
	l := Limits{Counts: map[LicenseType]int{}}
	if r.Kind == PLR {
		l.Unlimited = true
		return l
	}
	for _, e := range r.Entitlements {
		t, ok := e.LicenseType()
		switch {
		case !ok:
			l.InvalidTags = append(l.InvalidTags, e.Tag)
		case e.Expired(at):
			l.Expired = append(l.Expired, t)
		case !e.Started(at):
			l.NotStarted = append(l.NotStarted, t)
		default:
			l.Counts[t] += e.Count
		}
	}
	return l
}
