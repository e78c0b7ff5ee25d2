package ssm

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
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
}

type batchOp struct {
	fn  func(tx *sql.Tx) error
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
func (b *batcher) do(ctx context.Context, fn func(tx *sql.Tx) error) error {
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
	for i, op := range batch {
		if single {
			errs[i] = op.fn(tx)
			continue
		}
		sp := "op" + strconv.Itoa(i)
		if _, err := tx.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
			errs[i] = fmt.Errorf("savepoint: %w", err)
			continue
		}
		if errs[i] = op.fn(tx); errs[i] != nil {
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
	if err := tx.Commit(); err != nil {
		for _, op := range batch {
			op.err <- fmt.Errorf("committing: %w", err)
		}
		return
	}
	for i, op := range batch {
		op.err <- errs[i]
	}
}
