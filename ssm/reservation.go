package ssm

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"vxway/reservation"
)

// maxWrongConfirmations is how many wrong confirmation codes a reservation
// takes before the manager stops checking them (a confirmation code has 32
// bits; each try must cost something). Issuing a new code resets it.
const maxWrongConfirmations = 10

// Reservation code states on the manager.
const (
	codeInTransit  = "in_transit" // SLR code issued, confirmation not yet entered
	codeConfirmed  = "confirmed"  // PLR code issued, or SLR code confirmed
	codeSuperseded = "superseded" // an SLR code replaced by a newer confirmed one
)

// Reservations is the manager side of license reservation (SLR and PLR):
// it issues authorization codes signed with the manager CA key (the key
// devices trust, from the CA certificate baked into their image), takes
// confirmation and return codes, and keeps reserved licenses blocked in
// the virtual account's pool.
type Reservations struct {
	store  *Store
	signer *reservation.Signer
}

// NewReservations returns the reservation desk over store, signing with
// the CA key of pki.
func NewReservations(store *Store, pki *PKI) (*Reservations, error) {
	sg, err := reservation.NewSigner(pki.caKey)
	if err != nil {
		return nil, err
	}
	return &Reservations{store: store, signer: sg}, nil
}

// ReserveOptions say what an authorization code reserves.
type ReserveOptions struct {
	PLR           bool
	ExportControl bool
	Licenses      reservation.Counts // SLR: counts per type
	End           time.Time          // SLR: last day (TERM); zero for PERPETUAL
}

// ParseReserveOptions reads the reservation choices as the CLI and the
// admin API take them: --plr [--export-control], or --license
// TYPE=N[,TYPE=N...] with an optional --end YYYY-MM-DD.
func ParseReserveOptions(plr, exportControl bool, licenses, end string) (ReserveOptions, error) {
	o := ReserveOptions{PLR: plr, ExportControl: exportControl}
	if plr {
		if licenses != "" || end != "" {
			return o, fmt.Errorf("%w: a PLR code reserves everything; give either --plr or --license (and --end)", ErrInvalid)
		}
		return o, nil
	}
	if licenses == "" {
		return o, fmt.Errorf("%w: say what to reserve: --plr, or --license TYPE=N[,TYPE=N...]", ErrInvalid)
	}
	c, err := reservation.ParseCounts(licenses)
	if err != nil {
		return o, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	o.Licenses = c
	if end != "" {
		t, err := time.Parse(time.DateOnly, end)
		if err != nil {
			return o, fmt.Errorf("%w: end date %q is not YYYY-MM-DD", ErrInvalid, end)
		}
		o.End = t
	}
	return o, nil
}

// ReservationCode is one issued authorization code.
type ReservationCode struct {
	ID            string             `json:"id"`
	Kind          string             `json:"kind"`
	ExportControl bool               `json:"export_control"`
	Issued        time.Time          `json:"issued"`
	State         string             `json:"state"`
	Holding       reservation.Counts `json:"holding"`
	Code          string             `json:"code,omitempty"`
}

// ReservationInfo is a reserved product instance.
type ReservationInfo struct {
	Request        string             `json:"request"`
	UDI            string             `json:"udi"`
	PIID           string             `json:"piid"`
	Kind           string             `json:"kind"`
	VirtualAccount string             `json:"virtual_account"`
	Blocked        reservation.Counts `json:"blocked"`
	Codes          []ReservationCode  `json:"codes"`
}

type resRow struct {
	id, vaID   int64
	req        reservation.RequestCode
	kind       string
	lastIssued int64
	wrong      int64
	codes      []codeRow
}

type codeRow struct {
	id      int64
	codeID  reservation.CodeID
	kind    string
	export  bool
	issued  int64
	holding reservation.Counts
	state   string
	text    string
}

// blocked is what the reservation keeps from the pool: PLR codes add up
// (they are applied incrementally); an SLR instance may hold its confirmed
// code or any code in transit, so per type the largest of them.
func (r *resRow) blocked() reservation.Counts {
	out := reservation.Counts{}
	for _, c := range r.codes {
		if c.state == codeSuperseded {
			continue
		}
		for t, n := range c.holding {
			if c.kind == reservation.PLR.String() {
				out[t] += n
			} else {
				out[t] = max(out[t], n)
			}
		}
	}
	return out
}

func requestTag(req reservation.RequestCode) string {
	d := req.Digest()
	return hex.EncodeToString(d[:6])
}

// Authorize issues an authorization code for the request code text in
// virtual account va: a PLR code, or an SLR code (a new reservation or an
// update of the instance's reserved licenses, in transit until confirmed).
// It refuses what the virtual account cannot cover.
func (rs *Reservations) Authorize(ctx context.Context, va, request string, o ReserveOptions, now time.Time) (*ReservationCode, *ReservationInfo, error) {
	req, err := reservation.ParseRequestCode(request)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: request code: %w", ErrInvalid, err)
	}
	kind := reservation.SLR
	holding := reservation.Counts{}
	var ents []reservation.Entitlement
	if o.PLR {
		if len(o.Licenses) > 0 || !o.End.IsZero() {
			return nil, nil, fmt.Errorf("%w: a PLR code reserves everything; give either --plr or --license", ErrInvalid)
		}
		kind = reservation.PLR
		holding[reservation.PLRPoolType(o.ExportControl)] = 1
	} else {
		if len(o.Licenses) == 0 {
			return nil, nil, fmt.Errorf("%w: say what to reserve: --plr, or --license TYPE=N[,TYPE=N...]", ErrInvalid)
		}
		if !o.End.IsZero() && o.End.Before(now.UTC().Truncate(24*time.Hour)) {
			return nil, nil, fmt.Errorf("%w: end date %s is in the past", ErrInvalid, o.End.Format(time.DateOnly))
		}
		start := time.Time{}
		if !o.End.IsZero() {
			start = now
		}
		for _, t := range reservation.LicenseTypes() {
			if n := o.Licenses[t]; n > 0 {
				holding[t] = n
				ents = append(ents, t.Entitlement(n, start, o.End))
			}
		}
	}
	var code *ReservationCode
	var info *ReservationInfo
	err = rs.store.writeTx(ctx, func(w *wtx) error {
		s := rs.store
		vaID, err := s.vaID(ctx, w, va)
		if err != nil {
			return err
		}
		r, err := rs.load(ctx, w, `request = ?`, req.String())
		if err != nil {
			return err
		}
		if r == nil {
			r = &resRow{vaID: vaID, req: req, kind: kind.String()}
		}
		if r.vaID != vaID {
			return fmt.Errorf("%w: product instance %s is reserved in another virtual account", ErrInvalid, req.UDI)
		}
		if r.kind != kind.String() {
			return fmt.Errorf("%w: product instance %s holds a %s reservation; the device must return it first", ErrInvalid, req.UDI, r.kind)
		}
		before := r.blocked()
		issued := max(now.UnixMilli(), r.lastIssued+1)
		var a *reservation.Authorization
		if kind == reservation.PLR {
			a, err = rs.signer.IssuePLR(req, o.ExportControl, time.UnixMilli(issued))
		} else {
			a, err = rs.signer.IssueSLR(req, o.ExportControl, time.UnixMilli(issued), ents)
		}
		if err != nil {
			return fmt.Errorf("issuing the authorization code: %w", err)
		}
		state := codeConfirmed
		if kind == reservation.SLR {
			state = codeInTransit
		}
		c := codeRow{codeID: a.ID, kind: kind.String(), export: o.ExportControl, issued: issued, holding: holding, state: state, text: a.Text}
		r.codes = append(r.codes, c)
		after := r.blocked()
		purchased, inUse, reserved, err := rs.pool(ctx, w, vaID)
		if err != nil {
			return err
		}
		if err := reservation.CheckReserve(purchased, inUse, reserved, before, after); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if r.id == 0 {
			err = w.QueryRowContext(ctx, s.q(`INSERT INTO reservations (va_id, request, request_tag, udi, piid, kind, created_at, last_issued) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
				vaID, req.String(), requestTag(req), req.UDI.String(), req.PIID(), kind.String(), now.UnixMilli(), issued).Scan(&r.id)
		} else {
			_, err = w.ExecContext(ctx, s.q(`UPDATE reservations SET last_issued = ?, wrong_confirmations = 0 WHERE id = ?`), issued, r.id)
		}
		if err != nil {
			return fmt.Errorf("storing reservation: %w", err)
		}
		hj, _ := json.Marshal(holding)
		if _, err := w.ExecContext(ctx, s.q(`INSERT INTO reservation_codes (reservation_id, code_id, kind, export_control, issued_at, holding, state, code) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			r.id, a.ID.String(), kind.String(), b2i(o.ExportControl), issued, string(hj), state, a.Text); err != nil {
			return fmt.Errorf("storing authorization code: %w", err)
		}
		if err := rs.adjustReserved(ctx, w, vaID, before, after); err != nil {
			return err
		}
		what := "PLR code issued"
		if kind == reservation.SLR {
			what = "SLR code issued (in transit): " + CountsText(holding)
		}
		if err := s.event(ctx, w, vaID, now, EventReservationAuthorized, req.UDI.String(), what); err != nil {
			return err
		}
		code = &ReservationCode{ID: a.ID.String(), Kind: kind.String(), ExportControl: o.ExportControl, Issued: time.UnixMilli(issued).UTC(), State: state, Holding: holding, Code: a.Text}
		info = rs.info(r, va)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return code, info, nil
}

// Confirm takes the confirmation code a device printed after installing
// an SLR code of virtual account va: that code's licenses stop being in
// transit and the codes before it are superseded.
func (rs *Reservations) Confirm(ctx context.Context, va, code string, now time.Time) (*ReservationInfo, error) {
	conf, err := reservation.ParseConfirmation(code)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var info *ReservationInfo
	var wrong error
	err = rs.store.writeTx(ctx, func(w *wtx) error {
		s := rs.store
		vaID, err := s.vaID(ctx, w, va)
		if err != nil {
			return err
		}
		list, err := rs.loadAll(ctx, w, `va_id = ? AND id IN (SELECT reservation_id FROM reservation_codes WHERE state = 'in_transit')`, vaID)
		if err != nil {
			return err
		}
		var locked []string
		var tried []*resRow
		for _, r := range list {
			if r.wrong >= maxWrongConfirmations {
				locked = append(locked, r.req.UDI.String())
				continue
			}
			tried = append(tried, r)
			for i, c := range r.codes {
				if c.state != codeInTransit || rs.signer.VerifyConfirmation(r.req, c.codeID, conf) != nil {
					continue
				}
				before := r.blocked()
				for j := range r.codes {
					switch {
					case j == i:
						r.codes[j].state = codeConfirmed
					case r.codes[j].issued < c.issued:
						r.codes[j].state = codeSuperseded
					}
				}
				for _, c2 := range r.codes {
					if _, err := w.ExecContext(ctx, s.q(`UPDATE reservation_codes SET state = ? WHERE id = ?`), c2.state, c2.id); err != nil {
						return fmt.Errorf("updating code state: %w", err)
					}
				}
				if _, err := w.ExecContext(ctx, s.q(`UPDATE reservations SET wrong_confirmations = 0 WHERE id = ?`), r.id); err != nil {
					return fmt.Errorf("updating reservation: %w", err)
				}
				if err := rs.adjustReserved(ctx, w, vaID, before, r.blocked()); err != nil {
					return err
				}
				if err := s.event(ctx, w, vaID, now, EventReservationConfirmed, r.req.UDI.String(), "SLR code confirmed: "+CountsText(c.holding)); err != nil {
					return err
				}
				info = rs.info(r, va)
				return nil
			}
		}
		// A wrong code costs each instance it was tried against one try.
		for _, r := range tried {
			if _, err := w.ExecContext(ctx, s.q(`UPDATE reservations SET wrong_confirmations = wrong_confirmations + 1 WHERE id = ?`), r.id); err != nil {
				return fmt.Errorf("counting a wrong confirmation: %w", err)
			}
		}
		msg := fmt.Sprintf("%s is not the confirmation code of any SLR code in transit in virtual account %q; check it and enter it again", conf, va)
		if len(locked) > 0 {
			msg += fmt.Sprintf(" (not checked against %s: too many wrong codes; issue the update again)", strings.Join(locked, ", "))
		}
		wrong = fmt.Errorf("%w: %w: %s", ErrInvalid, reservation.ErrWrongConfirmation, msg)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if wrong != nil {
		return nil, wrong
	}
	return info, nil
}

// Return takes a device's return code in virtual account va: the product
// instance's reservation ends and its licenses go back to the pool.
func (rs *Reservations) Return(ctx context.Context, va, code string, now time.Time) (*ReservationInfo, error) {
	rc, err := reservation.ParseReturnCode(code)
	if err != nil {
		return nil, fmt.Errorf("%w: return code: %w", ErrInvalid, err)
	}
	var info *ReservationInfo
	err = rs.store.writeTx(ctx, func(w *wtx) error {
		s := rs.store
		vaID, err := s.vaID(ctx, w, va)
		if err != nil {
			return err
		}
		list, err := rs.loadAll(ctx, w, `va_id = ? AND request_tag = ?`, vaID, hex.EncodeToString(rc.RequestTag[:]))
		if err != nil {
			return err
		}
		for _, r := range list {
			ids := make([]reservation.CodeID, len(r.codes))
			for i, c := range r.codes {
				ids[i] = c.codeID
			}
			if _, err := rs.signer.VerifyReturn(r.req, rc, ids); err != nil {
				continue
			}
			if err := rs.adjustReserved(ctx, w, vaID, r.blocked(), reservation.Counts{}); err != nil {
				return err
			}
			if _, err := w.ExecContext(ctx, s.q(`DELETE FROM reservation_codes WHERE reservation_id = ?`), r.id); err != nil {
				return fmt.Errorf("deleting codes: %w", err)
			}
			if _, err := w.ExecContext(ctx, s.q(`DELETE FROM reservations WHERE id = ?`), r.id); err != nil {
				return fmt.Errorf("deleting reservation: %w", err)
			}
			info = rs.info(r, va)
			return s.event(ctx, w, vaID, now, EventReservationReturned, r.req.UDI.String(), rc.Kind.String()+"; licenses returned: "+CountsText(info.Blocked))
		}
		return fmt.Errorf("%w: %w: the return code was not made by a product instance reserved in virtual account %q for a code issued to it", ErrInvalid, reservation.ErrWrongReturn, va)
	})
	if err != nil {
		return nil, err
	}
	return info, nil
}

// List returns the reserved product instances of va (codes without text).
func (rs *Reservations) List(ctx context.Context, va string) ([]ReservationInfo, error) {
	s := rs.store
	vaID, err := s.vaID(ctx, s.db, va)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: s.pg})
	if err != nil {
		return nil, fmt.Errorf("listing reservations: %w", err)
	}
	defer tx.Rollback()
	list, err := rs.loadAll(ctx, &wtx{s: s, tx: tx}, `va_id = ?`, vaID)
	if err != nil {
		return nil, err
	}
	out := []ReservationInfo{}
	for _, r := range list {
		i := rs.info(r, va)
		for j := range i.Codes {
			i.Codes[j].Code = ""
		}
		out = append(out, *i)
	}
	return out, nil
}

func (rs *Reservations) info(r *resRow, va string) *ReservationInfo {
	i := &ReservationInfo{Request: r.req.String(), UDI: r.req.UDI.String(), PIID: r.req.PIID(), Kind: r.kind, VirtualAccount: va, Blocked: r.blocked(), Codes: []ReservationCode{}}
	for _, c := range r.codes {
		i.Codes = append(i.Codes, ReservationCode{ID: c.codeID.String(), Kind: c.kind, ExportControl: c.export, Issued: time.UnixMilli(c.issued).UTC(), State: c.state, Holding: c.holding, Code: c.text})
	}
	return i
}

func (rs *Reservations) load(ctx context.Context, w *wtx, where string, args ...any) (*resRow, error) {
	list, err := rs.loadAll(ctx, w, where, args...)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return list[0], nil
}

func (rs *Reservations) loadAll(ctx context.Context, w *wtx, where string, args ...any) ([]*resRow, error) {
	s := rs.store
	rows, err := w.QueryContext(ctx, s.q(`SELECT id, va_id, request, kind, last_issued, wrong_confirmations FROM reservations WHERE `+where+` ORDER BY id`), args...)
	if err != nil {
		return nil, fmt.Errorf("reading reservations: %w", err)
	}
	var list []*resRow
	for rows.Next() {
		r := &resRow{}
		var req string
		if err := rows.Scan(&r.id, &r.vaID, &req, &r.kind, &r.lastIssued, &r.wrong); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading reservations: %w", err)
		}
		if r.req, err = reservation.ParseRequestCode(req); err != nil {
			rows.Close()
			return nil, fmt.Errorf("stored request code %q: %w", req, err)
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading reservations: %w", err)
	}
	for _, r := range list {
		rows, err := w.QueryContext(ctx, s.q(`SELECT id, code_id, kind, export_control, issued_at, holding, state, code FROM reservation_codes WHERE reservation_id = ? ORDER BY issued_at`), r.id)
		if err != nil {
			return nil, fmt.Errorf("reading codes: %w", err)
		}
		for rows.Next() {
			var c codeRow
			var id, hj string
			var exp int
			if err := rows.Scan(&c.id, &id, &c.kind, &exp, &c.issued, &hj, &c.state, &c.text); err != nil {
				rows.Close()
				return nil, fmt.Errorf("reading codes: %w", err)
			}
			c.export = exp != 0
			if c.codeID, err = reservation.ParseCodeID(id); err != nil {
				rows.Close()
				return nil, err
			}
			if err := json.Unmarshal([]byte(hj), &c.holding); err != nil {
				rows.Close()
				return nil, fmt.Errorf("stored holding %q: %w", hj, err)
			}
			r.codes = append(r.codes, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("reading codes: %w", err)
		}
	}
	return list, nil
}

// pool reads a virtual account's purchased, in use and reserved counts.
func (rs *Reservations) pool(ctx context.Context, w *wtx, vaID int64) (purchased, inUse, reserved reservation.Counts, err error) {
	s := rs.store
	if err := ensureLicenseRows(ctx, s, w, vaID); err != nil {
		return nil, nil, nil, err
	}
	rows, err := w.QueryContext(ctx, s.q(`SELECT type, purchased, in_use, reserved FROM licenses WHERE va_id = ?`), vaID)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading licenses: %w", err)
	}
	defer rows.Close()
	purchased, inUse, reserved = reservation.Counts{}, reservation.Counts{}, reservation.Counts{}
	for rows.Next() {
		var t string
		var p, u, r int64
		if err := rows.Scan(&t, &p, &u, &r); err != nil {
			return nil, nil, nil, fmt.Errorf("reading licenses: %w", err)
		}
		lt := reservation.LicenseType(t)
		purchased[lt], inUse[lt], reserved[lt] = int(p), int(u), int(r)
	}
	return purchased, inUse, reserved, rows.Err()
}

func (rs *Reservations) adjustReserved(ctx context.Context, w *wtx, vaID int64, before, after reservation.Counts) error {
	for _, t := range reservation.PoolTypes() {
		if d := after[t] - before[t]; d != 0 {
			if _, err := w.ExecContext(ctx, rs.store.q(`UPDATE licenses SET reserved = reserved + ? WHERE va_id = ? AND type = ?`), d, vaID, string(t)); err != nil {
				return fmt.Errorf("updating reserved licenses: %w", err)
			}
		}
	}
	return nil
}

// CountsText formats counts as TYPE=N,... in pool order, or "none".
func CountsText(c reservation.Counts) string {
	var parts []string
	for _, t := range reservation.PoolTypes() {
		if c[t] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", t, c[t]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// writeTx runs f in a transaction of its own (admin writes).
func (s *Store) writeTx(ctx context.Context, f func(w *wtx) error) error {
	for attempt := 0; ; attempt++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("starting transaction: %w", err)
		}
		w := &wtx{s: s, tx: tx}
		err = f(w)
		if err == nil {
			err = w.flush(ctx)
		}
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
		if err != nil && isRetryable(err) && attempt < maxRetries {
			continue
		}
		return err
	}
}

// poolTypeNames lists the pool's license types as stored.
func poolTypeNames() []string {
	var out []string
	for _, t := range reservation.PoolTypes() {
		out = append(out, string(t))
	}
	return out
}
