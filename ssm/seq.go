package ssm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"vxway/licproto"
)

// The replay guard of requests that carry a counter (licproto.Request
// Seq): a device's key signs every request with a higher counter than the
// one before, and the manager refuses a counter it has already accepted
// from that key. The highest accepted counter is kept with the instance
// (instances.seq), written in the transaction of the request's effect,
// and, once the instance is gone (deregistered, removed, its key
// replaced), with the key (retired_keys): every manager sharing the
// database refuses a replay, whatever the request's timestamp says, and
// a register request replayed after a deregistration cannot bring the
// instance back. No window, no nonce table: a device whose clock is off
// by months is served like any other.

// seqMemory is the highest counter this process accepted per instance id,
// for renewals answered without a transaction of their own (their counter
// reaches the database with their deferred last contact, within
// softInterval): a replay to this process in between is refused here.
type seqMemory struct {
	mu sync.Mutex
	m  map[int64]int64
}

// maxSeqMemory bounds the map; when full it starts again empty, which only
// narrows the guard to the committed counters for a moment.
const maxSeqMemory = 200_000

// last reports the highest counter accepted for instance id in memory.
func (sm *seqMemory) last(id int64) int64 {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.m[id]
}

// take records seq for instance id, and reports false (a replay) when it
// is not above every counter committed (committed) or accepted here. prev
// is what it replaced, for untake.
func (sm *seqMemory) take(id, seq, committed int64) (prev int64, ok bool) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	prev = sm.m[id]
	if seq <= committed || seq <= prev {
		return prev, false
	}
	if sm.m == nil || len(sm.m) >= maxSeqMemory {
		sm.m = map[int64]int64{}
	}
	sm.m[id] = seq
	return prev, true
}

// untake gives back counter seq of instance id, taken but not used (the
// request then takes the durable path, which must not find it spent), and
// puts back prev unless a later counter was taken meanwhile.
func (sm *seqMemory) untake(id, seq, prev int64) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.m[id] == seq {
		sm.m[id] = prev
	}
}

// note records a counter committed by a transaction.
func (sm *seqMemory) note(id, seq int64) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.m == nil || len(sm.m) >= maxSeqMemory {
		sm.m = map[int64]int64{}
	}
	if seq > sm.m[id] {
		sm.m[id] = seq
	}
}

// forget drops instance id (deleted: SQLite may give its id to the next
// instance).
func (sm *seqMemory) forget(id int64) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	delete(sm.m, id)
}

// errSeqReplay refuses a request whose counter is not above last, and
// tells the device the counter to continue above.
func errSeqReplay(seq, last int64) error {
	e := licproto.Errorf(licproto.CodeReplay, "request counter %d was already used (the manager has accepted %d from this key): a replayed request", seq, last)
	e.LastSeq = last
	return e
}

// lastSeq is the highest counter accepted for the locked instance in: the
// committed one, one recorded by an earlier request of this transaction,
// or one this process accepted without a transaction.
func (s *Store) lastSeq(tx *wtx, in *instanceRow) int64 {
	last := max(in.seq, s.seqs.last(in.id))
	for _, r := range tx.seen {
		if r.id == in.id {
			last = max(last, r.seq)
		}
	}
	return last
}

// checkSeq refuses a request with counter seq to the locked instance in
// when seq is not above every counter accepted; a legacy request (seq 0)
// is left to the manager's in-memory guard.
func (s *Store) checkSeq(tx *wtx, in *instanceRow, seq int64) error {
	if seq == 0 {
		return nil
	}
	if last := s.lastSeq(tx, in); seq <= last {
		return errSeqReplay(seq, last)
	}
	return nil
}

// checkRetired refuses a request with counter seq signed by key, which
// no instance holds, when the key's last counter (kept when its instance
// went away) is not below it.
func (s *Store) checkRetired(ctx context.Context, tx *wtx, key string, seq int64) error {
	if seq == 0 {
		return nil
	}
	var last int64
	err := tx.QueryRowContext(ctx, s.q(`SELECT seq FROM retired_keys WHERE public_key = ?`), key).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the request counter of a retired key: %w", err)
	}
	if seq <= last {
		return errSeqReplay(seq, last)
	}
	return nil
}

// retireKey keeps the last counter of a key whose instance goes away or
// takes another key, so that its requests stay refused.
func (s *Store) retireKey(ctx context.Context, tx *wtx, key string, seq int64) error {
	if seq == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO retired_keys (public_key, seq) VALUES (?, ?)
		ON CONFLICT (public_key) DO UPDATE SET seq = excluded.seq WHERE retired_keys.seq < excluded.seq`), key, seq); err != nil {
		return fmt.Errorf("retiring a key's request counter: %w", err)
	}
	return nil
}
