package ssm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"vxway/licproto"
)

// Limits of admin input.
const (
	MaxNameLen        = 64
	MaxLicenseCount   = 1_000_000
	DefaultTokenDays  = 30
	MaxTokenDays      = 365
	EventsDefaultSize = 100
)

// CheckName reports whether s is usable as an account or virtual account
// name: 1..64 printable characters, not blank.
func CheckName(kind, s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("%w: %s name is empty", ErrInvalid, kind)
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("%w: %s name is %d characters, more than %d", ErrInvalid, kind, len(s), MaxNameLen)
	}
	return checkText(kind+" name", s)
}

// checkText refuses text that a page or a terminal would not show as it
// was typed: not UTF-8 (a form's fields, unlike JSON strings, arrive
// undecoded, and PostgreSQL refuses them), or holding a control
// character (C0, DEL or C1, which a terminal may take for an escape) or
// a bidirectional control (which reorders what a terminal shows).
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not UTF-8 text", ErrInvalid, what)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return fmt.Errorf("%w: %s contains a control character (%U)", ErrInvalid, what, r)
		}
	}
	return nil
}

// Account is a smart account.
type Account struct {
	Name            string   `json:"name"`
	VirtualAccounts []string `json:"virtual_accounts"`
}

// CreateAccount adds a smart account.
func (s *Store) CreateAccount(ctx context.Context, name string, now time.Time) error {
	if err := CheckName("account", name); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO accounts (name, created_at) VALUES (?, ?)`), name, now.UnixMilli())
	if isUnique(err) {
		return fmt.Errorf("%w: smart account %q", ErrExists, name)
	}
	if err != nil {
		return fmt.Errorf("creating smart account %q: %w", name, err)
	}
	return nil
}

// Accounts lists the smart accounts with their virtual accounts.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT a.name, COALESCE(v.name, '') FROM accounts a LEFT JOIN virtual_accounts v ON v.account_id = a.id ORDER BY a.name, v.name`)
	if err != nil {
		return nil, fmt.Errorf("listing accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		var a, v string
		if err := rows.Scan(&a, &v); err != nil {
			return nil, fmt.Errorf("listing accounts: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Name != a {
			out = append(out, Account{Name: a, VirtualAccounts: []string{}})
		}
		if v != "" {
			out[len(out)-1].VirtualAccounts = append(out[len(out)-1].VirtualAccounts, v)
		}
	}
	return out, rows.Err()
}

// CreateVA adds virtual account name to smart account account. Virtual
// account names are unique across the manager.
func (s *Store) CreateVA(ctx context.Context, account, name string, now time.Time) error {
	if err := CheckName("virtual account", name); err != nil {
		return err
	}
	var aid int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id FROM accounts WHERE name = ?`), account).Scan(&aid)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: smart account %q (create it with: ssm account create)", ErrNotFound, account)
	}
	if err != nil {
		return fmt.Errorf("finding smart account %q: %w", account, err)
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO virtual_accounts (account_id, name, created_at) VALUES (?, ?, ?)`), aid, name, now.UnixMilli())
	if isUnique(err) {
		return fmt.Errorf("%w: virtual account %q", ErrExists, name)
	}
	if err != nil {
		return fmt.Errorf("creating virtual account %q: %w", name, err)
	}
	return nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// vaID finds a virtual account by name.
func (s *Store) vaID(ctx context.Context, q queryer, va string) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, s.q(`SELECT id FROM virtual_accounts WHERE name = ?`), va).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: virtual account %q (create it with: ssm va create)", ErrNotFound, va)
	}
	if err != nil {
		return 0, fmt.Errorf("finding virtual account %q: %w", va, err)
	}
	return id, nil
}

// AddLicenses adds count purchased licenses of type typ to virtual
// account va.
func (s *Store) AddLicenses(ctx context.Context, va string, typ licproto.LicenseType, count int) error {
	if !slices.Contains(poolTypeNames(), string(typ)) {
		return fmt.Errorf("%w: license type %q is not one of rms, room, desktop, plr, plr-ec", ErrInvalid, typ)
	}
	if count < 1 || count > MaxLicenseCount {
		return fmt.Errorf("%w: count %d is outside 1..%d", ErrInvalid, count, MaxLicenseCount)
	}
	id, err := s.vaID(ctx, s.db, va)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("adding licenses: %w", err)
	}
	defer tx.Rollback()
	if err := ensureLicenseRows(ctx, s, &wtx{s: s, tx: tx}, id); err != nil {
		return err
	}
	var total int64
	if err := tx.QueryRowContext(ctx, s.q(`UPDATE licenses SET purchased = purchased + ? WHERE va_id = ? AND type = ? RETURNING purchased`), count, id, string(typ)).Scan(&total); err != nil {
		return fmt.Errorf("adding licenses: %w", err)
	}
	if total > MaxLicenseCount {
		return fmt.Errorf("%w: %s would hold %d %s licenses, more than %d", ErrInvalid, va, total, typ, MaxLicenseCount)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("adding licenses: %w", err)
	}
	return nil
}

// ensureLicenseRows makes the per-type license rows of a virtual account.
func ensureLicenseRows(ctx context.Context, s *Store, tx *wtx, vaID int64) error {
	for _, t := range poolTypeNames() {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO licenses (va_id, type) VALUES (?, ?) ON CONFLICT (va_id, type) DO NOTHING`), vaID, t); err != nil {
			return fmt.Errorf("preparing license rows: %w", err)
		}
	}
	return nil
}

// LicenseCount is one row of a virtual account's license table.
type LicenseCount struct {
	Type      licproto.LicenseType `json:"type"`
	Purchased int64                `json:"purchased"`
	InUse     int64                `json:"in_use"`
	Reserved  int64                `json:"reserved"`
	Available int64                `json:"available"`
}

// Licenses lists the license counts of virtual account va for every type
// of the pool: the device types (rms, room, desktop), then the PLR
// licenses (plr, plr-ec) reservation codes take.
func (s *Store) Licenses(ctx context.Context, va string) ([]LicenseCount, error) {
	id, err := s.vaID(ctx, s.db, va)
	if err != nil {
		return nil, err
	}
	got := map[licproto.LicenseType]LicenseCount{}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT type, purchased, in_use, reserved FROM licenses WHERE va_id = ?`), id)
	if err != nil {
		return nil, fmt.Errorf("listing licenses: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c LicenseCount
		var t string
		if err := rows.Scan(&t, &c.Purchased, &c.InUse, &c.Reserved); err != nil {
			return nil, fmt.Errorf("listing licenses: %w", err)
		}
		c.Type = licproto.LicenseType(t)
		got[c.Type] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing licenses: %w", err)
	}
	var out []LicenseCount
	for _, name := range poolTypeNames() {
		t := licproto.LicenseType(name)
		c := got[t]
		c.Type = t
		c.Available = max(c.Purchased-c.InUse-c.Reserved, 0)
		out = append(out, c)
	}
	return out, nil
}

// TokenOptions are the settings of a new registration token.
type TokenOptions struct {
	// ExpiresDays is the validity in days, 1..365 (0 means 30).
	ExpiresDays int
	// MaxUses is how many registrations the token allows (0: unlimited).
	MaxUses int
	// ExportControlled is the "allow export-controlled functionality" flag.
	ExportControlled bool
	// Description says what the token is for (at most
	// MaxDescriptionLen bytes, no control characters; may be empty).
	Description string
}

// MaxDescriptionLen bounds a registration token's description.
const MaxDescriptionLen = 100

// checkDescription reports whether d fits a token's description.
func checkDescription(d string) error {
	if len(d) > MaxDescriptionLen {
		return fmt.Errorf("%w: description is %d characters, more than %d", ErrInvalid, len(d), MaxDescriptionLen)
	}
	return checkText("description", d)
}

// TokenInfo describes a token without revealing it.
type TokenInfo struct {
	ID               int64     `json:"id"`
	Hint             string    `json:"hint"`
	VirtualAccount   string    `json:"virtual_account"`
	Description      string    `json:"description"`
	CreatedAt        time.Time `json:"created_at"`
	ExpiresAt        time.Time `json:"expires_at"`
	MaxUses          int64     `json:"max_uses"`
	Uses             int64     `json:"uses"`
	ExportControlled bool      `json:"export_controlled"`
	Revoked          bool      `json:"revoked"`
	RevokedAt        time.Time `json:"revoked_at,omitzero"`
}

// Status is the token's state at now: active, expired, used up or revoked.
func (t *TokenInfo) Status(now time.Time) string {
	switch {
	case t.Revoked:
		return "revoked"
	case !now.Before(t.ExpiresAt):
		return "expired"
	case t.MaxUses > 0 && t.Uses >= t.MaxUses:
		return "used up"
	}
	return "active"
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// CreateToken makes a registration token for va and returns it; only its
// hash is stored.
func (s *Store) CreateToken(ctx context.Context, va string, o TokenOptions, now time.Time) (string, *TokenInfo, error) {
	if o.ExpiresDays == 0 {
		o.ExpiresDays = DefaultTokenDays
	}
	if o.ExpiresDays < 1 || o.ExpiresDays > MaxTokenDays {
		return "", nil, fmt.Errorf("%w: expiry of %d days is outside 1..%d", ErrInvalid, o.ExpiresDays, MaxTokenDays)
	}
	if o.MaxUses < 0 || o.MaxUses > MaxLicenseCount {
		return "", nil, fmt.Errorf("%w: uses %d is outside 0..%d (0 is unlimited)", ErrInvalid, o.MaxUses, MaxLicenseCount)
	}
	if err := checkDescription(o.Description); err != nil {
		return "", nil, err
	}
	id, err := s.vaID(ctx, s.db, va)
	if err != nil {
		return "", nil, err
	}
	tok, err := newTokenString()
	if err != nil {
		return "", nil, err
	}
	info := &TokenInfo{Hint: licproto.MaskToken(tok), VirtualAccount: va, CreatedAt: now.UTC().Truncate(time.Millisecond),
		ExpiresAt: now.UTC().Truncate(time.Millisecond).AddDate(0, 0, o.ExpiresDays), MaxUses: int64(o.MaxUses), ExportControlled: o.ExportControlled, Description: o.Description}
	err = s.db.QueryRowContext(ctx, s.q(`INSERT INTO tokens (hash, hint, va_id, created_at, expires_at, max_uses, export_controlled, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		hashToken(tok), info.Hint, id, info.CreatedAt.UnixMilli(), info.ExpiresAt.UnixMilli(), o.MaxUses, b2i(o.ExportControlled), o.Description).Scan(&info.ID)
	if err != nil {
		return "", nil, fmt.Errorf("storing token: %w", err)
	}
	return tok, info, nil
}

// RevokeToken revokes a token given in full or by the id shown in token
// lists.
func (s *Store) RevokeToken(ctx context.Context, tokenOrID string, now time.Time) (*TokenInfo, error) {
	where, arg := `hash = ?`, any(hashToken(tokenOrID))
	if n, err := strconv.ParseInt(tokenOrID, 10, 64); err == nil {
		where, arg = `id = ?`, n
	} else if err := licproto.CheckToken(tokenOrID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE tokens SET revoked_at = ? WHERE revoked_at = 0 AND `+where), now.UnixMilli(), arg)
	if err != nil {
		return nil, fmt.Errorf("revoking token: %w", err)
	}
	_ = res
	infos, err := s.tokens(ctx, `t.`+where, arg)
	if err != nil {
		return nil, err
	}
	if len(infos) == 0 {
		return nil, fmt.Errorf("%w: no such token (give the whole token or its id from: ssm token list)", ErrNotFound)
	}
	return &infos[0], nil
}

// Tokens lists the tokens of va.
func (s *Store) Tokens(ctx context.Context, va string) ([]TokenInfo, error) {
	id, err := s.vaID(ctx, s.db, va)
	if err != nil {
		return nil, err
	}
	return s.tokens(ctx, `t.va_id = ?`, id)
}

func (s *Store) tokens(ctx context.Context, where string, arg any) ([]TokenInfo, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT t.id, t.hint, v.name, t.created_at, t.expires_at, t.max_uses, t.uses, t.export_controlled, t.revoked_at, t.description
		FROM tokens t JOIN virtual_accounts v ON v.id = t.va_id WHERE `+where+` ORDER BY t.id`), arg)
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	defer rows.Close()
	var out []TokenInfo
	for rows.Next() {
		var t TokenInfo
		var created, expires, revoked int64
		var exp int
		if err := rows.Scan(&t.ID, &t.Hint, &t.VirtualAccount, &created, &expires, &t.MaxUses, &t.Uses, &exp, &revoked, &t.Description); err != nil {
			return nil, fmt.Errorf("listing tokens: %w", err)
		}
		t.CreatedAt, t.ExpiresAt = time.UnixMilli(created).UTC(), time.UnixMilli(expires).UTC()
		t.ExportControlled = exp != 0
		if revoked != 0 {
			t.Revoked, t.RevokedAt = true, time.UnixMilli(revoked).UTC()
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Instance is a registered product instance.
type Instance struct {
	UDI              string          `json:"udi"`
	SmartAccount     string          `json:"smart_account"`
	VirtualAccount   string          `json:"virtual_account"`
	Hostname         string          `json:"hostname"`
	IP               string          `json:"ip"`
	ExportControlled bool            `json:"export_controlled"`
	CertSerial       string          `json:"certificate_serial"`
	CertNotAfter     time.Time       `json:"certificate_not_after"`
	RegisteredAt     time.Time       `json:"registered_at"`
	RenewedAt        time.Time       `json:"renewed_at"`
	LastSeen         time.Time       `json:"last_seen"`
	State            string          `json:"state"`
	Usage            []InstanceUsage `json:"usage"`
}

// InstanceUsage is one license type an instance reported in use.
type InstanceUsage struct {
	Type  licproto.LicenseType `json:"type"`
	InUse int64                `json:"in_use"`
	State string               `json:"state"`
}

// Instances lists the instances of va, or of every virtual account when
// va is empty.
func (s *Store) Instances(ctx context.Context, va string) ([]Instance, error) {
	if err := s.batch.syncSoft(ctx); err != nil {
		return nil, err
	}
	if va == "" {
		return s.instances(ctx, `1 = 1`, nil)
	}
	id, err := s.vaID(ctx, s.db, va)
	if err != nil {
		return nil, err
	}
	return s.instances(ctx, `i.va_id = ?`, id)
}

// Instance returns the instance with udi, with its usage.
func (s *Store) Instance(ctx context.Context, udi string) (*Instance, error) {
	if err := s.batch.syncSoft(ctx); err != nil {
		return nil, err
	}
	return s.instance(ctx, udi)
}

// instance is Instance without writing the deferred last contacts first.
func (s *Store) instance(ctx context.Context, udi string) (*Instance, error) {
	list, err := s.instances(ctx, `i.udi = ?`, udi)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: product instance %q (see: ssm instance list)", ErrNotFound, udi)
	}
	in := &list[0]
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT u.type, u.in_use, u.state FROM instance_usage u JOIN instances i ON i.id = u.instance_id WHERE i.udi = ?`), udi)
	if err != nil {
		return nil, fmt.Errorf("reading usage of %q: %w", udi, err)
	}
	defer rows.Close()
	byType := map[licproto.LicenseType]InstanceUsage{}
	for rows.Next() {
		var u InstanceUsage
		var t string
		if err := rows.Scan(&t, &u.InUse, &u.State); err != nil {
			return nil, fmt.Errorf("reading usage of %q: %w", udi, err)
		}
		u.Type = licproto.LicenseType(t)
		byType[u.Type] = u
	}
	in.Usage = []InstanceUsage{}
	for _, t := range licproto.LicenseTypes() {
		if u, ok := byType[t]; ok && u.InUse > 0 {
			in.Usage = append(in.Usage, u)
		}
	}
	return in, rows.Err()
}

func (s *Store) instances(ctx context.Context, where string, arg any) ([]Instance, error) {
	args := []any{}
	if arg != nil {
		args = append(args, arg)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT i.udi, a.name, v.name, i.hostname, i.ip, i.export_controlled, i.cert_serial, i.cert_not_after,
		i.registered_at, i.renewed_at, i.last_seen, i.last_state
		FROM instances i JOIN virtual_accounts v ON v.id = i.va_id JOIN accounts a ON a.id = v.account_id WHERE `+where+` ORDER BY i.udi`), args...)
	if err != nil {
		return nil, fmt.Errorf("listing instances: %w", err)
	}
	defer rows.Close()
	var out []Instance
	for rows.Next() {
		var in Instance
		var exp int
		var notAfter, reg, ren, seen int64
		if err := rows.Scan(&in.UDI, &in.SmartAccount, &in.VirtualAccount, &in.Hostname, &in.IP, &exp, &in.CertSerial, &notAfter, &reg, &ren, &seen, &in.State); err != nil {
			return nil, fmt.Errorf("listing instances: %w", err)
		}
		in.ExportControlled = exp != 0
		in.CertNotAfter, in.RegisteredAt = time.UnixMilli(notAfter).UTC(), time.UnixMilli(reg).UTC()
		in.RenewedAt, in.LastSeen = time.UnixMilli(ren).UTC(), time.UnixMilli(seen).UTC()
		out = append(out, in)
	}
	return out, rows.Err()
}

// RemoveInstance deletes an instance (as the manager's administrator does
// for a device that could not deregister); its licenses return at once.
func (s *Store) RemoveInstance(ctx context.Context, udi string, now time.Time) error {
	defer s.hints.forget(udi)
	return s.batch.do(ctx, udi, func(ctx context.Context, tx *wtx) error {
		in, err := s.lockInstance(ctx, tx, udi)
		if err != nil {
			return err
		}
		if err := s.deleteInstance(ctx, tx, in); err != nil {
			return err
		}
		return s.event(ctx, tx, in.vaID, now, EventRemoved, udi, "removed by the administrator")
	})
}

// TransferInstance moves an instance and its usage to virtual account va.
func (s *Store) TransferInstance(ctx context.Context, udi, va string, now time.Time) error {
	return s.batch.do(ctx, udi, func(ctx context.Context, tx *wtx) error {
		to, err := s.vaID(ctx, tx, va)
		if err != nil {
			return err
		}
		in, err := s.lockInstance(ctx, tx, udi)
		if err != nil {
			return err
		}
		if in.vaID == to {
			return fmt.Errorf("%w: %q is already in virtual account %q", ErrInvalid, udi, va)
		}
		from := in.vaID
		if err := s.moveInstance(ctx, tx, in, to); err != nil {
			return err
		}
		if err := s.event(ctx, tx, from, now, EventTransferred, udi, "transferred to "+va); err != nil {
			return err
		}
		return s.event(ctx, tx, to, now, EventTransferred, udi, "transferred in")
	})
}

// Event kinds.
const (
	EventRegistered      = "registered"
	EventReregistered    = "reregistered"
	EventRenewed         = "renewed"
	EventAuthorized      = "authorized"
	EventOutOfCompliance = "out_of_compliance"
	EventDeregistered    = "deregistered"
	EventRemoved         = "removed"
	EventTransferred     = "transferred"

	EventReservationAuthorized = "reservation_authorized"
	EventReservationConfirmed  = "reservation_confirmed"
	EventReservationReturned   = "reservation_returned"
)

// Event is one entry of a virtual account's history.
type Event struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	UDI    string    `json:"udi"`
	Detail string    `json:"detail"`
}

// Events returns the last limit events of va, oldest first.
func (s *Store) Events(ctx context.Context, va string, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = EventsDefaultSize
	}
	if err := s.batch.syncSoft(ctx); err != nil {
		return nil, err
	}
	id, err := s.vaID(ctx, s.db, va)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, at, kind, udi, detail FROM events WHERE va_id = ? ORDER BY id DESC LIMIT ?`), id, limit)
	if err != nil {
		return nil, fmt.Errorf("listing events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Kind, &e.UDI, &e.Detail); err != nil {
			return nil, fmt.Errorf("listing events: %w", err)
		}
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, rows.Err()
}

// event records an event; it is written with the transaction's other
// events just before the commit (see wtx.flush).
func (s *Store) event(_ context.Context, tx *wtx, vaID int64, now time.Time, kind, udi, detail string) error {
	tx.events = append(tx.events, []any{vaID, now.UnixMilli(), kind, udi, detail})
	return nil
}

// decodeJSONObject reads exactly one JSON value from r into v: unknown
// fields, an empty body and anything but white space after the value are
// errors, so that a request is never half understood.
func decodeJSONObject(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("request body is empty: send one JSON object")
		}
		return fmt.Errorf("request body is not the expected JSON object: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("request body has data after its JSON object: send exactly one JSON object")
	}
	return nil
}

// newTokenString makes a random token: 36 bytes, base64url. A token never
// starts with '-', so that it cannot be taken for an option when it is
// pasted after a command (ssm token revoke TOKEN).
func newTokenString() (string, error) {
	for {
		var raw [36]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return "", fmt.Errorf("making token: %w", err)
		}
		if tok := base64.RawURLEncoding.EncodeToString(raw[:]); tok[0] != '-' {
			return tok, nil
		}
	}
}
