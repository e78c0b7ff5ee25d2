package ssm

import (
	"context"
	"database/sql"
	"fmt"
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
}

func (w *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := w.s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return w.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

func (w *wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := w.s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return w.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
}

func (w *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
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
		return w.tx.ExecContext(ctx, query)
	}
	return w.ExecContext(ctx, query)
}
