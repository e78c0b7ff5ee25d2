package platform

import (
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// The sha512-crypt parameters of the published algorithm (glibc crypt "$6$").
const (
	cryptRoundsDefault = 5000
	cryptRoundsMin     = 1000
	cryptRoundsMax     = 999999999
	cryptSaltMax       = 16
	cryptAlphabet      = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// The highest costs a stored hash may ask for. Every login runs the hash
// inside init (PID 1), so a hash from a provisioning seed with a billion
// sha512-crypt rounds or bcrypt cost 31 would hold a login for minutes to
// years. 100,000 rounds take about 70 ms and bcrypt cost 12 about 0.3 to
// 0.9 s on the device; the defaults are 5000 rounds and cost 10.
const (
	MaxCryptRounds = 100000
	MaxBcryptCost  = 12
)

// Errors of password hashes that callers branch on.
var (
	// ErrBadSalt marks a salt HashPassword cannot use.
	ErrBadSalt = errors.New("bad password salt")
	// ErrBadHash marks a password hash the device does not accept.
	ErrBadHash = errors.New("password hash not accepted")
)

// ValidateHash checks a password hash given as is (a provisioning seed's):
// sha512-crypt ("$6$[rounds=N$]salt$hash") with at most MaxCryptRounds
// rounds, or bcrypt ("$2a$", "$2b$", "$2y$") with a cost of at most
// MaxBcryptCost. CheckPassword matches nothing against any other hash.
func ValidateHash(hash string) error {
	switch {
	case strings.HasPrefix(hash, "$6$"):
		rounds, _, err := cryptRounds(hash)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadHash, err)
		}
		if rounds > MaxCryptRounds {
			return fmt.Errorf("%w: sha512-crypt with %d rounds; at most %d are accepted (every login would take too long); make it with openssl passwd -6 (5000 rounds)", ErrBadHash, rounds, MaxCryptRounds)
		}
		return nil
	case isBcrypt(hash):
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return fmt.Errorf("%w: bcrypt: %w", ErrBadHash, err)
		}
		if cost > MaxBcryptCost {
			return fmt.Errorf("%w: bcrypt cost %d; at most %d is accepted (every login would take too long)", ErrBadHash, cost, MaxBcryptCost)
		}
		return nil
	}
	return fmt.Errorf("%w: not a sha512-crypt ($6$) or bcrypt ($2b$) hash", ErrBadHash)
}

func isBcrypt(hash string) bool {
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
}

// HashPassword returns the sha512-crypt hash of password ("$6$<salt>$<hash>",
// 5000 rounds, the format /etc/shadow and `openssl passwd -6` use). The salt
// is 1 to 16 characters from [./0-9A-Za-z]; an empty salt picks a random one.
// A fixed salt gives a fixed hash, which the image build relies on.
func HashPassword(password, salt string) (string, error) {
	if salt == "" {
		s, err := randomSalt()
		if err != nil {
			return "", err
		}
		salt = s
	}
	if len(salt) > cryptSaltMax {
		return "", fmt.Errorf("%w: %q is %d characters, at most %d are allowed", ErrBadSalt, salt, len(salt), cryptSaltMax)
	}
	for _, c := range salt {
		if !strings.ContainsRune(cryptAlphabet, c) {
			return "", fmt.Errorf("%w: %q holds %q; use only . / 0-9 A-Z a-z", ErrBadSalt, salt, c)
		}
	}
	return sha512Crypt([]byte(password), []byte(salt), cryptRoundsDefault, false), nil
}

// CheckPassword reports whether password matches hash, a sha512-crypt
// ("$6$...") or bcrypt ("$2a$", "$2b$", "$2y$") hash. Any other or malformed
// hash, and one over the cost limits of ValidateHash, matches nothing.
func CheckPassword(hash, password string) bool {
	if ValidateHash(hash) != nil {
		return false
	}
	switch {
	case strings.HasPrefix(hash, "$6$"):
		want, err := cryptWithSetting(password, hash)
		if err != nil {
			return false
		}
		return subtle.ConstantTimeCompare([]byte(want), []byte(hash)) == 1
	case isBcrypt(hash):
		h := hash
		if strings.HasPrefix(h, "$2y$") {
			// $2y$ is PHP's name for the same algorithm as $2b$.
			h = "$2b$" + h[4:]
		}
		return bcrypt.CompareHashAndPassword([]byte(h), []byte(password)) == nil
	}
	return false
}

func randomSalt() (string, error) {
	var b [cryptSaltMax]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("reading random salt: %w", err)
	}
	out := make([]byte, len(b))
	for i, v := range b {
		out[i] = cryptAlphabet[int(v)%len(cryptAlphabet)]
	}
	return string(out), nil
}

// cryptWithSetting hashes password with the parameters of setting, which is
// a full hash or its "$6$[rounds=N$]salt" prefix, as crypt(3) does.
func cryptWithSetting(password, setting string) (string, error) {
	rest, ok := strings.CutPrefix(setting, "$6$")
	if !ok {
		return "", fmt.Errorf("%w: %q does not start with $6$", ErrBadSalt, setting)
	}
	rounds, custom, err := cryptRounds(setting)
	if err != nil {
		return "", err
	}
	if custom {
		_, rest, _ = strings.Cut(rest, "$")
	}
	salt, _, _ := strings.Cut(rest, "$")
	if len(salt) > cryptSaltMax {
		salt = salt[:cryptSaltMax]
	}
	return sha512Crypt([]byte(password), []byte(salt), rounds, custom), nil
}

// cryptRounds reads the rounds of a sha512-crypt setting or hash, clamped
// to the algorithm's range as crypt(3) does, and whether they were given.
func cryptRounds(setting string) (int, bool, error) {
	rest, ok := strings.CutPrefix(setting, "$6$")
	if !ok {
		return 0, false, fmt.Errorf("%w: %q does not start with $6$", ErrBadSalt, setting)
	}
	r, ok := strings.CutPrefix(rest, "rounds=")
	if !ok {
		return cryptRoundsDefault, false, nil
	}
	num, _, found := strings.Cut(r, "$")
	if !found {
		return 0, false, fmt.Errorf("%w: rounds= has no closing $", ErrBadSalt)
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%w: rounds %q: %w", ErrBadSalt, num, err)
	}
	return int(min(max(n, cryptRoundsMin), cryptRoundsMax)), true, nil
}

// sha512Crypt is Ulrich Drepper's SHA-crypt with SHA-512, step by step as
// the specification numbers them.
func sha512Crypt(password, salt []byte, rounds int, customRounds bool) string {
	// Digest B: password, salt, password.
	hb := sha512.New()
	hb.Write(password)
	hb.Write(salt)
	hb.Write(password)
	b := hb.Sum(nil)

	// Digest A: password, salt, B repeated to the password's length, then
	// B or the password for each bit of the length.
	ha := sha512.New()
	ha.Write(password)
	ha.Write(salt)
	n := len(password)
	for ; n > 64; n -= 64 {
		ha.Write(b)
	}
	ha.Write(b[:n])
	for n = len(password); n > 0; n >>= 1 {
		if n&1 != 0 {
			ha.Write(b)
		} else {
			ha.Write(password)
		}
	}
	a := ha.Sum(nil)

	// P sequence: digest of the password repeated len(password) times.
	hp := sha512.New()
	for range len(password) {
		hp.Write(password)
	}
	p := repeatTo(hp.Sum(nil), len(password))

	// S sequence: digest of the salt repeated 16+A[0] times.
	hs := sha512.New()
	for range 16 + int(a[0]) {
		hs.Write(salt)
	}
	s := repeatTo(hs.Sum(nil), len(salt))

	c := a
	h := sha512.New()
	for i := range rounds {
		h.Reset()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(s)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = h.Sum(c[:0])
	}

	var out strings.Builder
	out.WriteString("$6$")
	if customRounds {
		fmt.Fprintf(&out, "rounds=%d$", rounds)
	}
	out.Write(salt)
	out.WriteByte('$')
	for _, g := range sha512Order {
		b64From24(&out, c[g[0]], c[g[1]], c[g[2]], 4)
	}
	b64From24(&out, 0, 0, c[63], 2)
	return out.String()
}

// sha512Order is the byte permutation of the final encoding.
var sha512Order = [21][3]int{
	{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4},
	{47, 5, 26}, {6, 27, 48}, {28, 49, 7}, {50, 8, 29}, {9, 30, 51},
	{31, 52, 10}, {53, 11, 32}, {12, 33, 54}, {34, 55, 13}, {56, 14, 35},
	{15, 36, 57}, {37, 58, 16}, {59, 17, 38}, {18, 39, 60}, {40, 61, 19},
	{62, 20, 41},
}

func b64From24(out *strings.Builder, b2, b1, b0 byte, n int) {
	w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
	for range n {
		out.WriteByte(cryptAlphabet[w&0x3f])
		w >>= 6
	}
}

func repeatTo(digest []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out)+len(digest) <= n {
		out = append(out, digest...)
	}
	return append(out, digest[:n-len(out)]...)
}
