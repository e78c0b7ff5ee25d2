package platform

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"
	"unicode/utf8"

	"vxway/atomicfile"
	"vxway/clock"
)

// PasswdPath holds changed passwords and ssh keys, below the root.
const PasswdPath = "data/users/passwd.json"

// The two accounts of the device.
const (
	UserRoot  = "root"
	UserAdmin = "admin"
)

// Password length limits.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 128
)

// Errors of the users store that callers branch on.
var (
	ErrUnknownUser   = errors.New("no such user")
	ErrWrongPassword = errors.New("wrong password")
	ErrWeakPassword  = errors.New("password not accepted")
)

// UserEntry is one account in passwd.json.
type UserEntry struct {
	Hash           string    `json:"hash,omitempty"`
	Changed        time.Time `json:"changed,omitzero"`
	AuthorizedKeys []string  `json:"authorized_keys,omitempty"`
}

type passwdFile struct {
	Users map[string]UserEntry `json:"users"`
}

// Users is the password store of the root and admin accounts: the image's
// default hashes until a password is changed, then the hash in passwd.json.
type Users struct {
	root   string
	clock  clock.Clock
	alarms *Alarms
}

// NewUsers returns the users store of root (nil clock means the real one).
func NewUsers(root string, c clock.Clock) *Users {
	if c == nil {
		c = clock.Real{}
	}
	return &Users{root: root, clock: c, alarms: NewAlarms(root, c)}
}

func defaultAlarm(user string) int {
	if user == UserRoot {
		return AlarmDefaultRootPassword
	}
	return AlarmDefaultAdminPassword
}

func checkUser(user string) error {
	if user != UserRoot && user != UserAdmin {
		return fmt.Errorf("%w: %q; the accounts are root and admin", ErrUnknownUser, user)
	}
	return nil
}

func (u *Users) load() (passwdFile, error) {
	f := passwdFile{Users: map[string]UserEntry{}}
	if _, err := atomicfile.ReadJSON(filepath.Join(u.root, PasswdPath), &f); err != nil {
		return f, err
	}
	if f.Users == nil {
		f.Users = map[string]UserEntry{}
	}
	return f, nil
}

func (u *Users) save(f passwdFile) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding passwords: %w", err)
	}
	return writeFile(filepath.Join(u.root, PasswdPath), append(b, '\n'), 0o600)
}

func (u *Users) defaultHash(user string) (string, error) {
	info, err := LoadImageInfo(u.root)
	if err != nil {
		return "", err
	}
	if user == UserRoot {
		return info.PasswordHashes.Root, nil
	}
	return info.PasswordHashes.Admin, nil
}

// hash reports the hash that user logs in with and whether it is the
// image's default.
func (u *Users) hash(user string) (string, bool, error) {
	if err := checkUser(user); err != nil {
		return "", false, err
	}
	f, err := u.load()
	if err != nil {
		return "", false, err
	}
	if e := f.Users[user]; e.Hash != "" {
		return e.Hash, false, nil
	}
	h, err := u.defaultHash(user)
	return h, true, err
}

// Check reports nil when password is user's password, ErrUnknownUser or
// ErrWrongPassword when not, and another error when the store cannot be
// read (which also refuses the login). A password longer than any password
// can be (MaxPasswordLen characters) is wrong without being hashed:
// sha512-crypt's cost grows with the square of the length, and SSH carries
// passwords of hundreds of kilobytes.
func (u *Users) Check(user, password string) error {
	if len(password) > utf8.UTFMax*MaxPasswordLen || utf8.RuneCountInString(password) > MaxPasswordLen {
		return fmt.Errorf("%w: longer than %d characters", ErrWrongPassword, MaxPasswordLen)
	}
	h, _, err := u.hash(user)
	if err != nil {
		return err
	}
	if !CheckPassword(h, password) {
		return ErrWrongPassword
	}
	return nil
}

// PasswordStamp returns a short fingerprint of user's current password
// hash: it changes whenever the password does (on any channel), so a web
// session can be ended by a password change without keeping the hash.
func (u *Users) PasswordStamp(user string) (string, error) {
	h, _, err := u.hash(user)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(h))
	return hex.EncodeToString(sum[:8]), nil
}

// UsingDefault reports whether user still has the image's default password.
func (u *Users) UsingDefault(user string) (bool, error) {
	_, def, err := u.hash(user)
	return def, err
}

// ValidatePassword checks a new password against the rules: 8 to 128
// characters of valid UTF-8 without control characters.
func ValidatePassword(password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return fmt.Errorf("%w: it is not valid UTF-8 text", ErrWeakPassword)
	case n < MinPasswordLen:
		return fmt.Errorf("%w: it has %d characters; use at least %d", ErrWeakPassword, n, MinPasswordLen)
	case n > MaxPasswordLen:
		return fmt.Errorf("%w: it has %d characters; use at most %d", ErrWeakPassword, n, MaxPasswordLen)
	}
	for _, r := range password {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: it holds a control character", ErrWeakPassword)
		}
	}
	return nil
}

// SetPassword gives user a new password, hashed with a fresh random salt,
// and clears the user's default-password alarm. The default password itself
// is refused, so the alarm means what it says.
func (u *Users) SetPassword(user, password string) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if err := ValidatePassword(password); err != nil {
		return err
	}
	if def, err := u.defaultHash(user); err == nil && CheckPassword(def, password) {
		return fmt.Errorf("%w: it is the default password; choose another", ErrWeakPassword)
	}
	h, err := HashPassword(password, "")
	if err != nil {
		return err
	}
	if err := u.update(func(f *passwdFile) {
		e := f.Users[user]
		e.Hash, e.Changed = h, u.clock.Now().UTC()
		f.Users[user] = e
	}); err != nil {
		return err
	}
	return u.alarms.Clear(defaultAlarm(user))
}

// SetPasswordHash stores hash, a sha512-crypt ("$6$") or bcrypt ("$2b$")
// hash made elsewhere (a provisioning seed), as user's password, after
// ValidateHash. It leaves the default-password alarms to SyncAlarms, since a
// hash cannot be compared with the default password.
func (u *Users) SetPasswordHash(user, hash string) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if err := ValidateHash(hash); err != nil {
		return err
	}
	return u.update(func(f *passwdFile) {
		e := f.Users[user]
		e.Hash, e.Changed = hash, u.clock.Now().UTC()
		f.Users[user] = e
	})
}

// update changes passwd.json under its lock.
func (u *Users) update(change func(*passwdFile)) error {
	unlock, err := atomicfile.Lock(filepath.Join(u.root, PasswdPath))
	if err != nil {
		return err
	}
	defer unlock()
	f, err := u.load()
	if err != nil {
		return err
	}
	change(&f)
	return u.save(f)
}

// AuthorizedKeys returns user's ssh public keys (authorized_keys lines).
func (u *Users) AuthorizedKeys(user string) ([]string, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	f, err := u.load()
	if err != nil {
		return nil, err
	}
	return f.Users[user].AuthorizedKeys, nil
}

// SetAuthorizedKeys replaces user's ssh public keys.
func (u *Users) SetAuthorizedKeys(user string, keys []string) error {
	if err := checkUser(user); err != nil {
		return err
	}
	return u.update(func(f *passwdFile) {
		e := f.Users[user]
		e.AuthorizedKeys = keys
		f.Users[user] = e
	})
}

// SyncAlarms raises 40003 / 40005 for each account still on its default
// password and clears them otherwise. Boot calls it.
func (u *Users) SyncAlarms() error {
	var errs []error
	for _, user := range []string{UserRoot, UserAdmin} {
		def, err := u.UsingDefault(user)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := u.alarms.Set(defaultAlarm(user), def, ""); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
