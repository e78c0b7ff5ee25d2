package ssm

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"vxway/licproto"
)

// pendingAuth is an authorization whose instance is locked and whose
// stored usage is read, waiting in its transaction to be judged against
// the license pool (wtx.settle).
type pendingAuth struct {
	in       *instanceRow
	usage    map[licproto.LicenseType]int64 // reported
	old      map[licproto.LicenseType]int64 // stored
	oldState map[licproto.LicenseType]string
	at       int64 // unix ms
	event    int   // index of its event in wtx.events, filled by settle
	res      *licproto.AuthorizeResult
}

// poolKey names one license row.
type poolKey struct {
	va int64
	t  licproto.LicenseType
}

type poolCounts struct{ purchased, inUse, reserved int64 }

// pend queues an authorization for settle and keeps the place of its
// event, so that the transaction's events stay in the order of its
// operations.
func (w *wtx) pend(pa *pendingAuth) {
	pa.event = len(w.events)
	w.events = append(w.events, nil)
	w.pending = append(w.pending, pa)
}

// isPending reports whether an authorization of udi waits for settle.
func (w *wtx) isPending(udi string) bool {
	return slices.ContainsFunc(w.pending, func(pa *pendingAuth) bool { return pa.in.udi == udi })
}

// settle judges the pending authorizations: it locks the license rows of
// their virtual accounts (in account order, so that writers lock them in
// one order), judges each authorization in turn against the counts as the
// ones before it left them, and writes the usage, the verdicts and the
// counters, a few rows per statement. Every operation that reads or
// changes license counters or instance usage inside a writer's
// transaction settles first, so that it sees what the pending ones wrote.
func (w *wtx) settle(ctx context.Context) error {
	if len(w.pending) == 0 {
		return nil
	}
	var vas []int64
	for _, pa := range w.pending {
		if !slices.Contains(vas, pa.in.vaID) {
			vas = append(vas, pa.in.vaID)
		}
	}
	slices.Sort(vas)
	pool := map[poolKey]*poolCounts{}
	for _, va := range vas {
		if err := w.lockPool(ctx, va, pool); err != nil {
			return err
		}
	}
	type usageRow struct {
		id    int64
		t     licproto.LicenseType
		n     int64
		state licproto.LicenseState
	}
	var upserts, deletes []usageRow
	delta := map[poolKey]int64{}
	for _, pa := range w.pending {
		res := &licproto.AuthorizeResult{State: licproto.StateAuthorized, Licenses: []licproto.LicenseResult{}}
		var detail []string
		for _, t := range licproto.LicenseTypes() {
			n, was := pa.usage[t], pa.old[t]
			k := poolKey{pa.in.vaID, t}
			c := pool[k]
			if c == nil {
				c = &poolCounts{}
				pool[k] = c
			}
			if n != was {
				c.inUse += n - was
				delta[k] += n - was
			}
			if n == 0 {
				if _, has := pa.old[t]; has {
					deletes = append(deletes, usageRow{id: pa.in.id, t: t})
				}
				continue
			}
			state := verdict(c.purchased, c.inUse, c.reserved, n)
			if state == licproto.StateOutOfCompliance {
				res.State = licproto.StateOutOfCompliance
			}
			res.Licenses = append(res.Licenses, licproto.LicenseResult{Type: t, InUse: int(n), State: state})
			detail = append(detail, fmt.Sprintf("%s %d %s", t, n, state))
			if n != was || pa.oldState[t] != string(state) {
				upserts = append(upserts, usageRow{pa.in.id, t, n, state})
			}
		}
		kind := EventAuthorized
		if res.State == licproto.StateOutOfCompliance {
			kind = EventOutOfCompliance
		}
		if len(detail) == 0 {
			detail = append(detail, "no licenses in use")
		}
		w.events[pa.event] = []any{pa.in.vaID, pa.at, kind, pa.in.udi, strings.Join(detail, ", ")}
		w.touch(pa.in.id, pa.at, string(res.State))
		pa.res = res
	}
	w.pending = w.pending[:0]

	keys := make([]poolKey, 0, len(delta))
	for k, d := range delta {
		if d != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b poolKey) int {
		return cmp.Or(cmp.Compare(a.va, b.va), strings.Compare(string(a.t), string(b.t)))
	})
	if err := chunked(ctx, w, keys, `UPDATE licenses SET in_use = in_use + v.column3 FROM (VALUES `,
		"(CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS BIGINT))", `) AS v WHERE licenses.va_id = v.column1 AND licenses.type = v.column2`,
		func(k poolKey) []any { return []any{k.va, string(k.t), delta[k]} }); err != nil {
		return fmt.Errorf("updating licenses in use: %w", err)
	}
	if err := chunked(ctx, w, upserts, `INSERT INTO instance_usage (instance_id, type, in_use, state) VALUES `, "(?, ?, ?, ?)",
		` ON CONFLICT (instance_id, type) DO UPDATE SET in_use = excluded.in_use, state = excluded.state`,
		func(r usageRow) []any { return []any{r.id, string(r.t), r.n, string(r.state)} }); err != nil {
		return fmt.Errorf("storing usage: %w", err)
	}
	for _, r := range deletes {
		if _, err := w.ExecContext(ctx, w.s.q(`DELETE FROM instance_usage WHERE instance_id = ? AND type = ?`), r.id, string(r.t)); err != nil {
			return fmt.Errorf("clearing usage: %w", err)
		}
	}
	return nil
}

// lockPool reads the license rows of virtual account va into pool, locked
// on PostgreSQL until the commit (SQLite's writer holds the whole
// database), making the rows first if the account lacks some.
func (w *wtx) lockPool(ctx context.Context, va int64, pool map[poolKey]*poolCounts) error {
	q := `SELECT type, purchased, in_use, reserved FROM licenses WHERE va_id = ? ORDER BY type`
	if w.s.pg {
		q += ` FOR UPDATE`
	}
	for made := false; ; made = true {
		rows, err := w.QueryContext(ctx, w.s.q(q), va)
		if err != nil {
			return fmt.Errorf("reading licenses: %w", err)
		}
		n := 0
		for rows.Next() {
			var t string
			c := &poolCounts{}
			if err := rows.Scan(&t, &c.purchased, &c.inUse, &c.reserved); err != nil {
				rows.Close()
				return fmt.Errorf("reading licenses: %w", err)
			}
			pool[poolKey{va, licproto.LicenseType(t)}] = c
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading licenses: %w", err)
		}
		if n >= len(poolTypeNames()) || made {
			return nil
		}
		if err := ensureLicenseRows(ctx, w.s, w, va); err != nil {
			return err
		}
	}
}

// chunked writes rows with a statement of head, one tuple per row (its
// arguments from args), and tail, eventChunk rows per statement.
func chunked[T any](ctx context.Context, w *wtx, rows []T, head, tuple, tail string, args func(T) []any) error {
	for len(rows) > 0 {
		n := min(len(rows), eventChunk)
		var q strings.Builder
		q.WriteString(head)
		var a []any
		for i, r := range rows[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(tuple)
			a = append(a, args(r)...)
		}
		q.WriteString(tail)
		if _, err := w.ExecContext(ctx, w.s.q(q.String()), a...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}
