package sipclient

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"unicode"

	"vxway/atomicfile"
)

// CredentialsPath holds the local SIP credentials, relative to the
// device root: per name, the digest realm and the HA1 values of the
// digest scheme (RFC 2617 MD5, RFC 8760 SHA-256). The password itself is
// never stored.
const CredentialsPath = "data/sip/credentials.json"

// Credential is one stored credential.
type Credential struct {
	Realm     string `json:"realm"`
	HA1MD5    string `json:"ha1_md5"`
	HA1SHA256 string `json:"ha1_sha256"`
}

// Credentials maps names to credentials.
type Credentials map[string]Credential

// Errors of the credential store.
var (
	// ErrNoCredential marks a name that has no credential.
	ErrNoCredential = errors.New("no such credential")
	// ErrBadCredential marks a name or password that breaks a rule.
	ErrBadCredential = errors.New("invalid credential")
)

// MaxCredentials bounds the store.
const MaxCredentials = 10000

// HA1 is the digest scheme's hash of name, realm and password in hex,
// for MD5 or SHA-256.
func HA1(algorithm, name, realm, password string) string {
	s := name + ":" + realm + ":" + password
	if algorithm == "SHA-256" {
		h := sha256.Sum256([]byte(s))
		return hex.EncodeToString(h[:])
	}
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// NewCredential makes the stored form of name's password in realm.
func NewCredential(name, realm, password string) (Credential, error) {
	if err := checkName(name); err != nil {
		return Credential{}, err
	}
	if len(password) < 4 || len(password) > 128 {
		return Credential{}, fmt.Errorf("%w: the password must have 4 to 128 characters", ErrBadCredential)
	}
	for _, r := range password {
		if unicode.IsControl(r) {
			return Credential{}, fmt.Errorf("%w: the password holds a control character", ErrBadCredential)
		}
	}
	return Credential{Realm: realm, HA1MD5: HA1("MD5", name, realm, password), HA1SHA256: HA1("SHA-256", name, realm, password)}, nil
}

// checkName allows the user part characters endpoints send unescaped.
func checkName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w: the name must have 1 to 64 characters", ErrBadCredential)
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !ok && !containsRune("-_.!~*'+", r) {
			return fmt.Errorf("%w: the name %q holds %q; use letters, digits and - _ . ! ~ * ' +", ErrBadCredential, name, r)
		}
	}
	return nil
}

func containsRune(s string, r rune) bool {
	for _, c := range s {
		if c == r {
			return true
		}
	}
	return false
}

// LoadCredentials reads the store under root; a missing file is empty.
func LoadCredentials(root string) (Credentials, error) {
	b, err := os.ReadFile(filepath.Join(root, CredentialsPath))
	if errors.Is(err, os.ErrNotExist) {
		return Credentials{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading SIP credentials: %w", err)
	}
	return parseCredentials(b)
}

func parseCredentials(b []byte) (Credentials, error) {
	c := Credentials{}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("reading %s: %w", CredentialsPath, err)
	}
	if len(c) > MaxCredentials {
		return nil, fmt.Errorf("reading %s: %d credentials, at most %d", CredentialsPath, len(c), MaxCredentials)
	}
	for name, cr := range c {
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("reading %s: %w", CredentialsPath, err)
		}
		if !isHex(cr.HA1MD5, 32) || !isHex(cr.HA1SHA256, 64) {
			return nil, fmt.Errorf("reading %s: %s: %w: the HA1 values are not hex digests", CredentialsPath, name, ErrBadCredential)
		}
	}
	return c, nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Names lists the names in order.
func (c Credentials) Names() []string {
	out := make([]string, 0, len(c))
	for n := range c {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// UpdateCredentials loads the store, applies f and writes the result
// atomically (mode 0600) under a lock; when f fails nothing is written.
func UpdateCredentials(root string, f func(Credentials) error) error {
	p := filepath.Join(root, CredentialsPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
	}
	unlock, err := atomicfile.Lock(p)
	if err != nil {
		return fmt.Errorf("locking SIP credentials: %w", err)
	}
	defer unlock()
	c, err := LoadCredentials(root)
	if err != nil {
		return err
	}
	if err := f(c); err != nil {
		return err
	}
	if len(c) > MaxCredentials {
		return fmt.Errorf("%w: at most %d credentials", ErrBadCredential, MaxCredentials)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding SIP credentials: %w", err)
	}
	// Group-readable: root and the admin shell (group vxconfig, which
	// init gives the directory) both change the credentials.
	return atomicfile.WriteFile(p, append(b, '\n'), 0o660)
}
