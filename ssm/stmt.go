package ssm

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// prepared returns the statement for query (already in the database's
// placeholder style), prepared once and reused: SQLite otherwise parses
// every statement on every call, which dominated the cost of an agent
// request.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	st, ok := s.stmts[query]
	s.stmtMu.Unlock()
	if ok {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("preparing statement: %w", err)
	}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if old, ok := s.stmts[query]; ok {
		st.Close()
		return old, nil
	}
	s.stmts[query] = st
	return st, nil
}

func (s *Store) closeStmts() {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	for _, st := range s.stmts {
		st.Close()
	}
	clear(s.stmts)
}

// wtx runs statements inside a write transaction through the prepared
// statement cache.
type wtx struct {
	s  *Store
	tx *sql.Tx
	// tokenUses counts uses of unlimited tokens, added to their rows in
	// one statement per token just before the commit: one token may
	// register a whole fleet, and updating its row per registration would
	// hold that row's lock across every writer's transaction.
	tokenUses map[int64]int64
	// events are inserted together, a few rows per statement, at flush.
	events [][]any
	// seen holds authorized instances' last contact and verdict, written
	// together at flush (the instance rows are already locked by then).
	seen []seenRow
	// soft holds deferred last contacts and events of renewals already
	// answered (see batcher.soft), written first in the transaction.
	soft *softBatch
	// pending holds authorizations waiting for their judgement (settle).
	pending []*pendingAuth
}

type seenRow struct {
	id, at int64
	state  string
	seq    int64 // the request counter accepted (seq.go)
}

// touch records an instance's last contact, verdict and the request
// counter accepted (see seen); the latest one of an instance wins.
func (w *wtx) touch(id, at int64, state string, seq int64) {
	for i := range w.seen {
		if w.seen[i].id == id {
			w.seen[i] = seenRow{id, at, state, max(seq, w.seen[i].seq)}
			return
		}
	}
	w.seen = append(w.seen, seenRow{id, at, state, seq})
}

// eventChunk is how many events one INSERT writes.
const eventChunk = 32

// useToken counts one use of an unlimited token (see tokenUses).
func (w *wtx) useToken(id int64) {
	if w.tokenUses == nil {
		w.tokenUses = map[int64]int64{}
	}
	w.tokenUses[id]++
}

// flush ends a transaction's operations: it writes the deferred token
// uses, in token order, then settles the pending authorizations (license
// rows, in account order: a fixed lock order between writers), then the
// last contacts and the events.
func (w *wtx) flush(ctx context.Context) error {
	ids := make([]int64, 0, len(w.tokenUses))
	for id := range w.tokenUses {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if _, err := w.ExecContext(ctx, w.s.q(`UPDATE tokens SET uses = uses + ? WHERE id = ?`), w.tokenUses[id], id); err != nil {
			return fmt.Errorf("counting token uses: %w", err)
		}
	}
	clear(w.tokenUses)
	if err := w.settle(ctx); err != nil {
		return err
	}
	for len(w.seen) > 0 {
		n := min(len(w.seen), eventChunk)
		var q strings.Builder
		q.WriteString(`UPDATE instances SET last_seen = v.column2, last_state = v.column3,
			seq = CASE WHEN instances.seq < v.column4 THEN v.column4 ELSE instances.seq END FROM (VALUES `)
		args := make([]any, 0, 4*n)
		for i, r := range w.seen[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS BIGINT))")
			args = append(args, r.id, r.at, r.state, r.seq)
		}
		q.WriteString(`) AS v WHERE instances.id = v.column1`)
		if _, err := w.ExecContext(ctx, w.s.q(q.String()), args...); err != nil {
			return fmt.Errorf("recording last contact: %w", err)
		}
		w.seen = w.seen[n:]
	}
	// Refused authorizations left their places empty.
	w.events = slices.DeleteFunc(w.events, func(e []any) bool { return e == nil })
	for len(w.events) > 0 {
		n := min(len(w.events), eventChunk)
		var q strings.Builder
		q.WriteString(`INSERT INTO events (va_id, at, kind, udi, detail) VALUES `)
		args := make([]any, 0, 5*n)
		for i, e := range w.events[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?)")
			args = append(args, e...)
		}
		if _, err := w.ExecContext(ctx, w.s.q(q.String()), args...); err != nil {
			return fmt.Errorf("recording events: %w", err)
		}
		w.events = w.events[n:]
	}
	return nil
}

func (w *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	w.s.sent.Add(1)
	st, err := w.s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return w.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

func (w *wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	w.s.sent.Add(1)
	st, err := w.s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return w.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
}

func (w *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	w.s.sent.Add(1)
	st, err := w.s.prepared(ctx, query)
	if err != nil {
		// The same query fails the same way unprepared, with its error.
		return w.tx.QueryRowContext(ctx, query, args...)
	}
	return w.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
}

// rdb reads outside transactions through the prepared statement cache.
type rdb struct{ s *Store }

func (r rdb) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	r.s.sent.Add(1)
	st, err := r.s.prepared(ctx, query)
	if err != nil {
		return r.s.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// utility runs a savepoint statement: prepared on SQLite, where parsing
// it costs as much as running it; sent as is to PostgreSQL, which does not
// prepare utility statements.
func (w *wtx) utility(ctx context.Context, query string) (sql.Result, error) {
	if w.s.pg {
		w.s.sent.Add(1)
		return w.tx.ExecContext(ctx, query)
	}
	return w.ExecContext(ctx, query)
}

// flushSoft writes the deferred rows of renewals answered before this
// transaction. A last contact only moves forward (a durable write since
// may have recorded a later one), and an event is kept only while the
// instance is still in that virtual account: one removed, deregistered or
// transferred after the renewal was answered does not get an entry after
// the one that recorded its leaving. The request counter moves forward
// too, and an event whose counter another manager already recorded (a
// replay answered by two managers before either wrote it) is dropped, so
// such a replay leaves no trace beyond its answer.
func (w *wtx) flushSoft(ctx context.Context) error {
	if w.soft == nil {
		return nil
	}
	rows := w.soft.rows
	for len(rows) > 0 {
		n := min(len(rows), eventChunk)
		var q strings.Builder
		// Events first, while the counters show what was recorded before.
		q.WriteString(`INSERT INTO events (va_id, at, kind, udi, detail) SELECT v.column1, v.column2, v.column3, v.column4, v.column5 FROM (VALUES `)
		args := make([]any, 0, 6*n)
		for i, r := range rows[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT))")
			args = append(args, r.event...)
			args = append(args, r.seq)
		}
		q.WriteString(`) AS v WHERE EXISTS (SELECT 1 FROM instances i WHERE i.udi = v.column4 AND i.va_id = v.column1 AND (v.column6 = 0 OR i.seq < v.column6))`)
		if _, err := w.ExecContext(ctx, w.s.q(q.String()), args...); err != nil {
			return fmt.Errorf("recording events: %w", err)
		}
		q.Reset()
		q.WriteString(`UPDATE instances SET last_seen = CASE WHEN instances.last_seen < v.column2 THEN v.column2 ELSE instances.last_seen END,
			seq = CASE WHEN instances.seq < v.column3 THEN v.column3 ELSE instances.seq END FROM (VALUES `)
		// One row per instance: an UPDATE joined to several rows of one
		// target applies only one of them, and not the latest.
		latest := make(map[int64]softRow, n)
		for _, r := range rows[:n] {
			o := latest[r.id]
			latest[r.id] = softRow{id: r.id, at: max(o.at, r.at), seq: max(o.seq, r.seq)}
		}
		args = make([]any, 0, 3*len(latest))
		i := 0
		for _, r := range latest {
			if i > 0 {
				q.WriteString(", ")
			}
			i++
			q.WriteString("(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT))")
			args = append(args, r.id, r.at, r.seq)
		}
		q.WriteString(`) AS v WHERE instances.id = v.column1 AND (instances.last_seen < v.column2 OR instances.seq < v.column3)`)
		if _, err := w.ExecContext(ctx, w.s.q(q.String()), args...); err != nil {
			return fmt.Errorf("recording last contact: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}

func (r rdb) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	r.s.sent.Add(1)
	st, err := r.s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}
