package ssm

import (
	"context"
	"sync"
	"testing"
	"time"

	"vxway/licproto"
	"vxway/ssm/pgtest"
)

// heldBatch holds every writer of s inside a transaction, starts each of
// ops in its own goroutine, one after the other once the one before is
// queued, and then lets the writers go, so that the operations share as
// few transactions as the writers allow (one on SQLite). It waits for
// every operation to return.
func heldBatch(t *testing.T, s *Store, ops ...func()) {
	t.Helper()
	b := s.batch
	started, release := make(chan struct{}), make(chan struct{})
	held := make([]*batchOp, len(b.ops))
	for i, q := range b.ops {
		held[i] = &batchOp{fn: func(context.Context, *wtx) error { started <- struct{}{}; <-release; return nil }, err: make(chan error, 1)}
		q <- held[i]
	}
	for range b.ops {
		<-started
	}
	queued := func() int {
		n := 0
		for _, q := range b.ops {
			n += len(q)
		}
		return n
	}
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Add(1)
		go func() { defer wg.Done(); op() }()
		for deadline := time.Now().Add(time.Minute); queued() < i+1; {
			if time.Now().After(deadline) {
				close(release)
				t.Fatalf("operation %d was not queued", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	close(release)
	for _, op := range held {
		must(t, <-op.err)
	}
	wg.Wait()
}

// TestFirstAuthorizationStatements counts what first authorizations that
// share transactions send to the database: on PostgreSQL every statement
// is a round trip, and the license pool's rows are shared by the whole
// virtual account. An authorization sends no statement of its own: the
// read that answers renewals that change nothing is spared (the manager
// registered these instances, so it knows they had no usage), the
// instances are locked and read with their usage 32 per statement, and
// the license rows, the usage, the verdicts and the events are written
// once per transaction. The verdicts stay strict: the
// virtual account has 10 RMS licenses, and exactly 10 of the 64 instances
// taking one each are authorized.
func TestFirstAuthorizationStatements(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const n = 64
		registerInstances(t, n, s) // Default: rms 10, room 2
		// The request counter is checked and written with the rest: it
		// costs no statement.
		ops, authorized := authorizations(t, n, map[licproto.LicenseType]int{licproto.RMS: 1, licproto.Desktop: 0}, s)
		before := s.BatchStats()
		heldBatch(t, s, ops...)
		after := s.BatchStats()
		if got := authorized(); got != 10 {
			t.Errorf("%d of %d authorized with 10 licenses", got, n)
		}
		lic, err := s.Licenses(ctx, "Default")
		must(t, err)
		if lic[0].Type != licproto.RMS || lic[0].InUse != n {
			t.Errorf("licenses %+v, want %d rms in use", lic[0], n)
		}
		// Held batches: one transaction per writer, and the writers'
		// transactions of the held operations themselves.
		stmts := after.Statements - before.Statements
		perBatch := int64(10)
		if limit := n/8 + perBatch*int64(2*len(s.batch.ops)); stmts > limit {
			t.Errorf("%d first authorizations sent %d statements (%.2f each), want at most %d: none of their own, the rest a few per transaction",
				n, stmts, float64(stmts)/n, limit)
		}
		t.Logf("%d first authorizations: %d statements in %d transactions", n, stmts, after.Batches-before.Batches)
	})
}

// TestAuthorizeTwiceInOneBatch: two authorizations of one instance in one
// transaction (4 then 9 RMS of 10), and a deregistration of another
// instance after its authorization in the same transaction: each is judged
// on what the one before it wrote (counted twice, 4 + 9 would exceed the
// 10 licenses), and the counters end as the last reports say.
func TestAuthorizeTwiceInOneBatch(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		seed(t, s) // Default: rms 10
		tok, _, err := s.CreateToken(ctx, "Default", TokenOptions{ExportControlled: true}, t0)
		must(t, err)
		for _, udi := range []string{"A", "B"} {
			_, err := s.Register(ctx, &Registration{Token: tok, UDI: udi, PublicKey: "k" + udi, CertSerial: "1", CertNotAfter: t0.AddDate(1, 0, 0), Seq: 1}, t0)
			must(t, err)
		}
		results := make([]*licproto.AuthorizeResult, 3)
		authorize := func(i int, udi string, seq int64, rms int) func() {
			return func() {
				res, err := s.Authorize(ctx, udi, "k"+udi, seq, map[licproto.LicenseType]int{licproto.RMS: rms}, t0)
				if err != nil {
					t.Error(err)
				}
				results[i] = res
			}
		}
		heldBatch(t, s,
			authorize(0, "A", 2, 4),
			authorize(1, "A", 3, 9),
			authorize(2, "B", 2, 1),
			func() { must(t, s.Deregister(ctx, "B", "kB", 3, t0)) },
		)
		for i, res := range results {
			if res == nil || res.State != licproto.StateAuthorized {
				t.Errorf("authorization %d: %+v, want authorized", i, res)
			}
		}
		lic, err := s.Licenses(ctx, "Default")
		must(t, err)
		if lic[0].InUse != 9 {
			t.Errorf("rms in use %d, want 9 (A's last report; B deregistered)", lic[0].InUse)
		}
		in, err := s.Instance(ctx, "A")
		must(t, err)
		if len(in.Usage) != 1 || in.Usage[0].InUse != 9 || in.Usage[0].State != string(licproto.StateAuthorized) {
			t.Errorf("A's usage %+v, want rms 9 authorized", in.Usage)
		}
	})
}

// TestManagersShareOnePool: two stores on one PostgreSQL database, as two
// manager processes, authorize 20 instances at once against 10 RMS
// licenses: their writers lock the license rows in turn, and exactly 10
// are authorized.
func TestManagersShareOnePool(t *testing.T) {
	dsn := pgtest.Start(t)
	ctx := context.Background()
	var stores [2]*Store
	for i := range stores {
		s, err := OpenStore(ctx, dsn)
		must(t, err)
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	const n = 20
	registerInstances(t, n, stores[:]...) // Default: rms 10
	ops, authorized := authorizations(t, n, map[licproto.LicenseType]int{licproto.RMS: 1}, stores[:]...)
	for _, op := range ops {
		go op()
	}
	if got := authorized(); got != 10 {
		t.Errorf("%d of %d authorized with 10 licenses", got, n)
	}
	lic, err := stores[1].Licenses(ctx, "Default")
	must(t, err)
	if lic[0].InUse != n {
		t.Errorf("rms in use %d, want %d", lic[0].InUse, n)
	}
}
