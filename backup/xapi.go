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
	Status(ctx context.Context) (Status, error)
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
		st, err := op.Status(ctx)
		if err != nil {
			return err
		}
		for i, f := range st.Files {
			out.Status(fmt.Sprintf("Backup File %d Name", i+1), f.Name)
			out.StatusInt(fmt.Sprintf("Backup File %d Size", i+1), f.Size)
		}
		if st.Pending != "" {
			out.Status("Backup Restore Pending", st.Pending)
		}
		r := st.Last
		if r == nil {
			return nil
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

// FileInfo is an archive in Dir.
type FileInfo struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// Status is what xstatus Backup shows: the archives in Dir, a restore
// staged for the next boot, the last restore's outcome.
type Status struct {
	Files   []FileInfo `json:"files"`
	Pending string     `json:"pending,omitempty"`
	Last    *Result    `json:"last,omitempty"`
}

// Status reads the archives in Dir and the restore's records.
func (d *Device) Status(context.Context) (Status, error) {
	var st Status
	ents, err := os.ReadDir(filepath.Join(d.Root, Dir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return st, fmt.Errorf("listing /%s: %w", Dir, err)
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		st.Files = append(st.Files, FileInfo{Name: e.Name(), Size: fi.Size()})
	}
	staged, err := LoadStaged(d.Root)
	if err != nil {
		return st, err
	}
	if staged != nil {
		st.Pending = staged.Archive
	}
	st.Last, err = LoadResult(d.Root)
	return st, err
}
