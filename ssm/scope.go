package ssm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
)

// Scoping: what each role may see and change. Objects outside a user's
// scope are refused exactly as objects that do not exist (ErrNotFound,
// with the same message), so a user of one smart account learns nothing
// about another; actions the role does not allow at all are refused with
// ErrForbidden. The admin API, the portal and their tests go through these
// checks before calling the store's functions, which the CLI (the
// manager's own administrator, on the database itself) calls directly.

// IsManagerAdmin reports whether u may do everything.
func (u *User) IsManagerAdmin() bool { return u.Role == RoleManagerAdmin }

// forbidden refuses an action u's role does not allow.
func forbidden(u *User, what string) error {
	return fmt.Errorf("%w: a %s may not %s", ErrForbidden, u.Role.Title(), what)
}

// RequireManagerAdmin refuses what only a manager administrator may do
// (what says what, e.g. "create smart accounts").
func RequireManagerAdmin(u *User, what string) error {
	if u.IsManagerAdmin() {
		return nil
	}
	return forbidden(u, what)
}

// RequireAccountAdmin refuses what a virtual-account user may not do.
func RequireAccountAdmin(u *User, what string) error {
	if u.Role == RoleManagerAdmin || u.Role == RoleAccountAdmin {
		return nil
	}
	return forbidden(u, what)
}

// ScopeAccount reports whether u may see smart account account; one
// outside u's scope is "not found", as a missing one. A manager
// administrator sees every account: the store function that follows
// judges whether it exists, as it did before users had scopes.
func (s *Store) ScopeAccount(ctx context.Context, u *User, account string) error {
	if u.IsManagerAdmin() {
		return nil
	}
	id, err := s.accountID(ctx, account)
	if err != nil {
		return err
	}
	if id == u.accountID {
		return nil
	}
	return fmt.Errorf("%w: smart account %q (create it with: ssm account create)", ErrNotFound, account)
}

// ScopeVA reports whether u may see and work in virtual account va; one
// outside u's scope is "not found", with the message of a missing one.
func (s *Store) ScopeVA(ctx context.Context, u *User, va string) error {
	if u.IsManagerAdmin() {
		return nil // see ScopeAccount
	}
	var id, account int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, account_id FROM virtual_accounts WHERE name = ?`), va).Scan(&id, &account)
	if errors.Is(err, sql.ErrNoRows) {
		return s.missingVA(va)
	}
	if err != nil {
		return fmt.Errorf("finding virtual account %q: %w", va, err)
	}
	switch {
	case u.Role == RoleAccountAdmin && account == u.accountID,
		u.Role == RoleVAUser && id == u.vaID:
		return nil
	}
	return s.missingVA(va)
}

func (s *Store) missingVA(va string) error {
	return fmt.Errorf("%w: virtual account %q (create it with: ssm va create)", ErrNotFound, va)
}

// ScopeInstance reports whether u may see and change the registered
// product instance udi, and returns its virtual account. (A device known
// only by a reservation is reached through its virtual account: the
// reservation functions take va and find codes only there.)
func (s *Store) ScopeInstance(ctx context.Context, u *User, udi string) (string, error) {
	var va string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT v.name FROM instances i JOIN virtual_accounts v ON v.id = i.va_id WHERE i.udi = ?`), udi).Scan(&va)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: product instance %q (see: ssm instance list)", ErrNotFound, udi)
	}
	if err != nil {
		return "", fmt.Errorf("finding product instance %q: %w", udi, err)
	}
	if err := s.ScopeVA(ctx, u, va); err != nil {
		return "", fmt.Errorf("%w: product instance %q (see: ssm instance list)", ErrNotFound, udi)
	}
	return va, nil
}

// ScopeToken reports whether u may revoke the registration token given
// in full or by id.
func (s *Store) ScopeToken(ctx context.Context, u *User, tokenOrID string) error {
	if u.IsManagerAdmin() {
		return nil // see ScopeAccount
	}
	where, arg := `t.hash = ?`, any(hashToken(tokenOrID))
	if n, err := strconv.ParseInt(tokenOrID, 10, 64); err == nil {
		where, arg = `t.id = ?`, n
	}
	infos, err := s.tokens(ctx, where, arg)
	if err != nil {
		return err
	}
	if len(infos) == 0 || s.ScopeVA(ctx, u, infos[0].VirtualAccount) != nil {
		return fmt.Errorf("%w: no such token (give the whole token or its id from: ssm token list)", ErrNotFound)
	}
	return nil
}

// VisibleAccounts lists the smart accounts and virtual accounts u may
// see.
func (s *Store) VisibleAccounts(ctx context.Context, u *User) ([]Account, error) {
	all, err := s.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	out := []Account{}
	for _, a := range all {
		switch {
		case u.IsManagerAdmin(), u.Role == RoleAccountAdmin && a.Name == u.Account:
			out = append(out, a)
		case u.Role == RoleVAUser && a.Name == u.Account:
			out = append(out, Account{Name: a.Name, VirtualAccounts: []string{u.VA}})
		}
	}
	return out, nil
}

// VisibleVAs lists the names of the virtual accounts u may see.
func (s *Store) VisibleVAs(ctx context.Context, u *User) ([]string, error) {
	accts, err := s.VisibleAccounts(ctx, u)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range accts {
		out = append(out, a.VirtualAccounts...)
	}
	return out, nil
}

// VisibleUsers lists the portal users u may manage: every user for a
// manager administrator, the users of its smart account for a
// smart-account administrator (manager administrators excepted).
func (s *Store) VisibleUsers(ctx context.Context, u *User) ([]User, error) {
	if err := RequireAccountAdmin(u, "manage users"); err != nil {
		return nil, err
	}
	all, err := s.Users(ctx)
	if err != nil {
		return nil, err
	}
	out := []User{}
	for _, x := range all {
		if u.IsManagerAdmin() || x.Role != RoleManagerAdmin && x.Account == u.Account {
			out = append(out, x)
		}
	}
	return out, nil
}

// ScopeUser reports whether u may manage the user name; one outside u's
// scope is "not found", as a missing one.
func (s *Store) ScopeUser(ctx context.Context, u *User, name string) error {
	if err := RequireAccountAdmin(u, "manage users"); err != nil {
		return err
	}
	x, err := s.User(ctx, name)
	if err != nil {
		return err
	}
	if u.IsManagerAdmin() || x.Role != RoleManagerAdmin && x.Account == u.Account {
		return nil
	}
	return fmt.Errorf("%w: user %q (see: ssm user list)", ErrNotFound, name)
}

// ScopeNewUser reports whether u may add a user of role in account or
// va (the arguments of AddUser).
func (s *Store) ScopeNewUser(ctx context.Context, u *User, role Role, account, va string) error {
	if err := RequireAccountAdmin(u, "add users"); err != nil {
		return err
	}
	switch {
	case role == RoleManagerAdmin:
		return RequireManagerAdmin(u, "add manager administrators")
	case role == RoleAccountAdmin && account != "":
		return s.ScopeAccount(ctx, u, account)
	case role == RoleVAUser && va != "":
		return s.ScopeVA(ctx, u, va)
	}
	return nil // AddUser refuses what is missing
}
