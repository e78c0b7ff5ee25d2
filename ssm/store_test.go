package ssm

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"vxway/licproto"
	"vxway/ssm/pgtest"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// eachStore runs f against a fresh SQLite store and a fresh PostgreSQL one.
func eachStore(t *testing.T, f func(t *testing.T, s *Store)) {
	t.Run("sqlite", func(t *testing.T) {
		s, err := OpenStore(context.Background(), filepath.Join(t.TempDir(), DBFile))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		f(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.Start(t)
		s, err := OpenStore(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		f(t, s)
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func seed(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	must(t, s.CreateAccount(ctx, "Acme", t0))
	must(t, s.CreateVA(ctx, "Acme", "Default", t0))
	must(t, s.CreateVA(ctx, "Acme", "Lab", t0))
	must(t, s.AddLicenses(ctx, "Default", licproto.RMS, 10))
	must(t, s.AddLicenses(ctx, "Default", licproto.Room, 2))
}

func TestStoreAdmin(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		seed(t, s)
		for _, tc := range []struct {
			name string
			err  error
			want error
		}{
			{"dup account", s.CreateAccount(ctx, "Acme", t0), ErrExists},
			{"blank account", s.CreateAccount(ctx, "  ", t0), ErrInvalid},
			{"dup va", s.CreateVA(ctx, "Acme", "Lab", t0), ErrExists},
			{"va of missing account", s.CreateVA(ctx, "Nope", "X", t0), ErrNotFound},
			{"licenses for missing va", s.AddLicenses(ctx, "Nope", licproto.RMS, 1), ErrNotFound},
			{"bad type", s.AddLicenses(ctx, "Default", "gold", 1), ErrInvalid},
			{"zero count", s.AddLicenses(ctx, "Default", licproto.RMS, 0), ErrInvalid},
			{"huge count", s.AddLicenses(ctx, "Default", licproto.RMS, MaxLicenseCount+1), ErrInvalid},
		} {
			if !errors.Is(tc.err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
			}
		}
		must(t, s.AddLicenses(ctx, "Default", licproto.RMS, 5))
		lic, err := s.Licenses(ctx, "Default")
		must(t, err)
		want := []LicenseCount{{licproto.RMS, 15, 0, 0, 15}, {licproto.Room, 2, 0, 0, 2}, {licproto.Desktop, 0, 0, 0, 0}}
		for i := range want {
			if lic[i] != want[i] {
				t.Errorf("licenses[%d] = %+v, want %+v", i, lic[i], want[i])
			}
		}
		accts, err := s.Accounts(ctx)
		must(t, err)
		if len(accts) != 1 || len(accts[0].VirtualAccounts) != 2 {
			t.Errorf("accounts = %+v", accts)
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil || v != len(migrations()) {
			t.Errorf("schema version %d %v", v, err)
		}
	})
}

func TestStoreTokens(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		seed(t, s)
		if _, _, err := s.CreateToken(ctx, "Default", TokenOptions{ExpiresDays: 400}, t0); !errors.Is(err, ErrInvalid) {
			t.Errorf("400 days: %v", err)
		}
		if _, _, err := s.CreateToken(ctx, "Nope", TokenOptions{}, t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing va: %v", err)
		}
		tok, info, err := s.CreateToken(ctx, "Default", TokenOptions{ExpiresDays: 2, MaxUses: 1, ExportControlled: true}, t0)
		must(t, err)
		if info.Hint == tok || len(tok) < 40 {
			t.Fatalf("token %q hint %q", tok, info.Hint)
		}
		g, err := s.CheckToken(ctx, tok, t0)
		must(t, err)
		if g.SmartAccount != "Acme" || g.VirtualAccount != "Default" || !g.ExportControlled {
			t.Errorf("grant %+v", g)
		}
		for _, tc := range []struct {
			name string
			tok  string
			at   time.Time
			want error
		}{
			{"unknown", "no-such-token-xyz", t0, licproto.ErrUnknownToken},
			{"expired", tok, t0.Add(48 * time.Hour), licproto.ErrTokenExpired},
		} {
			if _, err := s.CheckToken(ctx, tc.tok, tc.at); !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		list, err := s.Tokens(ctx, "Default")
		must(t, err)
		if len(list) != 1 || list[0].Status(t0) != "active" || list[0].Status(t0.Add(49*time.Hour)) != "expired" {
			t.Errorf("tokens %+v", list)
		}
		if _, err := s.RevokeToken(ctx, "nonexistent-token", t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoke unknown: %v", err)
		}
		got, err := s.RevokeToken(ctx, tok, t0)
		must(t, err)
		if !got.Revoked || got.Status(t0) != "revoked" {
			t.Errorf("revoked %+v", got)
		}
		if _, err := s.CheckToken(ctx, tok, t0); !errors.Is(err, licproto.ErrTokenRevoked) {
			t.Errorf("revoked token: %v", err)
		}
	})
}

func TestStoreInstances(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		seed(t, s)
		tok, _, err := s.CreateToken(ctx, "Default", TokenOptions{MaxUses: 2, ExportControlled: false}, t0)
		must(t, err)
		reg := func(udi, key string) error {
			_, err := s.Register(ctx, &Registration{Token: tok, UDI: udi, PublicKey: key, CertSerial: "1", CertNotAfter: t0.AddDate(1, 0, 0), Hostname: "h", IP: "192.0.2.1"}, t0)
			return err
		}
		must(t, reg("A", "keyA"))
		must(t, reg("A", "keyA")) // a retry uses nothing
		must(t, reg("B", "keyB"))
		if err := reg("C", "keyC"); !errors.Is(err, licproto.ErrTokenUsedUp) {
			t.Errorf("third use: %v", err)
		}
		if err := reg("A", "keyX"); !errors.Is(err, licproto.ErrTokenUsedUp) {
			t.Errorf("other key with a used-up token: %v, want the token's refusal first", err)
		}
		more, _, err := s.CreateToken(ctx, "Lab", TokenOptions{}, t0)
		must(t, err)
		for _, rereg := range []bool{false, true} {
			_, err := s.Register(ctx, &Registration{Token: more, UDI: "A", PublicKey: "keyX", CertSerial: "2", CertNotAfter: t0.AddDate(1, 0, 0), Reregister: rereg}, t0)
			if !errors.Is(err, licproto.ErrAlreadyRegistered) || strings.Contains(err.Error(), "Default") {
				t.Errorf("other key, reregister %v: %v", rereg, err)
			}
		}
		res, err := s.Authorize(ctx, "A", "keyA", 0, map[licproto.LicenseType]int{licproto.RMS: 8, licproto.Room: 1}, t0)
		must(t, err)
		if res.State != licproto.StateAuthorized || len(res.Licenses) != 2 {
			t.Errorf("A: %+v", res)
		}
		res, err = s.Authorize(ctx, "B", "keyB", 0, map[licproto.LicenseType]int{licproto.RMS: 3}, t0)
		must(t, err)
		if res.State != licproto.StateOutOfCompliance || res.Licenses[0].State != licproto.StateOutOfCompliance {
			t.Errorf("B with 3 of 2 left: %+v", res)
		}
		if _, err := s.Authorize(ctx, "B", "keyA", 0, nil, t0); !errors.Is(err, licproto.ErrNotRegistered) {
			t.Errorf("wrong key: %v", err)
		}
		if _, err := s.Authorize(ctx, "Z", "keyZ", 0, nil, t0); !errors.Is(err, licproto.ErrNotRegistered) {
			t.Errorf("unknown instance: %v", err)
		}
		lic, _ := s.Licenses(ctx, "Default")
		if lic[0].InUse != 11 || lic[0].Available != 0 {
			t.Errorf("rms after usage: %+v", lic[0])
		}
		in, err := s.Instance(ctx, "A")
		must(t, err)
		if len(in.Usage) != 2 || in.ExportControlled || in.VirtualAccount != "Default" {
			t.Errorf("instance A %+v", in)
		}
		// Deregistering A frees its licenses at once: B is now compliant.
		must(t, s.Deregister(ctx, "A", "keyA", 0, t0))
		res, err = s.Authorize(ctx, "B", "keyB", 0, map[licproto.LicenseType]int{licproto.RMS: 3}, t0)
		must(t, err)
		if res.State != licproto.StateAuthorized {
			t.Errorf("B after A left: %+v", res)
		}
		must(t, s.TransferInstance(ctx, "B", "Lab", t0))
		if lab, _ := s.Licenses(ctx, "Lab"); lab[0].InUse != 3 {
			t.Errorf("Lab after transfer: %+v", lab)
		}
		if def, _ := s.Licenses(ctx, "Default"); def[0].InUse != 0 {
			t.Errorf("Default after transfer: %+v", def)
		}
		if err := s.TransferInstance(ctx, "B", "Nope", t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("transfer to missing va: %v", err)
		}
		must(t, s.RemoveInstance(ctx, "B", t0))
		if err := s.RemoveInstance(ctx, "B", t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("remove twice: %v", err)
		}
		if lab, _ := s.Licenses(ctx, "Lab"); lab[0].InUse != 0 {
			t.Errorf("Lab after remove: %+v", lab)
		}
		ev, err := s.Events(ctx, "Default", 0)
		must(t, err)
		var kinds []string
		for _, e := range ev {
			kinds = append(kinds, e.Kind)
		}
		want := []string{"registered", "registered", "registered", "authorized", "out_of_compliance", "deregistered", "authorized", "transferred"}
		if len(kinds) != len(want) {
			t.Fatalf("events %v, want %v", kinds, want)
		}
		for i := range want {
			if kinds[i] != want[i] {
				t.Fatalf("events %v, want %v", kinds, want)
			}
		}
	})
}

func TestStoreReopen(t *testing.T) {
	p := filepath.Join(t.TempDir(), DBFile)
	s, err := OpenStore(context.Background(), p)
	must(t, err)
	seed(t, s)
	s.Close()
	s, err = OpenStore(context.Background(), p)
	must(t, err)
	defer s.Close()
	lic, err := s.Licenses(context.Background(), "Default")
	must(t, err)
	if lic[0].Purchased != 10 {
		t.Errorf("after reopen %+v", lic)
	}
}

// TestStoreConcurrentBatches sends many operations at once, some refused,
// so that they share transactions: the refused ones roll back alone and the
// others all land.
func TestStoreConcurrentBatches(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		seed(t, s)
		tok, _, err := s.CreateToken(ctx, "Default", TokenOptions{ExportControlled: true}, t0)
		must(t, err)
		const n = 200
		errs := make(chan error, n)
		for i := range n {
			go func() {
				token := tok
				if i%4 == 3 {
					token = "unknown-token-for-this-test"
				}
				udi := "UDI_SN:" + strconv.Itoa(i)
				_, err := s.Register(ctx, &Registration{Token: token, UDI: udi, PublicKey: "k" + strconv.Itoa(i), CertSerial: "1", CertNotAfter: t0.AddDate(1, 0, 0)}, t0)
				if err == nil {
					_, err = s.Authorize(ctx, udi, "k"+strconv.Itoa(i), 0, map[licproto.LicenseType]int{licproto.Desktop: 1}, t0)
				}
				errs <- err
			}()
		}
		refused := 0
		for range n {
			err := <-errs
			switch {
			case err == nil:
			case errors.Is(err, licproto.ErrUnknownToken):
				refused++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if refused != n/4 {
			t.Errorf("%d refused, want %d", refused, n/4)
		}
		list, err := s.Instances(ctx, "Default")
		must(t, err)
		lic, err := s.Licenses(ctx, "Default")
		must(t, err)
		if len(list) != n-n/4 || lic[2].InUse != int64(n-n/4) {
			t.Errorf("%d instances, %d desktop in use; want %d each", len(list), lic[2].InUse, n-n/4)
		}
		toks, err := s.Tokens(ctx, "Default")
		must(t, err)
		if toks[0].Uses != int64(n-n/4) {
			t.Errorf("unlimited token counts %d uses, want %d", toks[0].Uses, n-n/4)
		}
		if st := s.BatchStats(); st.Ops < int64(2*(n-n/4)) {
			t.Errorf("batch stats %+v count fewer operations than committed", st)
		}
	})
}

// TestStoreComplianceUnderConcurrency: 20 instances take one RMS license
// each at once from a virtual account that has 10; exactly 10 are
// authorized whatever the order, on both databases (on PostgreSQL with two
// stores, as two managers, see TestManagersShareOnePool).
func TestStoreComplianceUnderConcurrency(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		const n = 20
		registerInstances(t, n, s) // Default: rms 10
		ops, authorized := authorizations(t, n, map[licproto.LicenseType]int{licproto.RMS: 1}, s)
		for _, op := range ops {
			go op()
		}
		if got := authorized(); got != 10 {
			t.Errorf("%d of %d authorized with 10 licenses", got, n)
		}
	})
}
