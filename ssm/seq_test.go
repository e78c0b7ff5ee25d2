package ssm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"vxway/licproto"
	"vxway/ssm/pgtest"
)

// The replay guard of requests with a counter, shared through the
// database: two managers serve one database (a SQLite file both open, or
// one PostgreSQL database), and a request accepted by one is refused by
// the other, whatever its timestamp.

func TestReplayRefusedAcrossManagers(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testReplayAcrossManagers(t, "") })
	t.Run("postgres", func(t *testing.T) { testReplayAcrossManagers(t, pgtest.Start(t)) })
}

// exchange sends req to m as it is (a replay sends the same bytes again)
// and returns the manager's verified answer's error.
func (m *testManager) exchange(req *licproto.Request) error {
	m.t.Helper()
	body, err := req.Marshal()
	must(m.t, err)
	resp, err := m.http.Post(m.url, "application/json", bytes.NewReader(body))
	must(m.t, err)
	defer resp.Body.Close()
	ab, _ := io.ReadAll(resp.Body)
	v, err := m.verify.Verify(req, ab, m.clock.Now(), 0)
	if err != nil {
		m.t.Fatalf("%s answer: %v", req.Type, err)
	}
	return v.Err()
}

func testReplayAcrossManagers(t *testing.T, db string) {
	dir := filepath.Join(t.TempDir(), "m")
	must(t, InitDir(dir, []string{"localhost", "127.0.0.1"}, t0))
	m1 := startManagerWith(t, ServeOptions{Dir: dir, DB: db, Mode: ModeOnPrem, RateLimit: -1})
	m2 := startManagerWith(t, ServeOptions{Dir: dir, DB: db, Mode: ModeOnPrem, RateLimit: -1})
	m1.setup()
	tok := m1.token("Default", 30, 0, true)
	d := m1.device("5EC00001")
	seq := int64(0)
	// The device's clock is a season off: with a counter the manager does
	// not judge the timestamp.
	stamp := t0.Add(100 * 24 * time.Hour)
	next := func(typ licproto.Type, payload any) *licproto.Request {
		seq++
		r, err := licproto.NewRequestSeq(typ, d.udi, seq, payload, stamp, d.key)
		must(t, err)
		return r
	}
	refused := func(what string, m *testManager, r *licproto.Request, want error) {
		t.Helper()
		err := m.exchange(r)
		if !errors.Is(err, want) {
			t.Fatalf("%s: %v, want %v", what, err, want)
		}
		var pe *licproto.Error
		if errors.Is(want, licproto.ErrReplay) && (!errors.As(err, &pe) || pe.LastSeq < r.Seq) {
			t.Errorf("%s: the refusal gives last_seq %d, want at least %d", what, pe.LastSeq, r.Seq)
		}
	}
	ok := func(what string, m *testManager, r *licproto.Request) {
		t.Helper()
		if err := m.exchange(r); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	rms := func(n int) *licproto.AuthorizePayload {
		return &licproto.AuthorizePayload{Usage: map[licproto.LicenseType]int{licproto.RMS: n}}
	}

	reg := next(licproto.TypeRegister, &licproto.RegisterPayload{Token: tok, PublicKey: d.pub(), Hostname: "vx1", IP: "192.0.2.7"})
	ok("register, timestamp 100 days ahead", m1, reg)
	refused("register replayed to the second manager", m2, reg, licproto.ErrReplay)
	refused("register replayed to the first manager", m1, reg, licproto.ErrReplay)

	auth := next(licproto.TypeAuthorize, rms(3))
	ok("authorize", m2, auth)
	refused("authorize replayed to the other manager", m1, auth, licproto.ErrReplay)

	// A renewal that changes nothing is answered before its counter is
	// written; once it is (within a second, or before an admin listing),
	// the other manager refuses it too.
	same := next(licproto.TypeAuthorize, rms(3))
	ok("unchanged renewal", m1, same)
	refused("unchanged renewal replayed to the same manager at once", m1, same, licproto.ErrReplay)
	m1.api("GET", "/api/v1/instances", nil, nil)
	refused("unchanged renewal replayed to the other manager", m2, same, licproto.ErrReplay)

	renew := next(licproto.TypeRenewRegistration, &licproto.RenewRegistrationPayload{Hostname: "vx2"})
	ok("renew registration", m1, renew)
	refused("renew registration replayed", m2, renew, licproto.ErrReplay)

	// An old lower usage replayed would free licenses the device uses.
	refused("an older authorization replayed after later requests", m2, auth, licproto.ErrReplay)

	dereg := next(licproto.TypeDeregister, &licproto.DeregisterPayload{})
	ok("deregister", m2, dereg)
	// The instance is gone; its key's counter is kept, so the register
	// request replayed cannot bring the instance back into the account.
	refused("register replayed after the deregistration", m1, reg, licproto.ErrReplay)
	var list struct{ Instances []Instance }
	m1.api("GET", "/api/v1/instances", nil, &list)
	if len(list.Instances) != 0 {
		t.Fatalf("the replayed registration brought the instance back: %+v", list.Instances)
	}
	ok("the device registers again", m1, next(licproto.TypeRegister, &licproto.RegisterPayload{Token: tok, PublicKey: d.pub()}))

	// A request without a counter (earlier device software) is still
	// judged by its timestamp.
	legacy, err := licproto.NewRequest(licproto.TypeAuthorize, d.udi, rms(1), stamp, d.key)
	must(t, err)
	refused("legacy request 100 days off", m2, legacy, licproto.ErrStaleTimestamp)
}

// TestReplayInOneBatch: requests of one instance that share a writer's
// transaction are judged in their order, request counters included,
// although the authorizations wait for the end of the transaction
// (settle). An authorization with counter 3, the same one again and a
// deregistration with the older counter 2 share one transaction: the
// second and the third are refused as replays giving last_seq 3 and the
// instance stays. Then an authorization with counter 4 and a renewal with
// counter 4: the renewal is refused, not the authorization before it.
func TestReplayInOneBatch(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		seed(t, s) // Default: rms 10
		tok, _, err := s.CreateToken(ctx, "Default", TokenOptions{ExportControlled: true}, t0)
		must(t, err)
		_, err = s.Register(ctx, &Registration{Token: tok, UDI: "A", PublicKey: "kA", CertSerial: "1", CertNotAfter: t0.AddDate(1, 0, 0), Seq: 1}, t0)
		must(t, err)
		rms := func(n int) map[licproto.LicenseType]int { return map[licproto.LicenseType]int{licproto.RMS: n} }
		replay := func(what string, err error, last int64) {
			t.Helper()
			var pe *licproto.Error
			if !errors.Is(err, licproto.ErrReplay) || !errors.As(err, &pe) || pe.LastSeq != last {
				t.Errorf("%s: %v, want a replay refusal with last_seq %d", what, err, last)
			}
		}
		usage := func(want int64) {
			t.Helper()
			in, err := s.Instance(ctx, "A")
			if err != nil {
				t.Fatalf("the instance: %v", err)
			}
			lic, err := s.Licenses(ctx, "Default")
			must(t, err)
			if len(in.Usage) != 1 || in.Usage[0].InUse != want || lic[0].InUse != want {
				t.Errorf("A's usage %+v, rms in use %d, want %d", in.Usage, lic[0].InUse, want)
			}
		}

		errs := make([]error, 3)
		heldBatch(t, s,
			func() { _, errs[0] = s.Authorize(ctx, "A", "kA", 3, rms(4), t0) },
			func() { _, errs[1] = s.Authorize(ctx, "A", "kA", 3, rms(4), t0) },
			func() { errs[2] = s.Deregister(ctx, "A", "kA", 2, t0) },
		)
		must(t, errs[0])
		replay("the same authorization again in its transaction", errs[1], 3)
		replay("a deregistration with counter 2 after the authorization with 3", errs[2], 3)
		usage(4)

		heldBatch(t, s,
			func() { _, errs[0] = s.Authorize(ctx, "A", "kA", 4, rms(5), t0) },
			func() {
				_, errs[1] = s.Renew(ctx, &Renewal{UDI: "A", SignedBy: "kA", CertSerial: "2", CertNotAfter: t0.AddDate(1, 0, 0), Seq: 4}, t0)
			},
		)
		if errs[0] != nil {
			t.Errorf("authorization with counter 4: %v", errs[0])
		}
		replay("a renewal with counter 4 after the authorization with 4", errs[1], 4)
		usage(5)
	})
}
