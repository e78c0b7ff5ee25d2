package ssm

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// maxBatch bounds how many operations share one transaction.
const maxBatch = 512

// batcher is the group-commit writer: agent operations queue here and one
// goroutine runs whatever is waiting in a single transaction, each
// operation inside its own savepoint (so one failure rolls back only that
// operation), then commits once. Under load this turns N fsyncs into one;
// when idle a lone operation commits at once.
type batcher struct {
	s    *Store
	ops  chan *batchOp
	done chan struct{}

	batches, nops, commitNanos atomic.Int64
}

// BatchStats counts the group-commit writer's work.
type BatchStats struct {
	Batches    int64         // transactions committed
	Ops        int64         // operations in them
	CommitTime time.Duration // total time spent in COMMIT
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
	return BatchStats{Batches: b.batches.Load(), Ops: b.nops.Load(), CommitTime: time.Duration(b.commitNanos.Load())}
}

type batchOp struct {
	fn  func(tx *wtx) error
	err chan error
}

func newBatcher(s *Store) *batcher {
	b := &batcher{s: s, ops: make(chan *batchOp, 4*maxBatch), done: make(chan struct{})}
	go b.loop()
	return b
}

func (b *batcher) close() {
	close(b.ops)
	<-b.done
}

// do runs fn in a shared transaction and returns its error, or the commit's.
func (b *batcher) do(ctx context.Context, fn func(tx *wtx) error) error {
	op := &batchOp{fn: fn, err: make(chan error, 1)}
	select {
	case b.ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued the operation runs; wait for its outcome so that the
	// caller never answers before the commit.
	return <-op.err
}

func (b *batcher) loop() {
	defer close(b.done)
	batch := make([]*batchOp, 0, maxBatch)
	for op := range b.ops {
		batch = append(batch[:0], op)
	fill:
		for len(batch) < maxBatch {
			select {
			case o, ok := <-b.ops:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		b.run(batch)
	}
}

func (b *batcher) run(batch []*batchOp) {
	ctx := context.Background()
	errs := make([]error, len(batch))
	tx, err := b.s.db.BeginTx(ctx, nil)
	if err != nil {
		for _, op := range batch {
			op.err <- fmt.Errorf("starting transaction: %w", err)
		}
		return
	}
	single := len(batch) == 1
	w := &wtx{s: b.s, tx: tx}
	for i, op := range batch {
		if single {
			errs[i] = op.fn(w)
			continue
		}
		sp := "op" + strconv.Itoa(i)
		if _, err := tx.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
			errs[i] = fmt.Errorf("savepoint: %w", err)
			continue
		}
		if errs[i] = op.fn(w); errs[i] != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+sp); err != nil {
				// The transaction is unusable: fail everything.
				tx.Rollback()
				for _, op := range batch {
					op.err <- fmt.Errorf("rolling back savepoint: %w", err)
				}
				return
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT "+sp); err != nil {
			errs[i] = fmt.Errorf("releasing savepoint: %w", err)
		}
	}
	if single && errs[0] != nil {
		tx.Rollback()
		batch[0].err <- errs[0]
		return
	}
	start := time.Now()
	if err := tx.Commit(); err != nil {
		for _, op := range batch {
			op.err <- fmt.Errorf("committing: %w", err)
		}
		return
	}
	b.commitNanos.Add(int64(time.Since(start)))
	b.batches.Add(1)
	b.nops.Add(int64(len(batch)))
	for i, op := range batch {
		op.err <- errs[i]
	}
}
