package reservation

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseCounts(t *testing.T) {
	c, err := ParseCounts("rms=10, ROOM=5,desktop=1")
	if err != nil {
		t.Fatal(err)
	}
	if c[RMS] != 10 || c[Room] != 5 || c[Desktop] != 1 || len(c) != 3 {
		t.Fatalf("ParseCounts = %v", c)
	}
	for _, tc := range []struct{ in, want string }{
		{"", "no licenses"},
		{"rms", "not TYPE=N"},
		{"seats=1", "unknown license type"},
		{"plr=1", "unknown license type"},
		{"rms=1,rms=2", "twice"},
		{"rms=0", "from 1"},
		{"rms=x", "whole number"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if _, err := ParseCounts(tc.in); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseCounts(%q) = %v, want %q", tc.in, err, tc.want)
			}
		})
	}
	if tt, err := ParsePoolType("PLR-EC"); err != nil || tt != PLRLicenseEC {
		t.Fatalf("ParsePoolType = %v, %v", tt, err)
	}
}

// TestPoolThroughAnUpdate walks a virtual account through an SLR
// reservation, an update in transit, its confirmation and the return,
// checking the balances at each step.
func TestPoolThroughAnUpdate(t *testing.T) {
	m := testSigner(t, "m1")
	rc := testRequest(t, udiA, "1").Code
	purchased := Counts{RMS: 20, Room: 10, Desktop: 50, PLRLicense: 2}
	inUse := Counts{RMS: 4}
	reservedByOthers := Counts{Room: 2}
	avail := func(reserved Counts) map[LicenseType]int {
		out := map[LicenseType]int{}
		for _, t := range PoolTypes() {
			out[t] = purchased[t] - inUse[t] - reserved[t]
		}
		return out
	}

	// Reserve 10 RMS and 5 rooms.
	want, _ := ParseCounts("rms=10,room=5")
	if err := CheckReserve(purchased, inUse, reservedByOthers, nil, want); err != nil {
		t.Fatal(err)
	}
	a1 := issueSLR(t, m, rc, t0, RMS.Entitlement(want[RMS], time.Time{}, time.Time{}), Room.Entitlement(want[Room], time.Time{}, time.Time{}))
	held := Holding(a1)
	if held[RMS] != 10 || held[Room] != 5 {
		t.Fatalf("holding %v", held)
	}
	reserved := reservedByOthers.Add(held)
	if a := avail(reserved); a[RMS] != 6 || a[Room] != 3 || a[Desktop] != 50 {
		t.Fatalf("after reserving: %v", a)
	}

	// Update to 15 RMS and 1 room: more RMS must fit; while in transit the
	// pool keeps 15 RMS and 5 rooms.
	update := Counts{RMS: 15, Room: 1}
	if err := CheckReserve(purchased, inUse, reserved, held, update); err != nil {
		t.Fatal(err)
	}
	transit := Blocked(held, update)
	reserved = reservedByOthers.Add(transit)
	if a := avail(reserved); a[RMS] != 1 || a[Room] != 3 {
		t.Fatalf("update in transit: %v", a)
	}
	// Confirmed: the rooms go back.
	reserved = reservedByOthers.Add(Blocked(update, nil))
	if a := avail(reserved); a[RMS] != 1 || a[Room] != 7 {
		t.Fatalf("update confirmed: %v", a)
	}

	// Asking for more than is left names every type short.
	err := CheckReserve(purchased, inUse, reserved, update, Counts{RMS: 20, Room: 10, Desktop: 51})
	if !errors.Is(err, ErrNotEnough) || !strings.Contains(err.Error(), "rms: 5 more wanted, 1 available") ||
		!strings.Contains(err.Error(), "room: 9 more wanted, 7 available") || !strings.Contains(err.Error(), "desktop: 51 more wanted, 50 available") {
		t.Fatalf("CheckReserve = %v", err)
	}

	// Returned: everything goes back.
	if a := avail(reservedByOthers); a[RMS] != 16 || a[Room] != 8 {
		t.Fatalf("after return: %v", a)
	}
}

func TestPLRHolding(t *testing.T) {
	m := testSigner(t, "m1")
	rc := testRequest(t, udiA, "1").Code
	purchased := Counts{PLRLicense: 1, PLRLicenseEC: 1}
	h1 := Holding(issuePLR(t, m, rc, false, t0))
	h2 := Holding(issuePLR(t, m, rc, true, t0.Add(time.Hour)))
	if h1[PLRLicense] != 1 || h2[PLRLicenseEC] != 1 || len(h1) != 1 || len(h2) != 1 {
		t.Fatalf("PLR holdings %v %v", h1, h2)
	}
	// Incremental: the second code adds to the first.
	if err := CheckReserve(purchased, nil, h1, h1, h1.Add(h2)); err != nil {
		t.Fatal(err)
	}
	if err := CheckReserve(purchased, nil, h1, h1, h1.Add(h1)); !errors.Is(err, ErrNotEnough) {
		t.Fatalf("a second PLR without export control fits in a pool of one: %v", err)
	}
}
