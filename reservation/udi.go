package reservation

import (
	"fmt"
	"strings"
)

// UDI is the unique device identifier a reservation is bound to: product
// id, serial number and version id, shown by the manager as
// `UDI_PID:Expressway; UDI_SN:04515163; UDI_VID:1.0;`.
type UDI struct {
	PID string // product id, e.g. Expressway
	SN  string // serial number, e.g. 04515163
	VID string // version id, e.g. 1.0
}

// maxUDIBytes bounds the text form of a UDI.
const maxUDIBytes = 128

// String formats u as `UDI_PID:<pid>; UDI_SN:<sn>; UDI_VID:<vid>;`.
func (u UDI) String() string {
	return fmt.Sprintf("UDI_PID:%s; UDI_SN:%s; UDI_VID:%s;", u.PID, u.SN, u.VID)
}

// Validate reports whether each field is present and uses only the
// characters a request code can carry.
func (u UDI) Validate() error {
	if err := checkWord("product id (PID)", u.PID, 32, isIDChar); err != nil {
		return err
	}
	if err := checkWord("serial number (SN)", u.SN, 32, isAlnum); err != nil {
		return err
	}
	return checkWord("version id (VID)", u.VID, 16, isIDChar)
}

// ParseUDI reads the text form of a UDI. Fields are separated by `;`,
// spaces around them are ignored, and each of UDI_PID, UDI_SN and UDI_VID
// must appear exactly once.
func ParseUDI(s string) (UDI, error) {
	if len(s) > maxUDIBytes {
		return UDI{}, fmt.Errorf("%w: UDI is %d bytes, the limit is %d", ErrOversized, len(s), maxUDIBytes)
	}
	var u UDI
	seen := map[string]bool{}
	parts := strings.Split(strings.TrimSpace(s), ";")
	if parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if len(parts) == 0 {
		return UDI{}, fmt.Errorf("%w: UDI is empty; want UDI_PID:<pid>; UDI_SN:<serial>; UDI_VID:<vid>;", ErrMalformed)
	}
	for _, p := range parts {
		name, value, ok := strings.Cut(strings.TrimSpace(p), ":")
		if !ok {
			return UDI{}, fmt.Errorf("%w: UDI part %q is not NAME:value", ErrMalformed, strings.TrimSpace(p))
		}
		if seen[name] {
			return UDI{}, fmt.Errorf("%w: UDI has %s twice", ErrMalformed, name)
		}
		seen[name] = true
		switch name {
		case "UDI_PID":
			u.PID = value
		case "UDI_SN":
			u.SN = value
		case "UDI_VID":
			u.VID = value
		default:
			return UDI{}, fmt.Errorf("%w: UDI has unknown field %q; want UDI_PID, UDI_SN, UDI_VID", ErrMalformed, name)
		}
	}
	for _, name := range []string{"UDI_PID", "UDI_SN", "UDI_VID"} {
		if !seen[name] {
			return UDI{}, fmt.Errorf("%w: UDI has no %s", ErrMalformed, name)
		}
	}
	if err := u.Validate(); err != nil {
		return UDI{}, fmt.Errorf("UDI: %w", err)
	}
	return u, nil
}

func checkWord(what, s string, maxLen int, ok func(byte) bool) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", ErrMalformed, what)
	}
	if len(s) > maxLen {
		return fmt.Errorf("%w: %s is %d characters, the limit is %d", ErrMalformed, what, len(s), maxLen)
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return fmt.Errorf("%w: %s %q has a character %q that is not allowed there", ErrMalformed, what, s, s[i])
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIDChar(c byte) bool { return isAlnum(c) || c == '.' || c == '_' }

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
