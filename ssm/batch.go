package ssm

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// maxBatch bounds how many operations share one transaction.
const maxBatch = 512

// maxRetries bounds how often a batch is run again after PostgreSQL
// aborted it for a deadlock or a serialization failure.
const maxRetries = 5

// batcher is the group-commit writer: agent operations queue here and a
// writer goroutine runs whatever is waiting in a single transaction and
// commits once, so that under load N requests share one commit (one fsync)
// and when idle a lone operation commits at once. Operations first run
// back to back; if one of them fails, the transaction is rolled back and
// the batch runs again with each operation in its own savepoint, so a
// refused request rolls back alone. Operations are closures over the
// database state only, so running them again is safe.
//
// SQLite has one writer at a time, so it gets one writer goroutine.
// PostgreSQL gets several, since each statement is a round trip to the
// server. Every operation names the product instance it locks, and all
// operations of one instance go to the same writer: two writers then never
// wait for each other's instance rows, and the rows they do share (license
// counters, tokens) are locked late and in a fixed order (see wtx.settle),
// so their transactions cannot deadlock on them. A batch PostgreSQL still
// aborts for a deadlock or a serialization failure is retried.
type batcher struct {
	s   *Store
	ops []chan *batchOp // one queue per writer
	wg  sync.WaitGroup

	batches, nops, commitNanos, retries atomic.Int64

	// soft holds the last contact and event of renewals that changed
	// nothing durable (see Store.authorizeUnchanged); they are answered
	// without waiting for a commit and written by the next transaction,
	// or within softInterval when no other write comes.
	softMu  sync.Mutex
	soft    []softRow
	softOps atomic.Int64
}

// softInterval bounds how long a deferred last contact stays in memory
// only: at most this much of last-contact history is lost on a crash.
const softInterval = time.Second

// maxSoft bounds the deferred rows held in memory; beyond it renewals
// take the durable path and wait for their commit (back-pressure when the
// database falls behind).
const maxSoft = 16 * maxBatch

// softRow is a deferred last contact and its event.
type softRow struct {
	id, at int64
	seq    int64 // the request counter accepted (seq.go)
	event  []any // va_id, at, kind, udi, detail
}

// softBatch is the deferred rows one transaction writes; done is set
// when they are committed.
type softBatch struct {
	rows []softRow
	done bool
}

// deferSoft queues a deferred row, or reports false when the queue is
// full.
func (b *batcher) deferSoft(r softRow) bool {
	b.softMu.Lock()
	defer b.softMu.Unlock()
	if len(b.soft) >= maxSoft {
		return false
	}
	b.soft = append(b.soft, r)
	return true
}

// takeSoft removes the queued deferred rows for one transaction.
func (b *batcher) takeSoft() *softBatch {
	b.softMu.Lock()
	defer b.softMu.Unlock()
	sb := &softBatch{rows: b.soft}
	b.soft = nil
	return sb
}

// restoreSoft queues again the rows of a transaction that did not commit.
func (b *batcher) restoreSoft(sb *softBatch) {
	if sb.done || len(sb.rows) == 0 {
		return
	}
	b.softMu.Lock()
	defer b.softMu.Unlock()
	b.soft = append(sb.rows, b.soft...)
}

func (b *batcher) pendingSoft() bool {
	b.softMu.Lock()
	defer b.softMu.Unlock()
	return len(b.soft) > 0
}

// syncSoft writes the deferred rows before a read that shows them (the
// admin API's instances and events), so that what the manager answered is
// what its admin sees.
func (b *batcher) syncSoft(ctx context.Context) error {
	if !b.pendingSoft() {
		return nil
	}
	return b.do(ctx, "", func(context.Context, *wtx) error { return nil })
}

// BatchStats counts the group-commit writer's work.
type BatchStats struct {
	Batches    int64         `json:"batches"`     // transactions committed
	Ops        int64         `json:"ops"`         // operations in them
	CommitTime time.Duration `json:"commit_time"` // total time spent in COMMIT (nanoseconds)
	Retries    int64         `json:"retries"`     // batches run again after a deadlock
	// Deferred counts renewals answered without waiting for a commit
	// (nothing durable changed); their last contact and event were
	// written by a later transaction.
	Deferred int64 `json:"deferred"`
	// Statements counts the statements agent requests sent to the
	// database, reads outside the writer's transactions, BEGIN and COMMIT
	// included; on PostgreSQL each is a round trip.
	Statements int64 `json:"statements"`
}

// AvgCommit is the mean time of one COMMIT.
func (b BatchStats) AvgCommit() time.Duration {
	if b.Batches == 0 {
		return 0
	}
	return (b.CommitTime / time.Duration(b.Batches)).Round(time.Microsecond)
}

// BatchStats reports the group-commit writer's counters.
func (s *Store) BatchStats() BatchStats {
	b := s.batch
	return BatchStats{Batches: b.batches.Load(), Ops: b.nops.Load(), CommitTime: time.Duration(b.commitNanos.Load()), Retries: b.retries.Load(), Deferred: b.softOps.Load(), Statements: s.sent.Load()}
}

type batchOp struct {
	fn  func(ctx context.Context, tx *wtx) error
	err chan error
}

// batchTimeout bounds one run of a batch (its statements and commit). The
// operations of a batch run with the batch's own context, never with a
// caller's: a client that goes away must not interrupt a statement of a
// transaction other clients' operations share (SQLite then rolls back the
// whole batch). This deadline is the server's own bound instead.
const batchTimeout = 30 * time.Second

func newBatcher(s *Store, writers int) *batcher {
	b := &batcher{s: s}
	for range writers {
		q := make(chan *batchOp, 4*maxBatch)
		b.ops = append(b.ops, q)
		b.wg.Add(1)
		go b.loop(q)
	}
	return b
}

func (b *batcher) close() {
	for _, q := range b.ops {
		close(q)
	}
	b.wg.Wait()
}

// queue returns the writer queue of the instance udi: always the same one
// for one instance.
func (b *batcher) queue(udi string) chan *batchOp {
	if len(b.ops) == 1 {
		return b.ops[0]
	}
	h := fnv.New32a()
	h.Write([]byte(udi))
	return b.ops[h.Sum32()%uint32(len(b.ops))]
}

// do runs fn in a shared transaction and returns its error, or the
// commit's. udi names the product instance whose row fn locks (empty when
// none): every operation of one instance goes to the same writer. fn gets the batch's context, detached from ctx: once queued,
// the operation runs to its commit whether or not the caller waits. ctx
// only bounds the wait, so that a caller whose client went away need not
// wait for the outcome; a caller that returns early never answers before
// the commit, since it does not answer at all.
func (b *batcher) do(ctx context.Context, udi string, fn func(ctx context.Context, tx *wtx) error) error {
	op := &batchOp{fn: fn, err: make(chan error, 1)}
	select {
	case b.queue(udi) <- op:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-op.err:
		return err
	case <-ctx.Done():
		return fmt.Errorf("waiting for the database write: %w", ctx.Err())
	}
}

func (b *batcher) loop(ops chan *batchOp) {
	defer b.wg.Done()
	batch := make([]*batchOp, 0, maxBatch)
	tick := time.NewTicker(softInterval)
	defer tick.Stop()
	for {
		var op *batchOp
		select {
		case o, ok := <-ops:
			if !ok {
				// Closing: write what is deferred.
				if b.pendingSoft() {
					b.run(nil)
				}
				return
			}
			op = o
		case <-tick.C:
			if b.pendingSoft() {
				b.run(nil)
			}
			continue
		}
		batch = append(batch[:0], op)
	fill:
		for len(batch) < maxBatch {
			select {
			case o, ok := <-ops:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		errs := b.run(batch)
		for i, op := range batch {
			op.err <- errs[i]
		}
	}
}

// run runs a batch to its commit and returns each operation's outcome.
func (b *batcher) run(batch []*batchOp) []error {
	var errs []error
	sb := b.takeSoft()
	defer b.restoreSoft(sb)
	for attempt := 0; ; attempt++ {
		var retry bool
		errs, retry = b.attempt(batch, sb)
		if !retry || attempt == maxRetries {
			return errs
		}
		b.retries.Add(1)
	}
}

// attempt runs the batch once; retry reports a deadlock or serialization
// failure, after which the whole batch may run again.
func (b *batcher) attempt(batch []*batchOp, sb *softBatch) (errs []error, retry bool) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	errs = make([]error, len(batch))
	fail := func(err error) ([]error, bool) { return failAll(errs, err) }
	w, err := b.begin(ctx, sb)
	if err != nil {
		return fail(err)
	}
	tx := w.tx
	// Fast path: no savepoints.
	failed := -1
	for i, op := range batch {
		if errs[i] = op.fn(ctx, w); errs[i] != nil {
			failed = i
			break
		}
	}
	if failed >= 0 {
		b.s.sent.Add(1)
		tx.Rollback()
		if isRetryable(errs[failed]) {
			return fail(errs[failed])
		}
		if len(batch) == 1 && len(sb.rows) == 0 {
			return errs, false
		}
		return b.withSavepoints(ctx, batch, sb)
	}
	return b.commit(ctx, w, batch, errs)
}

// begin starts a writer's transaction and first writes the deferred rows
// of answered renewals: their instance rows may be locked by another
// writer, for which this one had better wait while it holds no lock.
func (b *batcher) begin(ctx context.Context, sb *softBatch) (*wtx, error) {
	b.s.sent.Add(1)
	tx, err := b.s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("starting transaction: %w", err)
	}
	w := &wtx{s: b.s, tx: tx, soft: sb}
	if err := w.flushSoft(ctx); err != nil {
		tx.Rollback()
		return nil, err
	}
	return w, nil
}

// failAll gives every operation of a batch the error err, and reports
// whether the batch may run again.
func failAll(errs []error, err error) ([]error, bool) {
	for i := range errs {
		errs[i] = err
	}
	return errs, isRetryable(err)
}

func (b *batcher) commit(ctx context.Context, w *wtx, batch []*batchOp, errs []error) ([]error, bool) {
	tx := w.tx
	if err := w.flush(ctx); err != nil {
		tx.Rollback()
		return failAll(errs, err)
	}
	start := time.Now()
	b.s.sent.Add(1)
	if err := tx.Commit(); err != nil {
		return failAll(errs, fmt.Errorf("committing: %w", err))
	}
	if w.soft != nil {
		w.soft.done = true
	}
	b.commitNanos.Add(int64(time.Since(start)))
	b.batches.Add(1)
	b.nops.Add(int64(len(batch)))
	return errs, false
}

// withSavepoints runs the batch with each operation in a savepoint.
func (b *batcher) withSavepoints(ctx context.Context, batch []*batchOp, sb *softBatch) ([]error, bool) {
	errs := make([]error, len(batch))
	fail := func(err error) ([]error, bool) { return failAll(errs, err) }
	w, err := b.begin(ctx, sb)
	if err != nil {
		return fail(err)
	}
	tx := w.tx
	for i, op := range batch {
		// What the operations before wait for is settled outside this
		// one's savepoint, which its failure may roll back.
		if err := w.settle(ctx); err != nil {
			tx.Rollback()
			return fail(err)
		}
		sp := "op" + strconv.Itoa(i)
		if _, err := w.utility(ctx, "SAVEPOINT "+sp); err != nil {
			tx.Rollback()
			return fail(fmt.Errorf("savepoint: %w", err))
		}
		uses, nev, nseen := maps.Clone(w.tokenUses), len(w.events), len(w.seen)
		if errs[i] = op.fn(ctx, w); errs[i] != nil {
			w.tokenUses, w.events, w.seen, w.pending = uses, w.events[:nev], w.seen[:nseen], w.pending[:0]
			if isRetryable(errs[i]) {
				tx.Rollback()
				return fail(errs[i])
			}
			if _, err := w.utility(ctx, "ROLLBACK TO SAVEPOINT "+sp); err != nil {
				tx.Rollback()
				return fail(fmt.Errorf("rolling back savepoint: %w", err))
			}
		}
		if _, err := w.utility(ctx, "RELEASE SAVEPOINT "+sp); err != nil {
			tx.Rollback()
			return fail(fmt.Errorf("releasing savepoint: %w", err))
		}
	}
	return b.commit(ctx, w, batch, errs)
}

// isRetryable reports a PostgreSQL deadlock or serialization failure.
func isRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}
