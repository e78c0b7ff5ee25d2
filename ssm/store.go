package ssm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"               // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// pgWriters is how many transactions a manager runs at once on
// PostgreSQL (SQLite allows one writer). One: every authorization that
// changes usage ends its transaction on its virtual account's license
// rows, so writers of one fleet take turns on them anyway; a single
// writer's batches are larger, which spares per-transaction statements,
// commits and lock waits. On the 2-core build machine four writers cost
// 1.6 times the manager CPU per first authorization and 2 times per
// registration (PostgreSQL's included), and were no faster. Operations
// are routed by instance, so more writers stay free of deadlocks.
const pgWriters = 1

// Admin errors callers branch on.
var (
	// ErrNotFound: the named account, virtual account, token or instance
	// does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a name is already taken.
	ErrExists = errors.New("already exists")
	// ErrInvalid: an argument is out of range or malformed.
	ErrInvalid = errors.New("invalid")
)

// Store is the manager's database: SQLite (one file, WAL) or PostgreSQL,
// with the same schema. Agent writes go through a group-commit writer so
// that many requests share one transaction and one fsync.
type Store struct {
	db    *sql.DB
	pg    bool
	batch *batcher
	// seqs is the replay guard's memory of counters accepted without a
	// transaction (seq.go).
	seqs seqMemory

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt

	// sent counts the statements agent operations send (BEGIN and COMMIT
	// included): on PostgreSQL, each is a round trip.
	sent atomic.Int64

	hints usageHints

	// hashing bounds the password hashes computed at once (users.go).
	hashing chan struct{}
}

// OpenStore opens (and migrates) the database at dsn: a postgres:// or
// postgresql:// URL, or the path of a SQLite file, created if missing.
func OpenStore(ctx context.Context, dsn string) (*Store, error) {
	s := &Store{stmts: map[string]*sql.Stmt{}, hashing: make(chan struct{}, hashSlots)}
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.pg = true
		s.db, err = sql.Open("pgx", dsn)
		if err == nil {
			s.db.SetMaxOpenConns(16)
			s.db.SetMaxIdleConns(16)
		}
	case dsn == "":
		return nil, fmt.Errorf("opening store: no database given")
	default:
		// synchronous(FULL): a commit is on disk when it returns, so an
		// answer the device has seen is never lost on a power cut.
		s.db, err = sql.Open("sqlite", "file:"+dsn+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"+
			"&_pragma=busy_timeout(20000)&_pragma=foreign_keys(1)&_txlock=immediate")
		if err == nil {
			s.db.SetMaxOpenConns(8)
			s.db.SetMaxIdleConns(8)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("connecting to database %s: %w", RedactDSN(dsn), err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	writers := 1
	if s.pg {
		writers = pgWriters
	}
	s.batch = newBatcher(s, writers)
	return s, nil
}

// Close stops the writer and closes the database.
func (s *Store) Close() error {
	s.batch.close()
	s.closeStmts()
	return s.db.Close()
}

// Dialect reports "postgres" or "sqlite".
func (s *Store) Dialect() string {
	if s.pg {
		return "postgres"
	}
	return "sqlite"
}

// RedactDSN returns the database URL dsn fit to print or log: a password
// in the user part (postgres://user:password@host/db) or in the query
// (?password=...) is replaced by xxxxx. A URL that does not parse is hidden
// whole but for its scheme; a SQLite path is returned as it is.
func RedactDSN(dsn string) string {
	scheme, _, isURL := strings.Cut(dsn, "://")
	if !isURL {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return scheme + "://*** (unparsable URL hidden)"
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			k, _, _ := strings.Cut(p, "=")
			if k, err := url.QueryUnescape(k); err != nil || strings.EqualFold(k, "password") {
				parts[i] = "password=xxxxx"
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	return u.Redacted()
}

// q rewrites ? placeholders to $n for PostgreSQL.
func (s *Store) q(query string) string {
	if !s.pg {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// migrations returns the schema changes in order; each is a list of
// statements in which {{ID}} is the auto-increment primary key column type.
func migrations() [][]string {
	return [][]string{
		{
			`CREATE TABLE accounts (
			id {{ID}},
			name TEXT NOT NULL UNIQUE,
			created_at BIGINT NOT NULL)`,
			`CREATE TABLE virtual_accounts (
			id {{ID}},
			account_id BIGINT NOT NULL REFERENCES accounts(id),
			name TEXT NOT NULL UNIQUE,
			created_at BIGINT NOT NULL)`,
			`CREATE TABLE licenses (
			va_id BIGINT NOT NULL REFERENCES virtual_accounts(id),
			type TEXT NOT NULL,
			purchased BIGINT NOT NULL DEFAULT 0,
			in_use BIGINT NOT NULL DEFAULT 0,
			reserved BIGINT NOT NULL DEFAULT 0,
			PRIMARY KEY (va_id, type))`,
			`CREATE TABLE tokens (
			id {{ID}},
			hash TEXT NOT NULL UNIQUE,
			hint TEXT NOT NULL,
			va_id BIGINT NOT NULL REFERENCES virtual_accounts(id),
			created_at BIGINT NOT NULL,
			expires_at BIGINT NOT NULL,
			max_uses BIGINT NOT NULL,
			uses BIGINT NOT NULL DEFAULT 0,
			export_controlled INTEGER NOT NULL,
			revoked_at BIGINT NOT NULL DEFAULT 0)`,
			`CREATE INDEX tokens_va ON tokens(va_id)`,
			`CREATE TABLE instances (
			id {{ID}},
			udi TEXT NOT NULL UNIQUE,
			va_id BIGINT NOT NULL REFERENCES virtual_accounts(id),
			public_key TEXT NOT NULL,
			cert_serial TEXT NOT NULL,
			cert_not_after BIGINT NOT NULL,
			hostname TEXT NOT NULL,
			ip TEXT NOT NULL,
			export_controlled INTEGER NOT NULL,
			token_id BIGINT NOT NULL,
			registered_at BIGINT NOT NULL,
			renewed_at BIGINT NOT NULL,
			last_seen BIGINT NOT NULL,
			last_state TEXT NOT NULL DEFAULT '')`,
			`CREATE INDEX instances_va ON instances(va_id)`,
			`CREATE TABLE instance_usage (
			instance_id BIGINT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
			type TEXT NOT NULL,
			in_use BIGINT NOT NULL,
			state TEXT NOT NULL,
			PRIMARY KEY (instance_id, type))`,
			`CREATE TABLE events (
			id {{ID}},
			va_id BIGINT NOT NULL,
			at BIGINT NOT NULL,
			kind TEXT NOT NULL,
			udi TEXT NOT NULL,
			detail TEXT NOT NULL)`,
			`CREATE INDEX events_va ON events(va_id, id)`,
		},
		{
			`CREATE TABLE reservations (
			id {{ID}},
			va_id BIGINT NOT NULL REFERENCES virtual_accounts(id),
			request TEXT NOT NULL UNIQUE,
			request_tag TEXT NOT NULL,
			udi TEXT NOT NULL,
			piid TEXT NOT NULL,
			kind TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			last_issued BIGINT NOT NULL,
			wrong_confirmations BIGINT NOT NULL DEFAULT 0)`,
			`CREATE INDEX reservations_va ON reservations(va_id, request_tag)`,
			`CREATE TABLE reservation_codes (
			id {{ID}},
			reservation_id BIGINT NOT NULL REFERENCES reservations(id) ON DELETE CASCADE,
			code_id TEXT NOT NULL,
			kind TEXT NOT NULL,
			export_control INTEGER NOT NULL,
			issued_at BIGINT NOT NULL,
			holding TEXT NOT NULL,
			state TEXT NOT NULL,
			code TEXT NOT NULL)`,
			`CREATE INDEX reservation_codes_res ON reservation_codes(reservation_id)`,
		},
		{
			// The replay guard's request counters (seq.go).
			`ALTER TABLE instances ADD COLUMN seq BIGINT NOT NULL DEFAULT 0`,
			`CREATE TABLE retired_keys (
			public_key TEXT PRIMARY KEY,
			seq BIGINT NOT NULL)`,
		},
		{
			// Portal users (users.go) and their admin API tokens; a
			// description for registration tokens.
			`CREATE TABLE users (
			id {{ID}},
			name TEXT NOT NULL UNIQUE,
			role TEXT NOT NULL,
			account_id BIGINT REFERENCES accounts(id),
			va_id BIGINT REFERENCES virtual_accounts(id),
			password_hash TEXT NOT NULL,
			must_change INTEGER NOT NULL,
			created_at BIGINT NOT NULL,
			password_changed_at BIGINT NOT NULL)`,
			`CREATE TABLE user_tokens (
			id {{ID}},
			user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
			hash TEXT NOT NULL UNIQUE,
			hint TEXT NOT NULL,
			created_at BIGINT NOT NULL)`,
			`CREATE INDEX user_tokens_user ON user_tokens(user_id)`,
			`ALTER TABLE tokens ADD COLUMN description TEXT NOT NULL DEFAULT ''`,
		},
	}
}

func (s *Store) migrate(ctx context.Context) error {
	idType := "INTEGER PRIMARY KEY"
	if s.pg {
		idType = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrating database: %w", err)
	}
	defer tx.Rollback()
	if s.pg {
		// Several managers may start together on one database.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7349001)`); err != nil {
			return fmt.Errorf("locking database for migration: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	migs := migrations()
	if have > len(migs) {
		return fmt.Errorf("database schema version %d is newer than this manager knows (%d); upgrade ssm", have, len(migs))
	}
	for v := have + 1; v <= len(migs); v++ {
		for _, stmt := range migs[v-1] {
			if _, err := tx.ExecContext(ctx, strings.ReplaceAll(stmt, "{{ID}}", idType)); err != nil {
				return fmt.Errorf("applying migration %d: %w", v, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), v, time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("recording migration %d: %w", v, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing migrations: %w", err)
	}
	return nil
}

// SchemaVersion reports the applied schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
