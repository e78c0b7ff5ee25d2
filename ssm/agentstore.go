package ssm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"vxway/licproto"
)

// instanceRow is the part of an instance the agent operations need.
type instanceRow struct {
	id, vaID     int64
	udi          string
	publicKey    string // base64 PKIX DER
	certNotAfter int64  // unix ms
	seq          int64  // the highest request counter accepted (seq.go)
}

// lockInstance locks and reads instance udi, after settling the
// authorizations of udi pending in the transaction (wtx.settleFor).
func (s *Store) lockInstance(ctx context.Context, tx *wtx, udi string) (*instanceRow, error) {
	if err := tx.settleFor(ctx, udi); err != nil {
		return nil, err
	}
	q := `SELECT id, va_id, public_key, cert_not_after, seq FROM instances WHERE udi = ?`
	if s.pg {
		q += ` FOR UPDATE`
	}
	in := &instanceRow{udi: udi}
	err := tx.QueryRowContext(ctx, s.q(q), udi).Scan(&in.id, &in.vaID, &in.publicKey, &in.certNotAfter, &in.seq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: product instance %q", ErrNotFound, udi)
	}
	if err != nil {
		return nil, fmt.Errorf("reading instance: %w", err)
	}
	return in, nil
}

// notRegisteredWith is the one refusal of a signed request (renewal,
// authorization, deregistration) from an instance the manager does not
// know and of one signed by another key than the instance's: a stranger
// cannot tell from the answer whether a UDI is registered.
func notRegisteredWith(udi string) error {
	return licproto.Errorf(licproto.CodeNotRegistered, "product instance %s is not registered with this manager under the key that signed this request; register it with a token", udi)
}

// agentInstance is lockInstance for agent requests: an unknown instance or
// a key that is not the one that signed the request are refused alike
// (notRegisteredWith).
// With live set, an instance whose identity certificate has expired (a
// year without renewal) is refused too: it must register again. A request
// counter seq that is not above the last one accepted is refused as a
// replay (seq.go).
func (s *Store) agentInstance(ctx context.Context, tx *wtx, udi, signedBy string, seq int64, live bool, now time.Time) (*instanceRow, error) {
	in, err := s.lockInstance(ctx, tx, udi)
	if errors.Is(err, ErrNotFound) {
		return nil, notRegisteredWith(udi)
	}
	if err != nil {
		return nil, err
	}
	if err := s.admitInstance(tx, in, signedBy, seq, live, now); err != nil {
		return nil, err
	}
	return in, nil
}

// admitInstance refuses a request signed by another key than the
// instance's, one whose counter seq is not above the last one accepted
// (seq.go), and, with live set, one from an instance whose registration
// expired.
func (s *Store) admitInstance(tx *wtx, in *instanceRow, signedBy string, seq int64, live bool, now time.Time) error {
	if in.publicKey != signedBy {
		return notRegisteredWith(in.udi)
	}
	if err := s.checkSeq(tx, in, seq); err != nil {
		return err
	}
	if live && now.UnixMilli() >= in.certNotAfter {
		return licproto.Errorf(licproto.CodeNotRegistered, "the registration of %s expired on %s (its certificate was not renewed); register it again with a token",
			in.udi, time.UnixMilli(in.certNotAfter).UTC().Format(time.RFC3339))
	}
	return nil
}

// InstanceKey returns the registered public key (base64 PKIX DER) of udi.
func (s *Store) InstanceKey(ctx context.Context, udi string) (string, error) {
	var k string
	err := rdb{s}.QueryRowContext(ctx, s.q(`SELECT public_key FROM instances WHERE udi = ?`), udi).Scan(&k)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notRegisteredWith(udi)
	}
	if err != nil {
		return "", fmt.Errorf("reading key of %s: %w", udi, err)
	}
	return k, nil
}

// TokenGrant is what a valid token grants, with the names answered to the
// device.
type TokenGrant struct {
	ID               int64
	VAID             int64
	SmartAccount     string
	VirtualAccount   string
	ExportControlled bool

	maxUses int64
}

// CheckToken looks a token up without using it and returns what it grants,
// or the licproto error saying why it is refused.
func (s *Store) CheckToken(ctx context.Context, token string, now time.Time) (*TokenGrant, error) {
	g, err := s.checkToken(ctx, rdb{s}, token, now)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// checkToken returns the grant of a known token, and also the refusal when
// it is revoked, expired or used up (the grant is nil only for unknown
// tokens and database errors).

func (s *Store) checkToken(ctx context.Context, q queryer, token string, now time.Time) (*TokenGrant, error) {
	var g TokenGrant
	var expires, maxUses, uses, revoked int64
	var exp int
	err := q.QueryRowContext(ctx, s.q(`SELECT t.id, t.va_id, a.name, v.name, t.export_controlled, t.expires_at, t.max_uses, t.uses, t.revoked_at
		FROM tokens t JOIN virtual_accounts v ON v.id = t.va_id JOIN accounts a ON a.id = v.account_id WHERE t.hash = ?`), hashToken(token)).
		Scan(&g.ID, &g.VAID, &g.SmartAccount, &g.VirtualAccount, &exp, &expires, &maxUses, &uses, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, licproto.Errorf(licproto.CodeUnknownToken, "the registration token is not known to this manager; check it or create a new one")
	}
	if err != nil {
		return nil, fmt.Errorf("reading token: %w", err)
	}
	g.ExportControlled, g.maxUses = exp != 0, maxUses
	switch {
	case revoked != 0:
		return &g, licproto.Errorf(licproto.CodeTokenRevoked, "the registration token was revoked on %s; create a new one", time.UnixMilli(revoked).UTC().Format("2006-01-02"))
	case now.UnixMilli() >= expires:
		return &g, licproto.Errorf(licproto.CodeTokenExpired, "the registration token expired on %s; create a new one", time.UnixMilli(expires).UTC().Format(time.RFC3339))
	case maxUses > 0 && uses >= maxUses:
		return &g, licproto.Errorf(licproto.CodeTokenUsedUp, "the registration token has been used %d of %d times; create a new one", uses, maxUses)
	}
	return &g, nil
}

// Registration is the data a register request stores.
type Registration struct {
	Token        string
	UDI          string
	PublicKey    string // base64 PKIX DER
	CertSerial   string
	CertNotAfter time.Time
	Hostname     string
	IP           string
	Reregister   bool
	Seq          int64 // the request counter, 0 for a legacy request
}

// Register stores a registration (or a reregistration to the token's
// virtual account) and uses the token once. The token is judged first, so
// a bad token learns nothing about the instance. An instance already
// registered moves only by a request signed by its registered key: the
// register request is signed by the key it carries, so that key must be
// the registered one; any other key is refused, reregister or not, and
// the refusal names no virtual account. A repeated registration of the
// same instance with the same key to the same virtual account (a device
// retrying after a lost answer) only renews the certificate.
func (s *Store) Register(ctx context.Context, r *Registration, now time.Time) (*TokenGrant, error) {
	var grant *TokenGrant
	var fresh bool // a new instance, without usage
	err := s.batch.do(ctx, r.UDI, func(ctx context.Context, tx *wtx) error {
		g, terr := s.checkToken(ctx, tx, r.Token, now)
		if g == nil {
			return terr
		}
		in, err := s.lockInstance(ctx, tx, r.UDI)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		retry := in != nil && in.publicKey == r.PublicKey && in.vaID == g.VAID
		// A retry after a lost answer may find the token used up by the
		// registration it repeats.
		if terr != nil && !(retry && errors.Is(terr, licproto.ErrTokenUsedUp)) {
			return terr
		}
		if in != nil && in.publicKey != r.PublicKey {
			return licproto.Errorf(licproto.CodeAlreadyRegistered,
				"product instance %s is registered with this manager under another key, and only that key can register it again; "+
					"if the device lost its key (a factory reset without keeping licensing), the manager's administrator must remove the instance first", r.UDI)
		}
		if in != nil {
			if err := s.checkSeq(tx, in, r.Seq); err != nil {
				return err
			}
		} else if err := s.checkRetired(ctx, tx, r.PublicKey, r.Seq); err != nil {
			return err
		}
		if in != nil && !retry && !r.Reregister {
			return licproto.Errorf(licproto.CodeAlreadyRegistered,
				"product instance %s is already registered to another virtual account; register it with reregister to move it to this token's", r.UDI)
		}
		switch {
		case retry:
		case g.maxUses == 0:
			tx.useToken(g.ID)
		default:
			res, err := tx.ExecContext(ctx, s.q(`UPDATE tokens SET uses = uses + 1 WHERE id = ? AND revoked_at = 0 AND uses < max_uses`), g.ID)
			if err != nil {
				return fmt.Errorf("using token: %w", err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return licproto.Errorf(licproto.CodeTokenUsedUp, "the registration token has no uses left; create a new one")
			}
		}
		ms := now.UnixMilli()
		fresh = in == nil
		if in == nil {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO instances (udi, va_id, public_key, cert_serial, cert_not_after, hostname, ip, export_controlled, token_id, registered_at, renewed_at, last_seen, seq)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				r.UDI, g.VAID, r.PublicKey, r.CertSerial, r.CertNotAfter.UnixMilli(), r.Hostname, r.IP, b2i(g.ExportControlled), g.ID, ms, ms, ms, r.Seq); err != nil {
				return fmt.Errorf("storing instance: %w", err)
			}
			grant = g
			return s.event(ctx, tx, g.VAID, now, EventRegistered, r.UDI, hostDetail(r.Hostname, r.IP))
		}
		if from := in.vaID; from != g.VAID {
			if err := s.moveInstance(ctx, tx, in, g.VAID); err != nil {
				return err
			}
			if err := s.event(ctx, tx, from, now, EventReregistered, r.UDI, "moved to virtual account "+g.VirtualAccount); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE instances SET public_key = ?, cert_serial = ?, cert_not_after = ?, hostname = ?, ip = ?, export_controlled = ?, token_id = ?,
			registered_at = ?, renewed_at = ?, last_seen = ?, seq = ? WHERE id = ?`),
			r.PublicKey, r.CertSerial, r.CertNotAfter.UnixMilli(), r.Hostname, r.IP, b2i(g.ExportControlled), g.ID, ms, ms, ms, max(s.lastSeq(tx, in), r.Seq), in.id); err != nil {
			return fmt.Errorf("updating instance: %w", err)
		}
		grant = g
		kind := EventReregistered
		if retry {
			kind = EventRegistered
		}
		return s.event(ctx, tx, g.VAID, now, kind, r.UDI, hostDetail(r.Hostname, r.IP))
	})
	if err != nil {
		return nil, err
	}
	if fresh {
		s.hints.set(r.UDI, "")
	} else {
		s.hints.forget(r.UDI)
	}
	return grant, nil
}

func hostDetail(host, ip string) string {
	if host == "" && ip == "" {
		return "hostname and IP withheld"
	}
	return strings.TrimSpace("hostname " + host + " ip " + ip)
}

// moveInstance moves an instance's usage to virtual account to.
func (s *Store) moveInstance(ctx context.Context, tx *wtx, in *instanceRow, to int64) error {
	if err := tx.settle(ctx); err != nil {
		return err
	}
	usage, err := s.instanceUsage(ctx, tx, in.id)
	if err != nil {
		return err
	}
	if err := ensureLicenseRows(ctx, s, tx, to); err != nil {
		return err
	}
	for t, n := range usage {
		if n == 0 {
			continue
		}
		if err := s.addInUse(ctx, tx, in.vaID, t, -n); err != nil {
			return err
		}
		if err := s.addInUse(ctx, tx, to, t, n); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE instances SET va_id = ? WHERE id = ?`), to, in.id); err != nil {
		return fmt.Errorf("moving instance: %w", err)
	}
	in.vaID = to
	return nil
}

func (s *Store) addInUse(ctx context.Context, tx *wtx, vaID int64, t licproto.LicenseType, d int64) error {
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE licenses SET in_use = in_use + ? WHERE va_id = ? AND type = ?`), d, vaID, string(t)); err != nil {
		return fmt.Errorf("updating licenses in use: %w", err)
	}
	return nil
}

func (s *Store) instanceUsage(ctx context.Context, tx *wtx, id int64) (map[licproto.LicenseType]int64, error) {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT type, in_use FROM instance_usage WHERE instance_id = ?`), id)
	if err != nil {
		return nil, fmt.Errorf("reading instance usage: %w", err)
	}
	defer rows.Close()
	out := map[licproto.LicenseType]int64{}
	for rows.Next() {
		var t string
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			return nil, fmt.Errorf("reading instance usage: %w", err)
		}
		out[licproto.LicenseType(t)] = n
	}
	return out, rows.Err()
}

func (s *Store) deleteInstance(ctx context.Context, tx *wtx, in *instanceRow) error {
	// The authorizations of the batch so far are judged first: they
	// count in the usage returned and in the key's last counter.
	if err := tx.settle(ctx); err != nil {
		return err
	}
	if err := s.retireKey(ctx, tx, in.publicKey, s.lastSeq(tx, in)); err != nil {
		return err
	}
	s.seqs.forget(in.id)
	usage, err := s.instanceUsage(ctx, tx, in.id)
	if err != nil {
		return err
	}
	for t, n := range usage {
		if n != 0 {
			if err := s.addInUse(ctx, tx, in.vaID, t, -n); err != nil {
				return err
			}
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM instance_usage WHERE instance_id = ?`), in.id); err != nil {
		return fmt.Errorf("deleting instance usage: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM instances WHERE id = ?`), in.id); err != nil {
		return fmt.Errorf("deleting instance: %w", err)
	}
	return nil
}

// Renewal is the data a renew_registration request stores.
type Renewal struct {
	UDI          string
	SignedBy     string // base64 PKIX DER of the key that signed the request
	NewKey       string // replacement key, or empty
	CertSerial   string
	CertNotAfter time.Time
	Hostname     string
	IP           string
	Seq          int64 // the request counter, 0 for a legacy request
}

// Renew records a renewed registration and returns the instance's names.
func (s *Store) Renew(ctx context.Context, r *Renewal, now time.Time) (*TokenGrant, error) {
	var g TokenGrant
	err := s.batch.do(ctx, r.UDI, func(ctx context.Context, tx *wtx) error {
		in, err := s.agentInstance(ctx, tx, r.UDI, r.SignedBy, r.Seq, true, now)
		if err != nil {
			return err
		}
		seq := max(s.lastSeq(tx, in), r.Seq)
		key := in.publicKey
		if r.NewKey != "" && r.NewKey != key {
			// Requests the replaced key signed stay refused.
			if err := s.retireKey(ctx, tx, key, seq); err != nil {
				return err
			}
			key = r.NewKey
		}
		ms := now.UnixMilli()
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE instances SET public_key = ?, cert_serial = ?, cert_not_after = ?, hostname = ?, ip = ?, renewed_at = ?, last_seen = ?, seq = ? WHERE id = ?`),
			key, r.CertSerial, r.CertNotAfter.UnixMilli(), r.Hostname, r.IP, ms, ms, seq, in.id); err != nil {
			return fmt.Errorf("renewing instance: %w", err)
		}
		var exp int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT a.name, v.name, i.export_controlled FROM instances i JOIN virtual_accounts v ON v.id = i.va_id JOIN accounts a ON a.id = v.account_id WHERE i.id = ?`), in.id).
			Scan(&g.SmartAccount, &g.VirtualAccount, &exp); err != nil {
			return fmt.Errorf("reading instance names: %w", err)
		}
		g.VAID, g.ExportControlled = in.vaID, exp != 0
		return s.event(ctx, tx, in.vaID, now, EventRenewed, r.UDI, hostDetail(r.Hostname, r.IP))
	})
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// Authorize records the usage an instance reports and judges each type in
// use: authorized while the instance's usage fits in what the virtual
// account has left after every other instance's usage and reservations,
// out of compliance otherwise.
//
// A change of usage waits in the writer's transaction for its end
// (wtx.settle), where the batch's instances are locked and read with their
// usage, a few per statement, then the license rows of their virtual
// accounts, once for the whole batch; every pending authorization is
// judged against them one after the other, and the new usage, verdicts
// and counters are written a few rows per statement. The shared license
// rows are so held only from the end of the batch to its commit, and
// always after the instance rows.
//
// seq is the request's counter (0 for a legacy request): settle refuses it
// as a replay when it is not above the instance's last one (seq.go), and
// writes it with the instance's last contact.
func (s *Store) Authorize(ctx context.Context, udi, signedBy string, seq int64, usage map[licproto.LicenseType]int, now time.Time) (*licproto.AuthorizeResult, error) {
	key := usageKey(usage)
	if !s.hints.changed(udi, usage) {
		if res := s.authorizeUnchanged(ctx, udi, signedBy, seq, usage, now); res != nil {
			s.hints.set(udi, key)
			return res, nil
		}
	}
	pa := &pendingAuth{udi: udi, signedBy: signedBy, seq: seq, usage: map[licproto.LicenseType]int64{}, now: now}
	for t, n := range usage {
		pa.usage[t] = int64(n)
	}
	err := s.batch.do(ctx, udi, func(ctx context.Context, tx *wtx) error {
		tx.pend(pa)
		return nil
	})
	if err == nil {
		err = pa.err
	}
	if err != nil {
		s.hints.forget(udi)
		return nil, err
	}
	s.seqs.note(pa.id, seq)
	s.hints.set(udi, key)
	return pa.res, nil
}

// verdict judges an instance using n licenses of a type of which the
// virtual account has purchased, inUse (this instance's n included) and
// reserved: authorized while n fits in what is left after every other
// instance's usage and the reservations.
func verdict(purchased, inUse, reserved, n int64) licproto.LicenseState {
	if n > purchased-reserved-(inUse-n) {
		return licproto.StateOutOfCompliance
	}
	return licproto.StateAuthorized
}

// authorizeUnchanged answers a renewal that changes nothing durable: the
// instance reports the usage it reported before and every type keeps the
// verdict stored with it, as does the instance. Such an answer depends
// only on committed state, so it need not wait for a transaction of its
// own; the instance's last contact and the event are deferred to the next
// transaction (see batcher.soft). It returns nil whenever anything would
// change, or cannot be judged from one read (an unknown instance, another
// key, an expired registration, missing license rows, a full deferral
// queue, a database error): the durable path then decides and gives the
// exact refusal.
//
// Its counter seq must be above the instance's committed one and every one
// this process accepted; it is written with the deferred last contact.
func (s *Store) authorizeUnchanged(ctx context.Context, udi, signedBy string, seq int64, usage map[licproto.LicenseType]int, now time.Time) *licproto.AuthorizeResult {
	// One statement, so one snapshot: the instance with its usage, then
	// with its virtual account's licenses.
	rows, err := rdb{s}.QueryContext(ctx, s.q(`SELECT i.id, i.va_id, i.public_key, i.cert_not_after, i.last_state, i.seq, 0, u.type, u.in_use, 0, 0, u.state
		FROM instances i JOIN instance_usage u ON u.instance_id = i.id WHERE i.udi = ?
		UNION ALL SELECT i.id, i.va_id, i.public_key, i.cert_not_after, i.last_state, i.seq, 1, l.type, l.purchased, l.in_use, l.reserved, ''
		FROM instances i JOIN licenses l ON l.va_id = i.va_id WHERE i.udi = ?`), udi, udi)
	if err != nil {
		return nil
	}
	defer rows.Close()
	type counts struct{ purchased, inUse, reserved int64 }
	old, oldState := map[licproto.LicenseType]int64{}, map[licproto.LicenseType]string{}
	lic := map[licproto.LicenseType]counts{}
	var id, vaID, notAfter, lastSeq int64
	var key, lastState string
	for rows.Next() {
		var src int
		var t, st string
		var a, b, c int64
		if err := rows.Scan(&id, &vaID, &key, &notAfter, &lastState, &lastSeq, &src, &t, &a, &b, &c, &st); err != nil {
			return nil
		}
		lt := licproto.LicenseType(t)
		if src == 0 {
			old[lt], oldState[lt] = a, st
		} else {
			lic[lt] = counts{purchased: a, inUse: b, reserved: c}
		}
	}
	if rows.Err() != nil || key == "" || key != signedBy || now.UnixMilli() >= notAfter || len(lic) < len(poolTypeNames()) {
		return nil
	}
	res := &licproto.AuthorizeResult{State: licproto.StateAuthorized, Licenses: []licproto.LicenseResult{}}
	var detail []string
	for _, t := range licproto.LicenseTypes() {
		n := int64(usage[t])
		was, has := old[t]
		if n != was {
			return nil
		}
		if n == 0 {
			if has {
				return nil
			}
			continue
		}
		c, ok := lic[t]
		if !ok {
			return nil
		}
		state := verdict(c.purchased, c.inUse, c.reserved, n)
		if oldState[t] != string(state) {
			return nil
		}
		if state == licproto.StateOutOfCompliance {
			res.State = licproto.StateOutOfCompliance
		}
		res.Licenses = append(res.Licenses, licproto.LicenseResult{Type: t, InUse: int(n), State: state})
		detail = append(detail, fmt.Sprintf("%s %d %s", t, n, state))
	}
	if lastState != string(res.State) {
		return nil
	}
	kind := EventAuthorized
	if res.State == licproto.StateOutOfCompliance {
		kind = EventOutOfCompliance
	}
	if len(detail) == 0 {
		detail = append(detail, "no licenses in use")
	}
	// A replay takes the durable path, which refuses it with the last
	// counter (a legacy request is guarded by the manager's memory).
	var prev int64
	if seq != 0 {
		var ok bool
		if prev, ok = s.seqs.take(id, seq, lastSeq); !ok {
			return nil
		}
	}
	ms := now.UnixMilli()
	if !s.batch.deferSoft(softRow{id: id, at: ms, seq: seq, event: []any{vaID, ms, kind, udi, strings.Join(detail, ", ")}}) {
		// The durable path takes the request, counter and all.
		if seq != 0 {
			s.seqs.untake(id, seq, prev)
		}
		return nil
	}
	s.batch.softOps.Add(1)
	return res
}

// Deregister removes an instance at its own request; its licenses return
// to the virtual account at once.
// seq is the request's counter (0 for a legacy request).
func (s *Store) Deregister(ctx context.Context, udi, signedBy string, seq int64, now time.Time) error {
	defer s.hints.forget(udi)
	return s.batch.do(ctx, udi, func(ctx context.Context, tx *wtx) error {
		in, err := s.agentInstance(ctx, tx, udi, signedBy, seq, false, now)
		if err != nil {
			return err
		}
		in.seq = max(in.seq, seq)
		if err := s.deleteInstance(ctx, tx, in); err != nil {
			return err
		}
		return s.event(ctx, tx, in.vaID, now, EventDeregistered, udi, "")
	})
}
