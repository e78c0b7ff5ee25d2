package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"vxway/xapi"
)

// Operator makes a backup and stages a restore: a Device, or a client of
// a service that runs one with root's rights.
type Operator interface {
	Create(ctx context.Context, password string) (Made, error)
	Restore(ctx context.Context, file, password string) (*Staged, error)
}

// RegisterXAPI adds the backup commands and status to t:
//
//	xcommand Backup Create Password: "..."
//	xcommand Backup Restore File: "..." Password: "..."
//	xstatus Backup
//
// op makes and restores the backups of the device under root (on the
// device, init's system service: the archive holds root's files); reboot
// asks for the restart that applies a staged restore; nil means the
// answer says to restart (a root other than the device's).
func RegisterXAPI(t *xapi.Tree, root string, op Operator, reboot func() error) {
	t.Handle(xapi.Command, "Backup", func(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
		switch {
		case xapi.PathIs(rel, "Create"):
			pw, ok := req.Arg("Password")
			if !ok {
				return errors.New(`give the password that encrypts the backup: xcommand Backup Create Password: "..."`)
			}
			m, err := op.Create(ctx, pw)
			if err != nil {
				return err
			}
			out.Result("Backup Create File", m.Path)
			out.Result("Backup Create Size", strconv.FormatInt(m.Size, 10))
			out.Result("Backup Create Files", strconv.Itoa(m.Files))
			return nil
		case xapi.PathIs(rel, "Restore"):
			file, okF := req.Arg("File")
			pw, okP := req.Arg("Password")
			if !okF || !okP {
				return errors.New(`give the archive and its password: xcommand Backup Restore File: "NAME" Password: "..."`)
			}
			st, err := op.Restore(ctx, file, pw)
			if err != nil {
				return fmt.Errorf("backup not restored, nothing changed: %w", err)
			}
			out.Result("Backup Restore Status", "Checked")
			out.Result("Backup Restore Source Serial", st.Serial)
			out.Result("Backup Restore Source SoftwareVersion", st.SoftwareVersion)
			out.Result("Backup Restore Source Created", st.Created.UTC().Format(time.RFC3339))
			if st.SameDevice {
				out.Result("Backup Restore Registration", "Restored: this backup was made on this device")
			} else {
				out.Result("Backup Restore Registration", fmt.Sprintf("Not restored: this backup was made on device %s, whose registration stays with it; Smart Licensing settings are restored, register this device with a new token", st.Serial))
			}
			if reboot == nil {
				out.Result("Backup Restore Apply", "at the next restart")
				return nil
			}
			out.Result("Backup Restore Apply", "restarting now to apply it")
			if err := reboot(); err != nil {
				return errors.Join(fmt.Errorf("the restart could not be asked for (%w); the restore is withdrawn, nothing changed", err), Cancel(root))
			}
			return nil
		}
		return fmt.Errorf("%w: xcommand Backup %v; the commands are Backup Create and Backup Restore", xapi.ErrNotFound, rel)
	})
	t.Handle(xapi.Status, "Backup", func(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
		ents, err := os.ReadDir(filepath.Join(root, Dir))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("listing /%s: %w", Dir, err)
		}
		sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
		n := 0
		for _, e := range ents {
			fi, err := e.Info()
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			n++
			out.Status(fmt.Sprintf("Backup File %d Name", n), e.Name())
			out.StatusInt(fmt.Sprintf("Backup File %d Size", n), fi.Size())
		}
		if st, err := LoadStaged(root); err != nil {
			return err
		} else if st != nil {
			out.Status("Backup Restore Pending", st.Archive)
		}
		r, err := LoadResult(root)
		if err != nil || r == nil {
			return err
		}
		out.Status("Backup LastRestore Result", r.Result)
		out.Status("Backup LastRestore Time", r.At.UTC().Format(time.RFC3339))
		out.Status("Backup LastRestore Archive", r.Archive)
		out.Status("Backup LastRestore Source Serial", r.Serial)
		same := "No"
		if r.SameDevice {
			same = "Yes"
		}
		out.Status("Backup LastRestore SameDevice", same)
		if r.Reason != "" {
			out.Status("Backup LastRestore Reason", r.Reason)
		}
		return nil
	})
}
