package ssm

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"vxway/reservation"
)

// resDesk is a manager reservation desk and a device that trusts it.
type resDesk struct {
	rs      *Reservations
	s       *Store
	trusted reservation.KeySet
}

func newResDesk(t *testing.T, s *Store) *resDesk {
	dir := filepath.Join(t.TempDir(), "m")
	must(t, InitDir(dir, []string{"localhost"}, t0))
	pki, err := LoadPKI(dir)
	must(t, err)
	rs, err := NewReservations(s, pki)
	must(t, err)
	// The device trusts the manager CA certificate baked into its image.
	caPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	must(t, err)
	ks, err := reservation.ParseKeySetPEM(caPEM)
	must(t, err)
	return &resDesk{rs: rs, s: s, trusted: ks}
}

// pool reads reserved and available counts of va as a compact map.
func reserved(t *testing.T, s *Store, va string) map[string][2]int64 {
	t.Helper()
	lic, err := s.Licenses(context.Background(), va)
	must(t, err)
	out := map[string][2]int64{}
	for _, l := range lic {
		out[string(l.Type)] = [2]int64{l.Reserved, l.Available}
	}
	return out
}

func TestReservationSLR(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		seed(t, s) // Default: rms 10, room 2
		d := newResDesk(t, s)
		udi := reservation.UDI{PID: "Expressway", SN: "08F8FF3C", VID: "1.0"}
		var dev reservation.State
		req, _, err := dev.Request(udi, "320aa69d", rand.Reader)
		must(t, err)

		// Not enough: 3 rooms of 2.
		lic, _ := reservation.ParseCounts("rms=4,room=3")
		if _, _, err := d.rs.Authorize(ctx, "Default", req.String(), ReserveOptions{Licenses: lic}, t0); !errors.Is(err, ErrInvalid) || !errors.Is(err, reservation.ErrNotEnough) {
			t.Fatalf("over-reserving: %v", err)
		}
		if got := reserved(t, s, "Default"); got["rms"] != [2]int64{0, 10} {
			t.Errorf("refusal changed the pool: %v", got)
		}
		lic, _ = reservation.ParseCounts("rms=4,room=2")
		code, info, err := d.rs.Authorize(ctx, "Default", req.String(), ReserveOptions{Licenses: lic, End: t0.AddDate(0, 6, 0)}, t0)
		must(t, err)
		if code.State != codeInTransit || info.Blocked[reservation.RMS] != 4 {
			t.Errorf("issued %+v blocked %v", code, info.Blocked)
		}
		if got := reserved(t, s, "Default"); got["rms"] != [2]int64{4, 6} || got["room"] != [2]int64{2, 0} {
			t.Errorf("after authorize: %v", got)
		}
		res, err := dev.Install(d.trusted, udi, code.Code)
		must(t, err)

		// A forged confirmation code is refused and changes nothing.
		if _, err := d.rs.Confirm(ctx, "Default", "00000000", t0); !errors.Is(err, reservation.ErrWrongConfirmation) {
			t.Errorf("forged confirmation: %v", err)
		}
		if _, err := d.rs.Confirm(ctx, "Default", "xyz", t0); !errors.Is(err, ErrInvalid) {
			t.Errorf("malformed confirmation: %v", err)
		}
		info, err = d.rs.Confirm(ctx, "Default", res.Confirmation, t0)
		must(t, err)
		if info.Codes[0].State != codeConfirmed {
			t.Errorf("after confirm %+v", info.Codes)
		}

		// Update to fewer RMS: in transit the pool keeps the larger count.
		lic, _ = reservation.ParseCounts("rms=2,room=1")
		code2, _, err := d.rs.Authorize(ctx, "Default", req.String(), ReserveOptions{Licenses: lic}, t0)
		must(t, err)
		if !code2.Issued.After(code.Issued) {
			t.Errorf("update issued %s, not after %s", code2.Issued, code.Issued)
		}
		if got := reserved(t, s, "Default"); got["rms"] != [2]int64{4, 6} {
			t.Errorf("update in transit: %v", got)
		}
		res, err = dev.Install(d.trusted, udi, code2.Code)
		must(t, err)
		_, err = d.rs.Confirm(ctx, "Default", res.Confirmation, t0)
		must(t, err)
		if got := reserved(t, s, "Default"); got["rms"] != [2]int64{2, 8} || got["room"] != [2]int64{1, 1} {
			t.Errorf("update confirmed: %v", got)
		}

		// Return: a forged return code first, then the device's.
		ret, err := dev.Return(d.trusted, udi)
		must(t, err)
		if _, err := d.rs.Return(ctx, "Lab", ret, t0); !errors.Is(err, reservation.ErrWrongReturn) {
			t.Errorf("return in another virtual account: %v", err)
		}
		if _, err := d.rs.Return(ctx, "Default", "CR1859-KLECsi-58b9o8-k9HEsL-85Hchd-6ou41u-Ls9", t0); err == nil {
			t.Errorf("forged return code accepted")
		}
		if got := reserved(t, s, "Default"); got["rms"] != [2]int64{2, 8} {
			t.Errorf("refused returns changed the pool: %v", got)
		}
		_, err = d.rs.Return(ctx, "Default", ret, t0)
		must(t, err)
		if got := reserved(t, s, "Default"); got["rms"] != [2]int64{0, 10} || got["room"] != [2]int64{0, 2} {
			t.Errorf("after return: %v", got)
		}
		if _, err := d.rs.Return(ctx, "Default", ret, t0); !errors.Is(err, reservation.ErrWrongReturn) {
			t.Errorf("second return: %v", err)
		}
		list, err := d.rs.List(ctx, "Default")
		must(t, err)
		if len(list) != 0 {
			t.Errorf("reservations after return: %+v", list)
		}
	})
}

func TestReservationPLRAndCancel(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		seed(t, s)
		d := newResDesk(t, s)
		udi := reservation.UDI{PID: "Expressway", SN: "0000AAAA", VID: "1.0"}
		var dev reservation.State
		req, _, err := dev.Request(udi, "0a0b0c0d", rand.Reader)
		must(t, err)
		if _, _, err := d.rs.Authorize(ctx, "Default", req.String(), ReserveOptions{PLR: true, ExportControl: true}, t0); !errors.Is(err, reservation.ErrNotEnough) && !errors.Is(err, ErrInvalid) {
			t.Fatalf("PLR without PLR licenses: %v", err)
		}
		must(t, s.AddLicenses(ctx, "Default", "plr-ec", 2))
		c1, _, err := d.rs.Authorize(ctx, "Default", req.String(), ReserveOptions{PLR: true, ExportControl: true}, t0)
		must(t, err)
		_, err = dev.Install(d.trusted, udi, c1.Code)
		must(t, err)
		// PLR is incremental: a second code takes a second PLR license.
		c2, _, err := d.rs.Authorize(ctx, "Default", req.String(), ReserveOptions{PLR: true, ExportControl: true}, t0)
		must(t, err)
		_, err = dev.Install(d.trusted, udi, c2.Code)
		must(t, err)
		if got := reserved(t, s, "Default"); got["plr-ec"] != [2]int64{2, 0} {
			t.Errorf("two PLR codes: %v", got)
		}
		if _, _, err := d.rs.Authorize(ctx, "Default", req.String(), ReserveOptions{Licenses: reservation.Counts{reservation.RMS: 1}}, t0); !errors.Is(err, ErrInvalid) {
			t.Errorf("SLR over PLR: %v", err)
		}
		ret, err := dev.Return(d.trusted, udi)
		must(t, err)
		_, err = d.rs.Return(ctx, "Default", ret, t0)
		must(t, err)
		if got := reserved(t, s, "Default"); got["plr-ec"] != [2]int64{0, 2} {
			t.Errorf("after PLR return: %v", got)
		}

		// Cancel: a code issued but never installed comes back through
		// ReturnAuthorization.
		var dev2 reservation.State
		udi2 := reservation.UDI{PID: "Expressway", SN: "0000BBBB", VID: "1.0"}
		req2, _, err := dev2.Request(udi2, "01020304", rand.Reader)
		must(t, err)
		c3, _, err := d.rs.Authorize(ctx, "Default", req2.String(), ReserveOptions{Licenses: reservation.Counts{reservation.Room: 2}}, t0.Add(time.Second))
		must(t, err)
		must(t, dev2.Cancel())
		ret2, err := dev2.ReturnAuthorization(d.trusted, udi2, c3.Code)
		must(t, err)
		if got := reserved(t, s, "Default"); got["room"] != [2]int64{2, 0} {
			t.Errorf("before cancel return: %v", got)
		}
		_, err = d.rs.Return(ctx, "Default", ret2, t0)
		must(t, err)
		if got := reserved(t, s, "Default"); got["room"] != [2]int64{0, 2} {
			t.Errorf("after cancel return: %v", got)
		}
		// Bad request codes are refused with the reason.
		for _, bad := range []string{"", "CB-nonsense", req2.String()[:len(req2.String())-1] + "Z"} {
			if _, _, err := d.rs.Authorize(ctx, "Default", bad, ReserveOptions{PLR: true}, t0); !errors.Is(err, ErrInvalid) {
				t.Errorf("request %q: %v", bad, err)
			}
		}
	})
}

func TestReservationWrongConfirmationLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), DBFile)
	s, err := OpenStore(context.Background(), p)
	must(t, err)
	defer s.Close()
	ctx := context.Background()
	seed(t, s)
	d := newResDesk(t, s)
	udi := reservation.UDI{PID: "Expressway", SN: "0000CCCC", VID: "1.0"}
	var dev reservation.State
	req, _, err := dev.Request(udi, "0a0b0c0e", rand.Reader)
	must(t, err)
	code, _, err := d.rs.Authorize(ctx, "Default", req.String(), ReserveOptions{Licenses: reservation.Counts{reservation.RMS: 1}}, t0)
	must(t, err)
	res, err := dev.Install(d.trusted, udi, code.Code)
	must(t, err)
	for i := 0; i < maxWrongConfirmations; i++ {
		d.rs.Confirm(ctx, "Default", "0000000"+string(rune('0'+i%10)), t0)
	}
	if _, err := d.rs.Confirm(ctx, "Default", res.Confirmation, t0); !errors.Is(err, reservation.ErrWrongConfirmation) {
		t.Fatalf("right code after too many wrong ones: %v", err)
	}
	// A new code (the update issued again) resets the count.
	code, _, err = d.rs.Authorize(ctx, "Default", req.String(), ReserveOptions{Licenses: reservation.Counts{reservation.RMS: 1}}, t0)
	must(t, err)
	res, err = dev.Install(d.trusted, udi, code.Code)
	must(t, err)
	if _, err := d.rs.Confirm(ctx, "Default", res.Confirmation, t0); err != nil {
		t.Errorf("after reissue: %v", err)
	}
}
