package reservation

import (
	"fmt"
	"math/big"
	"strings"
)

// alphabet58 is the Bitcoin base58 alphabet: letters and digits without
// 0, O, I and l, which people confuse when they copy a code by hand. Every
// character is a plain word character for the xAPI shell.
const alphabet58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// checkPrime is the modulus of the check characters: the largest prime
// below 58*58, so that the sum fits two base58 characters. The
// guarantees of checkChars hold for bodies shorter than checkPrime
// characters; every code here is far shorter (the longest, a PLR code,
// has 112).
const checkPrime = 3361

// width58 reports how many base58 digits hold any n-byte value.
func width58(n int) int {
	limit := new(big.Int).Lsh(big.NewInt(1), uint(8*n))
	w := 0
	for p := big.NewInt(1); p.Cmp(limit) < 0; p.Mul(p, big.NewInt(58)) {
		w++
	}
	return w
}

// encode58 writes b as exactly width58(len(b)) base58 digits, most
// significant first, so that codes of one kind always have one length.
func encode58(b []byte) string {
	w := width58(len(b))
	n := new(big.Int).SetBytes(b)
	out := make([]byte, w)
	base, mod := big.NewInt(58), new(big.Int)
	for i := w - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = alphabet58[mod.Int64()]
	}
	return string(out)
}

// decode58 reads exactly width58(n) digits into n bytes. what names the
// field in errors.
func decode58(s string, n int, what string) ([]byte, error) {
	if w := width58(n); len(s) != w {
		return nil, fmt.Errorf("%w: %s has %d characters, want %d", ErrMalformed, what, len(s), w)
	}
	v := new(big.Int)
	base := big.NewInt(58)
	for i := 0; i < len(s); i++ {
		d := strings.IndexByte(alphabet58, s[i])
		if d < 0 {
			return nil, fmt.Errorf("%w: %s: character %d (%q) is not a code character (letters and digits except 0, O, I, l)", ErrMalformed, what, i+1, s[i])
		}
		v.Mul(v, base)
		v.Add(v, big.NewInt(int64(d)))
	}
	if v.BitLen() > 8*n {
		return nil, fmt.Errorf("%w: %s is out of range", ErrMalformed, what)
	}
	return v.FillBytes(make([]byte, n)), nil
}

// checkChars computes the two check characters of body: a sum of each
// byte weighted by its position, modulo a prime. Because every weight and
// every difference of two bytes is non-zero modulo the prime, changing
// any one character changes the sum, and so does swapping two adjacent
// different characters (the sum moves by their difference).
func checkChars(body string) string {
	sum := 0
	for i := 0; i < len(body); i++ {
		sum = (sum + (i+1)*int(body[i])) % checkPrime
	}
	return string([]byte{alphabet58[sum/58], alphabet58[sum%58]})
}

// group splits s into dash-separated groups of six characters, the way
// compact codes are shown.
func group(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 6 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(s[i:min(i+6, len(s))])
	}
	return b.String()
}

// ungroup removes the dashes and white space a code may carry after being
// copied (line breaks, spaces between groups).
func ungroup(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
}
