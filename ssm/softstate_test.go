package ssm

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vxway/licproto"
)

// TestStoreUnchangedRenewal drives renewals that repeat the usage reported
// before: they are answered without a transaction of their own, their
// verdict still follows every change of the virtual account, and their
// last contact and events are there when the admin reads them.
func TestStoreUnchangedRenewal(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		seed(t, s) // Default: 10 rms
		tok, _, err := s.CreateToken(ctx, "Default", TokenOptions{}, t0)
		must(t, err)
		for _, udi := range []string{"A", "B"} {
			_, err := s.Register(ctx, &Registration{Token: tok, UDI: udi, PublicKey: "key" + udi, CertSerial: "1", CertNotAfter: t0.AddDate(1, 0, 0)}, t0)
			must(t, err)
		}
		rms := func(n int) map[licproto.LicenseType]int { return map[licproto.LicenseType]int{licproto.RMS: n} }
		step := 0
		authorize := func(udi string, usage map[licproto.LicenseType]int, want licproto.LicenseState, deferred bool) {
			t.Helper()
			step++
			before := s.BatchStats().Deferred
			res, err := s.Authorize(ctx, udi, "key"+udi, 0, usage, t0.Add(timeStep(step)))
			must(t, err)
			if res.State != want {
				t.Errorf("step %d, %s: %+v, want %s", step, udi, res, want)
			}
			if got := s.BatchStats().Deferred - before; got != map[bool]int64{false: 0, true: 1}[deferred] {
				t.Errorf("step %d, %s: deferred %d, want %v", step, udi, got, deferred)
			}
		}
		authorize("A", rms(8), licproto.StateAuthorized, false)
		authorize("A", rms(8), licproto.StateAuthorized, true)
		authorize("B", rms(3), licproto.StateOutOfCompliance, false)
		authorize("B", rms(3), licproto.StateOutOfCompliance, true)
		// More licenses: B's repeated usage now fits, and that verdict
		// is stored before the answer.
		must(t, s.AddLicenses(ctx, "Default", licproto.RMS, 1))
		authorize("B", rms(3), licproto.StateAuthorized, false)
		authorize("B", rms(3), licproto.StateAuthorized, true)
		// A grows past what is left: A is out of compliance, and so is B's
		// repeated usage, a new verdict stored before the answer.
		authorize("A", rms(9), licproto.StateOutOfCompliance, false)
		authorize("B", rms(3), licproto.StateOutOfCompliance, false)
		authorize("B", rms(3), licproto.StateOutOfCompliance, true)
		// A wrong key and an unknown instance still get their refusal,
		// the same one.
		if _, err := s.Authorize(ctx, "B", "keyA", 0, rms(3), t0); !errors.Is(err, licproto.ErrNotRegistered) {
			t.Errorf("wrong key: %v", err)
		}
		if _, err := s.Authorize(ctx, "Z", "keyZ", 0, rms(3), t0); !errors.Is(err, licproto.ErrNotRegistered) {
			t.Errorf("unknown instance: %v", err)
		}
		// The admin sees the last contact of the deferred renewal and
		// every event in order.
		in, err := s.Instance(ctx, "B")
		must(t, err)
		if want := t0.Add(timeStep(step)); !in.LastSeen.Equal(want) {
			t.Errorf("B last seen %s, want %s", in.LastSeen, want)
		}
		ev, err := s.Events(ctx, "Default", 0)
		must(t, err)
		var kinds []string
		for _, e := range ev {
			kinds = append(kinds, e.UDI+":"+e.Kind)
		}
		want := "A:registered B:registered A:authorized A:authorized B:out_of_compliance B:out_of_compliance B:authorized B:authorized A:out_of_compliance B:out_of_compliance B:out_of_compliance"
		if got := strings.Join(kinds, " "); got != want {
			t.Errorf("events\n got %s\nwant %s", got, want)
		}
	})
}

func timeStep(n int) time.Duration { return time.Duration(n) * time.Minute }

// TestStoreCloseWritesDeferred: last contacts still deferred when the
// store closes (the manager stopping) are written.
func TestStoreCloseWritesDeferred(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), DBFile)
	s, err := OpenStore(ctx, path)
	must(t, err)
	seed(t, s)
	tok, _, err := s.CreateToken(ctx, "Default", TokenOptions{}, t0)
	must(t, err)
	_, err = s.Register(ctx, &Registration{Token: tok, UDI: "A", PublicKey: "keyA", CertSerial: "1", CertNotAfter: t0.AddDate(1, 0, 0)}, t0)
	must(t, err)
	usage := map[licproto.LicenseType]int{licproto.Room: 1}
	for i := range 2 {
		_, err := s.Authorize(ctx, "A", "keyA", 0, usage, t0.Add(timeStep(i)))
		must(t, err)
	}
	if s.BatchStats().Deferred != 1 {
		t.Fatalf("second renewal not deferred: %+v", s.BatchStats())
	}
	must(t, s.Close())
	s, err = OpenStore(ctx, path)
	must(t, err)
	defer s.Close()
	in, err := s.Instance(ctx, "A")
	must(t, err)
	if want := t0.Add(timeStep(1)); !in.LastSeen.Equal(want) {
		t.Errorf("last seen after close %s, want %s", in.LastSeen, want)
	}
}
