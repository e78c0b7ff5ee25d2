package reservation

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The manager's pool holds, besides the license types devices consume,
// the two PLR licenses of the portal: each PLR code issued takes one.
const (
	PLRLicense   LicenseType = "plr"    // Expressway PLR without Export Control
	PLRLicenseEC LicenseType = "plr-ec" // Expressway PLR with Export Control
)

// PLRPoolType reports the PLR license a PLR code with or without export
// control takes.
func PLRPoolType(exportControl bool) LicenseType {
	if exportControl {
		return PLRLicenseEC
	}
	return PLRLicense
}

// PoolTypes lists every type a virtual account's pool holds.
func PoolTypes() []LicenseType { return append(LicenseTypes(), PLRLicense, PLRLicenseEC) }

// ParsePoolType reads a pool type name: rms, room, desktop, plr, plr-ec.
func ParsePoolType(s string) (LicenseType, error) {
	t := LicenseType(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(PoolTypes(), t) {
		return "", fmt.Errorf("%w: unknown license type %q; want rms, room, desktop, plr or plr-ec", ErrMalformed, s)
	}
	return t, nil
}

// Counts is a number of licenses per type.
type Counts map[LicenseType]int

// ParseCounts reads the manager CLI's license list, e.g. `rms=10,room=5`:
// device license types only (PLR is chosen otherwise), each once, counts
// from 1.
func ParseCounts(s string) (Counts, error) {
	c := Counts{}
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: no licenses given; write TYPE=N[,TYPE=N...], e.g. rms=10,room=5", ErrMalformed)
	}
	for _, item := range strings.Split(s, ",") {
		name, n, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return nil, fmt.Errorf("%w: %q is not TYPE=N", ErrMalformed, item)
		}
		t, err := ParseLicenseType(name)
		if err != nil {
			return nil, err
		}
		if _, dup := c[t]; dup {
			return nil, fmt.Errorf("%w: %s is given twice", ErrMalformed, t)
		}
		v, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil || v < 1 || v > maxCount {
			return nil, fmt.Errorf("%w: count %q of %s must be a whole number from 1 to %d", ErrMalformed, n, t, maxCount)
		}
		c[t] = v
	}
	return c, nil
}

// Add returns c plus o.
func (c Counts) Add(o Counts) Counts {
	out := Counts{}
	for t, n := range c {
		out[t] += n
	}
	for t, n := range o {
		out[t] += n
	}
	return out
}

// Holding reports what an issued code takes from the pool: for an SLR
// code the count of each license type it reserves, for a PLR code one
// PLR license of its kind.
func Holding(a *Authorization) Counts {
	out := Counts{}
	if a.Kind == PLR {
		out[PLRPoolType(a.ExportControl)] = 1
		return out
	}
	for _, e := range a.Entitlements {
		if t, ok := e.LicenseType(); ok {
			out[t] += e.Count
		}
	}
	return out
}

// Blocked reports what the pool keeps for a product instance that is
// confirmed to hold confirmed while an update inTransit is not yet
// confirmed (nil when none is): type by type the larger of the two,
// since until the device's confirmation code arrives it may hold either.
func Blocked(confirmed, inTransit Counts) Counts {
	out := Counts{}
	for t, n := range confirmed {
		out[t] = n
	}
	for t, n := range inTransit {
		out[t] = max(out[t], n)
	}
	return out
}

// CheckReserve reports whether a product instance that blocks before can
// block after instead, given the virtual account's purchased licenses,
// those in use, and those reserved by all instances (before included).
// Each type's increase must fit in what is available; decreases always
// fit. The error, wrapping ErrNotEnough, names every type short.
func CheckReserve(purchased, inUse, reserved, before, after Counts) error {
	var short []string
	for _, t := range PoolTypes() {
		more := after[t] - before[t]
		if more <= 0 {
			continue
		}
		if avail := purchased[t] - inUse[t] - reserved[t]; more > avail {
			short = append(short, fmt.Sprintf("%s: %d more wanted, %d available", t, more, max(avail, 0)))
		}
	}
	if len(short) > 0 {
		return fmt.Errorf("%w in the virtual account (%s); add licenses or reserve fewer", ErrNotEnough, strings.Join(short, "; "))
	}
	return nil
}
