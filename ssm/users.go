package ssm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"vxway/licproto"
)

// Role is what a portal user may do.
type Role string

// Roles of portal users, as the vendor portal has them.
const (
	// RoleManagerAdmin may do everything, in every smart account.
	RoleManagerAdmin Role = "manager-admin"
	// RoleAccountAdmin administers one smart account: its virtual
	// accounts, their tokens, licenses, instances and reservations.
	RoleAccountAdmin Role = "account-admin"
	// RoleVAUser works in one virtual account.
	RoleVAUser Role = "va-user"
)

// Roles lists the roles in order of power.
func Roles() []Role { return []Role{RoleManagerAdmin, RoleAccountAdmin, RoleVAUser} }

// Title is the role's name as the portal shows it.
func (r Role) Title() string {
	switch r {
	case RoleManagerAdmin:
		return "Manager administrator"
	case RoleAccountAdmin:
		return "Smart account administrator"
	case RoleVAUser:
		return "Virtual account user"
	}
	return string(r)
}

// Errors of users and their sign-in.
var (
	// ErrForbidden: the user's role does not allow the action.
	ErrForbidden = errors.New("forbidden")
	// ErrBadCredentials: no such user, or a wrong password or API token.
	// The two are never told apart.
	ErrBadCredentials = errors.New("wrong user name or password")
)

// Password rules.
const (
	MinPasswordLen = 10
	// MaxPasswordLen bounds what a sign-in hashes.
	MaxPasswordLen = 256
)

// User is a portal user. A manager administrator has no Account or VA; a
// smart-account administrator has Account; a virtual-account user has VA
// and, from it, Account.
type User struct {
	Name    string `json:"name"`
	Role    Role   `json:"role"`
	Account string `json:"account,omitempty"`
	VA      string `json:"virtual_account,omitempty"`
	// MustChange: the password is the one-time password printed when the
	// user was added or its password reset.
	MustChange        bool      `json:"must_change_password"`
	CreatedAt         time.Time `json:"created_at"`
	PasswordChangedAt time.Time `json:"password_changed_at"`
	// Stamp changes whenever the password changes: sessions started
	// with another stamp end.
	Stamp string `json:"-"`

	id, accountID, vaID int64
}

// AdminTokenUser is the principal of the global admin token
// (DIR/admin.token): a manager administrator.
var AdminTokenUser = &User{Name: "admin token", Role: RoleManagerAdmin}

// argon2id parameters: the OWASP minimum for argon2id (19 MiB, two
// passes, one lane). Sign-ins hash at most hashSlots at once, so a
// stranger's attempts cost at most that much memory.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	hashSlots    = 2
)

// hashPassword returns the PHC string of password's argon2id hash with a
// fresh salt.
func (s *Store) hashPassword(ctx context.Context, password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("making salt: %w", err)
	}
	key, err := s.argon(ctx, password, salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// argon runs argon2id in one of the store's hashing slots.
func (s *Store) argon(ctx context.Context, password string, salt []byte, t, m uint32, p uint8, keyLen uint32) ([]byte, error) {
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.hashing }()
	return argon2.IDKey([]byte(password), salt, t, m, p, keyLen), nil
}

// checkPasswordHash reports whether password matches the PHC string
// phc.
func (s *Store) checkPasswordHash(ctx context.Context, phc, password string) (bool, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, fmt.Errorf("stored password hash is not argon2id")
	}
	var v int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, fmt.Errorf("stored password hash has argon2 version %q", parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false, fmt.Errorf("stored password hash has parameters %q", parts[3])
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) < 16 || len(want) > 64 {
		return false, fmt.Errorf("stored password hash is malformed")
	}
	got, err := s.argon(ctx, password, salt, t, m, p, uint32(len(want)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is hashed against when the user does not exist, so that a
// sign-in of an unknown user costs what a wrong password costs.
var dummyHash = fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
	base64.RawStdEncoding.EncodeToString([]byte("ssm-dummy-salt")), base64.RawStdEncoding.EncodeToString(make([]byte, argonKeyLen)))

// CheckUserName reports whether name is usable as a user name: 1..64
// characters of letters, digits and . _ @ -.
func CheckUserName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: user name is empty", ErrInvalid)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: user name is %d characters, more than %d", ErrInvalid, len(name), MaxNameLen)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._@-", r)) {
			return fmt.Errorf("%w: user name %q may hold only letters, digits and . _ @ -", ErrInvalid, name)
		}
	}
	return nil
}

// CheckPasswordRule reports whether password is acceptable as a new
// password.
func CheckPasswordRule(password string) error {
	switch {
	case len(password) < MinPasswordLen:
		return fmt.Errorf("%w: the new password has %d characters; use at least %d", ErrInvalid, len(password), MinPasswordLen)
	case len(password) > MaxPasswordLen:
		return fmt.Errorf("%w: the new password has %d characters; use at most %d", ErrInvalid, len(password), MaxPasswordLen)
	}
	return nil
}

// newOneTimePassword makes a random password of 16 characters.
func newOneTimePassword() (string, error) {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making password: %w", err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

// AddUser adds a portal user and returns its one-time password, which the
// user must change at first sign-in. A smart-account administrator needs
// account, a virtual-account user va; a manager administrator neither.
func (s *Store) AddUser(ctx context.Context, name string, role Role, account, va string, now time.Time) (string, *User, error) {
	if err := CheckUserName(name); err != nil {
		return "", nil, err
	}
	var accountID, vaID sql.NullInt64
	switch role {
	case RoleManagerAdmin:
		if account != "" || va != "" {
			return "", nil, fmt.Errorf("%w: a manager administrator has every account; leave out --account and --va", ErrInvalid)
		}
	case RoleAccountAdmin:
		if account == "" || va != "" {
			return "", nil, fmt.Errorf("%w: a smart-account administrator needs --account (and no --va)", ErrInvalid)
		}
		id, err := s.accountID(ctx, account)
		if err != nil {
			return "", nil, err
		}
		accountID = sql.NullInt64{Int64: id, Valid: true}
	case RoleVAUser:
		if va == "" {
			return "", nil, fmt.Errorf("%w: a virtual-account user needs --va", ErrInvalid)
		}
		id, err := s.vaID(ctx, s.db, va)
		if err != nil {
			return "", nil, err
		}
		if account != "" {
			var a string
			if err := s.db.QueryRowContext(ctx, s.q(`SELECT a.name FROM accounts a JOIN virtual_accounts v ON v.account_id = a.id WHERE v.id = ?`), id).Scan(&a); err != nil {
				return "", nil, fmt.Errorf("finding the smart account of %q: %w", va, err)
			}
			if a != account {
				return "", nil, fmt.Errorf("%w: virtual account %q is in smart account %q, not %q", ErrInvalid, va, a, account)
			}
		}
		vaID = sql.NullInt64{Int64: id, Valid: true}
	default:
		return "", nil, fmt.Errorf("%w: role %q is not one of manager-admin, account-admin, va-user", ErrInvalid, role)
	}
	password, err := newOneTimePassword()
	if err != nil {
		return "", nil, err
	}
	phc, err := s.hashPassword(ctx, password)
	if err != nil {
		return "", nil, err
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO users (name, role, account_id, va_id, password_hash, must_change, created_at, password_changed_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?)`),
		name, string(role), accountID, vaID, phc, now.UnixMilli(), now.UnixMilli())
	if isUnique(err) {
		return "", nil, fmt.Errorf("%w: user %q", ErrExists, name)
	}
	if err != nil {
		return "", nil, fmt.Errorf("adding user %q: %w", name, err)
	}
	u, err := s.User(ctx, name)
	if err != nil {
		return "", nil, err
	}
	return password, u, nil
}

func (s *Store) accountID(ctx context.Context, account string) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id FROM accounts WHERE name = ?`), account).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: smart account %q (create it with: ssm account create)", ErrNotFound, account)
	}
	if err != nil {
		return 0, fmt.Errorf("finding smart account %q: %w", account, err)
	}
	return id, nil
}

const userColumns = `SELECT u.id, u.name, u.role, COALESCE(a.id, va.id, 0), COALESCE(a.name, va.name, ''), COALESCE(v.id, 0), COALESCE(v.name, ''),
	u.must_change, u.created_at, u.password_changed_at, u.password_hash
	FROM users u LEFT JOIN virtual_accounts v ON v.id = u.va_id
	LEFT JOIN accounts va ON va.id = v.account_id
	LEFT JOIN accounts a ON a.id = u.account_id`

func (s *Store) users(ctx context.Context, where string, args ...any) ([]User, []string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(userColumns+` WHERE `+where+` ORDER BY u.name`), args...)
	if err != nil {
		return nil, nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	var out []User
	var hashes []string
	for rows.Next() {
		var u User
		var role, phc string
		var must int
		var created, changed int64
		if err := rows.Scan(&u.id, &u.Name, &role, &u.accountID, &u.Account, &u.vaID, &u.VA, &must, &created, &changed, &phc); err != nil {
			return nil, nil, fmt.Errorf("listing users: %w", err)
		}
		u.Role, u.MustChange = Role(role), must != 0
		u.CreatedAt, u.PasswordChangedAt = time.UnixMilli(created).UTC(), time.UnixMilli(changed).UTC()
		sum := sha256.Sum256([]byte(phc))
		u.Stamp = hex.EncodeToString(sum[:8])
		out = append(out, u)
		hashes = append(hashes, phc)
	}
	return out, hashes, rows.Err()
}

// Users lists the portal users.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	list, _, err := s.users(ctx, `1 = 1`)
	return list, err
}

// User returns the portal user name.
func (s *Store) User(ctx context.Context, name string) (*User, error) {
	list, _, err := s.users(ctx, `u.name = ?`, name)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: user %q (see: ssm user list)", ErrNotFound, name)
	}
	return &list[0], nil
}

// DeleteUser removes a portal user and its API tokens.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	return s.writeTx(ctx, func(w *wtx) error {
		var id int64
		err := w.QueryRowContext(ctx, s.q(`SELECT id FROM users WHERE name = ?`), name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: user %q (see: ssm user list)", ErrNotFound, name)
		}
		if err != nil {
			return fmt.Errorf("finding user %q: %w", name, err)
		}
		if _, err := w.ExecContext(ctx, s.q(`DELETE FROM user_tokens WHERE user_id = ?`), id); err != nil {
			return fmt.Errorf("deleting the API tokens of %q: %w", name, err)
		}
		if _, err := w.ExecContext(ctx, s.q(`DELETE FROM users WHERE id = ?`), id); err != nil {
			return fmt.Errorf("deleting user %q: %w", name, err)
		}
		return nil
	})
}

// Authenticate returns the user name when password is its password, else
// ErrBadCredentials; an unknown user costs the same hashing as a wrong
// password. Passwords longer than MaxPasswordLen are refused unhashed.
func (s *Store) Authenticate(ctx context.Context, name, password string) (*User, error) {
	if len(password) > MaxPasswordLen || len(name) > MaxNameLen {
		return nil, ErrBadCredentials
	}
	list, hashes, err := s.users(ctx, `u.name = ?`, name)
	if err != nil {
		return nil, err
	}
	phc := dummyHash
	if len(list) == 1 {
		phc = hashes[0]
	}
	ok, err := s.checkPasswordHash(ctx, phc, password)
	if err != nil {
		return nil, err
	}
	if !ok || len(list) != 1 {
		return nil, ErrBadCredentials
	}
	return &list[0], nil
}

// ChangePassword sets user name's password to next after checking current;
// the one-time password's obligation ends.
func (s *Store) ChangePassword(ctx context.Context, name, current, next string, now time.Time) (*User, error) {
	if _, err := s.Authenticate(ctx, name, current); err != nil {
		return nil, fmt.Errorf("%w: the current password is wrong", ErrBadCredentials)
	}
	if err := CheckPasswordRule(next); err != nil {
		return nil, err
	}
	if next == current {
		return nil, fmt.Errorf("%w: the new password is the current one; choose another", ErrInvalid)
	}
	phc, err := s.hashPassword(ctx, next)
	if err != nil {
		return nil, err
	}
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE users SET password_hash = ?, must_change = 0, password_changed_at = ? WHERE name = ?`), phc, now.UnixMilli(), name); err != nil {
		return nil, fmt.Errorf("changing the password of %q: %w", name, err)
	}
	return s.User(ctx, name)
}

// ResetPassword gives user name a new one-time password (returned), to be
// changed at the next sign-in.
func (s *Store) ResetPassword(ctx context.Context, name string, now time.Time) (string, error) {
	password, err := newOneTimePassword()
	if err != nil {
		return "", err
	}
	phc, err := s.hashPassword(ctx, password)
	if err != nil {
		return "", err
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE users SET password_hash = ?, must_change = 1, password_changed_at = ? WHERE name = ?`), phc, now.UnixMilli(), name)
	if err != nil {
		return "", fmt.Errorf("resetting the password of %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", fmt.Errorf("%w: user %q (see: ssm user list)", ErrNotFound, name)
	}
	return password, nil
}

// UserToken describes an admin API token of a user without revealing it.
type UserToken struct {
	ID        int64     `json:"id"`
	Hint      string    `json:"hint"`
	CreatedAt time.Time `json:"created_at"`
}

// userTokenPrefix marks user API tokens, so that they are told from the
// global admin token and from registration tokens at a glance.
const userTokenPrefix = "ssmu_"

// CreateUserToken makes an admin API token for user name, scoped like the
// user's role, and returns it; only its hash is stored.
func (s *Store) CreateUserToken(ctx context.Context, name string, now time.Time) (string, *UserToken, error) {
	u, err := s.User(ctx, name)
	if err != nil {
		return "", nil, err
	}
	raw, err := newTokenString()
	if err != nil {
		return "", nil, err
	}
	tok := userTokenPrefix + raw
	t := &UserToken{Hint: licproto.MaskToken(tok), CreatedAt: now.UTC().Truncate(time.Millisecond)}
	if err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO user_tokens (user_id, hash, hint, created_at) VALUES (?, ?, ?, ?) RETURNING id`),
		u.id, hashToken(tok), t.Hint, now.UnixMilli()).Scan(&t.ID); err != nil {
		return "", nil, fmt.Errorf("storing API token: %w", err)
	}
	return tok, t, nil
}

// UserTokens lists the API tokens of user name.
func (s *Store) UserTokens(ctx context.Context, name string) ([]UserToken, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT t.id, t.hint, t.created_at FROM user_tokens t JOIN users u ON u.id = t.user_id WHERE u.name = ? ORDER BY t.id`), name)
	if err != nil {
		return nil, fmt.Errorf("listing API tokens: %w", err)
	}
	defer rows.Close()
	out := []UserToken{}
	for rows.Next() {
		var t UserToken
		var at int64
		if err := rows.Scan(&t.ID, &t.Hint, &at); err != nil {
			return nil, fmt.Errorf("listing API tokens: %w", err)
		}
		t.CreatedAt = time.UnixMilli(at).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeUserTokens deletes every API token of user name and reports how
// many there were.
func (s *Store) RevokeUserTokens(ctx context.Context, name string) (int64, error) {
	u, err := s.User(ctx, name)
	if err != nil {
		return 0, err
	}
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM user_tokens WHERE user_id = ?`), u.id)
	if err != nil {
		return 0, fmt.Errorf("revoking API tokens of %q: %w", name, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// UserByToken returns the user an admin API token belongs to, or
// ErrBadCredentials.
func (s *Store) UserByToken(ctx context.Context, token string) (*User, error) {
	if !strings.HasPrefix(token, userTokenPrefix) || len(token) > 128 {
		return nil, ErrBadCredentials
	}
	list, _, err := s.users(ctx, `u.id = (SELECT user_id FROM user_tokens WHERE hash = ?)`, hashToken(token))
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, ErrBadCredentials
	}
	return &list[0], nil
}
