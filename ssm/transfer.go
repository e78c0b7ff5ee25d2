package ssm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"vxway/licproto"
)

// EventLicensesTransferred is the event of a license transfer, recorded in
// both virtual accounts.
const EventLicensesTransferred = "licenses_transferred"

// TransferLicenses moves count purchased licenses of type typ from
// virtual account from to virtual account to, both of one smart account.
// Only available licenses move (purchased - in use - reserved): licenses a
// product instance uses or a reservation holds stay.
func (s *Store) TransferLicenses(ctx context.Context, from, to string, typ licproto.LicenseType, count int, now time.Time) error {
	if !slices.Contains(poolTypeNames(), string(typ)) {
		return fmt.Errorf("%w: license type %q is not one of rms, room, desktop, plr, plr-ec", ErrInvalid, typ)
	}
	if count < 1 || count > MaxLicenseCount {
		return fmt.Errorf("%w: count %d is outside 1..%d", ErrInvalid, count, MaxLicenseCount)
	}
	if from == to {
		return fmt.Errorf("%w: the licenses are already in virtual account %q; choose another virtual account to transfer to", ErrInvalid, to)
	}
	return s.writeTx(ctx, func(w *wtx) error {
		var ids [2]int64
		var accts [2]int64
		for i, va := range []string{from, to} {
			err := w.QueryRowContext(ctx, s.q(`SELECT id, account_id FROM virtual_accounts WHERE name = ?`), va).Scan(&ids[i], &accts[i])
			if err != nil {
				if _, err2 := s.vaID(ctx, w, va); err2 != nil {
					return err2
				}
				return fmt.Errorf("finding virtual account %q: %w", va, err)
			}
		}
		if accts[0] != accts[1] {
			return fmt.Errorf("%w: virtual accounts %q and %q are in different smart accounts; licenses move only within one smart account", ErrInvalid, from, to)
		}
		// Lock both accounts' rows in id order, the order the agent's
		// writers take license rows in.
		order := []int64{ids[0], ids[1]}
		slices.Sort(order)
		pool := map[poolKey]*poolCounts{}
		for _, id := range order {
			if err := w.lockPool(ctx, id, pool); err != nil {
				return err
			}
		}
		src := pool[poolKey{ids[0], typ}]
		dst := pool[poolKey{ids[1], typ}]
		if src == nil || dst == nil {
			return errors.New("transferring licenses: license rows missing")
		}
		avail := src.purchased - src.inUse - src.reserved
		if int64(count) > avail {
			return fmt.Errorf("%w: virtual account %q has %d %s licenses available (purchased %d, in use %d, reserved %d), fewer than %d",
				ErrInvalid, from, max(avail, 0), typ, src.purchased, src.inUse, src.reserved, count)
		}
		if dst.purchased+int64(count) > MaxLicenseCount {
			return fmt.Errorf("%w: %s would hold %d %s licenses, more than %d", ErrInvalid, to, dst.purchased+int64(count), typ, MaxLicenseCount)
		}
		for _, d := range []struct {
			id int64
			n  int
		}{{ids[0], -count}, {ids[1], count}} {
			if _, err := w.ExecContext(ctx, s.q(`UPDATE licenses SET purchased = purchased + ? WHERE va_id = ? AND type = ?`), d.n, d.id, string(typ)); err != nil {
				return fmt.Errorf("transferring licenses: %w", err)
			}
		}
		if err := s.event(ctx, w, ids[0], now, EventLicensesTransferred, "", fmt.Sprintf("%d %s transferred to %s", count, typ, to)); err != nil {
			return err
		}
		return s.event(ctx, w, ids[1], now, EventLicensesTransferred, "", fmt.Sprintf("%d %s transferred from %s", count, typ, from))
	})
}
