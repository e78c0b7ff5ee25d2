package ssm

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"vxway/licproto"
)

// pendingAuth is an authorization waiting in its transaction to be judged
// against the license pool (wtx.settle). settle sets res and id, or err
// when the request is refused (an unknown instance, another key, a
// replayed request counter, an expired registration: nothing is written
// for it).
type pendingAuth struct {
	udi, signedBy string
	seq           int64                          // the request counter, 0 for a legacy request
	usage         map[licproto.LicenseType]int64 // reported
	now           time.Time
	event         int // index of its event in wtx.events
	res           *licproto.AuthorizeResult
	id            int64 // the instance's id, once judged
	err           error
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
	pa.res, pa.id, pa.err = nil, 0, nil
	pa.event = len(w.events)
	w.events = append(w.events, nil)
	w.pending = append(w.pending, pa)
}

// stored is an instance as settle reads it, and as the authorizations of
// the batch judged so far leave it.
type stored struct {
	in    *instanceRow
	usage map[licproto.LicenseType]int64
	state map[licproto.LicenseType]string
}

// settle judges the pending authorizations. It locks and reads their
// instances with their usage and last request counter (in UDI order, a
// few per statement), then the license rows of their virtual accounts (in
// account order), so that writers, of one manager or several, take these
// locks in one order and hold the shared license rows only from here to
// the commit. It judges each authorization in turn against the counts as
// the ones before it left them, and its request counter against the
// instance's last one and those of the authorizations before it (a replay
// is refused with the last counter, seq.go), and writes the usage, the
// verdicts and the counters, a few rows per statement; the request
// counters go with the last contacts (wtx.touch). Every operation that reads or changes license
// counters or instance usage inside a writer's transaction settles first.
func (w *wtx) settle(ctx context.Context) error {
	if len(w.pending) == 0 {
		return nil
	}
	insts, err := w.lockInstances(ctx)
	if err != nil {
		return err
	}
	var vas []int64
	for _, st := range insts {
		if !slices.Contains(vas, st.in.vaID) {
			vas = append(vas, st.in.vaID)
		}
	}
	slices.Sort(vas)
	pool := map[poolKey]*poolCounts{}
	for _, va := range vas {
		if err := w.lockPool(ctx, va, pool); err != nil {
			return err
		}
	}
	type usageKey struct {
		id int64
		t  licproto.LicenseType
	}
	type usageRow struct {
		n     int64
		state licproto.LicenseState
	}
	writes := map[usageKey]usageRow{} // n 0: delete
	var order []usageKey
	write := func(k usageKey, r usageRow) {
		if _, ok := writes[k]; !ok {
			order = append(order, k)
		}
		writes[k] = r
	}
	delta := map[poolKey]int64{}
	for _, pa := range w.pending {
		st := insts[pa.udi]
		if st == nil {
			pa.err = notRegisteredWith(pa.udi)
			continue
		}
		if pa.err = w.s.admitInstance(w, st.in, pa.signedBy, pa.seq, true, pa.now); pa.err != nil {
			continue
		}
		res := &licproto.AuthorizeResult{State: licproto.StateAuthorized, Licenses: []licproto.LicenseResult{}}
		var detail []string
		for _, t := range licproto.LicenseTypes() {
			n, was := pa.usage[t], st.usage[t]
			k := poolKey{st.in.vaID, t}
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
				if _, has := st.usage[t]; has {
					write(usageKey{st.in.id, t}, usageRow{})
					delete(st.usage, t)
					delete(st.state, t)
				}
				continue
			}
			state := verdict(c.purchased, c.inUse, c.reserved, n)
			if state == licproto.StateOutOfCompliance {
				res.State = licproto.StateOutOfCompliance
			}
			res.Licenses = append(res.Licenses, licproto.LicenseResult{Type: t, InUse: int(n), State: state})
			detail = append(detail, fmt.Sprintf("%s %d %s", t, n, state))
			if n != was || st.state[t] != string(state) {
				write(usageKey{st.in.id, t}, usageRow{n, state})
				st.usage[t], st.state[t] = n, string(state)
			}
		}
		kind := EventAuthorized
		if res.State == licproto.StateOutOfCompliance {
			kind = EventOutOfCompliance
		}
		if len(detail) == 0 {
			detail = append(detail, "no licenses in use")
		}
		at := pa.now.UnixMilli()
		w.events[pa.event] = []any{st.in.vaID, at, kind, pa.udi, strings.Join(detail, ", ")}
		w.touch(st.in.id, at, string(res.State), pa.seq)
		pa.res, pa.id = res, st.in.id
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
	var upserts, deletes []usageKey
	for _, k := range order {
		if writes[k].n == 0 {
			deletes = append(deletes, k)
		} else {
			upserts = append(upserts, k)
		}
	}
	if err := chunked(ctx, w, upserts, `INSERT INTO instance_usage (instance_id, type, in_use, state) VALUES `, "(?, ?, ?, ?)",
		` ON CONFLICT (instance_id, type) DO UPDATE SET in_use = excluded.in_use, state = excluded.state`,
		func(k usageKey) []any { return []any{k.id, string(k.t), writes[k].n, string(writes[k].state)} }); err != nil {
		return fmt.Errorf("storing usage: %w", err)
	}
	for _, k := range deletes {
		if _, err := w.ExecContext(ctx, w.s.q(`DELETE FROM instance_usage WHERE instance_id = ? AND type = ?`), k.id, string(k.t)); err != nil {
			return fmt.Errorf("clearing usage: %w", err)
		}
	}
	return nil
}

// settleFor settles the pending authorizations when one of them is of
// instance udi, so that an operation on udi later in the batch judges the
// request counter they accepted, as it would an earlier operation's, and
// sees their usage.
func (w *wtx) settleFor(ctx context.Context, udi string) error {
	for _, pa := range w.pending {
		if pa.udi == udi {
			return w.settle(ctx)
		}
	}
	return nil
}

// lockInstances locks and reads the instances of the pending
// authorizations with their usage, in UDI order, eventChunk per
// statement. An instance not found is left out.
func (w *wtx) lockInstances(ctx context.Context) (map[string]*stored, error) {
	var udis []string
	for _, pa := range w.pending {
		if !slices.Contains(udis, pa.udi) {
			udis = append(udis, pa.udi)
		}
	}
	slices.Sort(udis)
	out := map[string]*stored{}
	for len(udis) > 0 {
		n := min(len(udis), eventChunk)
		var q strings.Builder
		q.WriteString(`SELECT i.udi, i.id, i.va_id, i.public_key, i.cert_not_after, i.seq, COALESCE(u.type, ''), COALESCE(u.in_use, 0), COALESCE(u.state, '')
			FROM instances i LEFT JOIN instance_usage u ON u.instance_id = i.id WHERE i.udi IN (?`)
		q.WriteString(strings.Repeat(", ?", n-1))
		q.WriteString(`) ORDER BY i.udi`)
		if w.s.pg {
			q.WriteString(` FOR UPDATE OF i`)
		}
		args := make([]any, n)
		for i, u := range udis[:n] {
			args[i] = u
		}
		if err := w.readInstances(ctx, q.String(), args, out); err != nil {
			return nil, err
		}
		udis = udis[n:]
	}
	return out, nil
}

func (w *wtx) readInstances(ctx context.Context, query string, args []any, out map[string]*stored) error {
	rows, err := w.QueryContext(ctx, w.s.q(query), args...)
	if err != nil {
		return fmt.Errorf("reading instances and usage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		in := &instanceRow{}
		var t, state string
		var n int64
		if err := rows.Scan(&in.udi, &in.id, &in.vaID, &in.publicKey, &in.certNotAfter, &in.seq, &t, &n, &state); err != nil {
			return fmt.Errorf("reading instances and usage: %w", err)
		}
		st := out[in.udi]
		if st == nil {
			st = &stored{in: in, usage: map[licproto.LicenseType]int64{}, state: map[licproto.LicenseType]string{}}
			out[in.udi] = st
		}
		if t != "" {
			st.usage[licproto.LicenseType(t)], st.state[licproto.LicenseType(t)] = n, state
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading instances and usage: %w", err)
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
