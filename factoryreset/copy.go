package factoryreset

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"vxway/atomicfile"
)

// mkdirAllSync makes dir and its missing parents, syncing each parent so
// that the new directories survive a power cut.
func mkdirAllSync(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("creating %s: %w", dir, syscall.ENOTDIR)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSync(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return atomicfile.SyncDir(parent)
}

// expand returns the paths below root (slash-separated, relative) that
// pattern p names and that exist, sorted.
func expand(root string, p Path) ([]string, error) {
	pattern := path.Clean(p.Pattern)
	dir, base := path.Split(pattern)
	ents, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(dir)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", filepath.Join(root, filepath.FromSlash(dir)), err)
	}
	var out []string
	for _, e := range ents {
		ok, err := path.Match(base, e.Name())
		if err != nil {
			return nil, fmt.Errorf("matching %s: %w", p.Pattern, err)
		}
		if ok {
			out = append(out, dir+e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// copyTree copies src (a file, symlink or directory with everything
// below it) to dst, keeping modes, owners and modification times, and
// syncs every file and directory it writes. An existing dst file is
// overwritten. done is called after each file.
func copyTree(src, dst string, done func(string)) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("reading %s: %w", src, err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return fmt.Errorf("reading %s: %w", src, err)
		}
		if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("replacing %s: %w", dst, err)
		}
		if err := os.Symlink(target, dst); err != nil {
			return fmt.Errorf("creating %s: %w", dst, err)
		}
		keepOwner(dst, fi)
	case fi.IsDir():
		if err := os.Mkdir(dst, fi.Mode().Perm()); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("creating %s: %w", dst, err)
		}
		ents, err := os.ReadDir(src)
		if err != nil {
			return fmt.Errorf("listing %s: %w", src, err)
		}
		for _, e := range ents {
			if err := copyTree(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()), done); err != nil {
				return err
			}
		}
		if err := os.Chmod(dst, fi.Mode().Perm()); err != nil {
			return fmt.Errorf("setting the mode of %s: %w", dst, err)
		}
		keepOwner(dst, fi)
		if err := os.Chtimes(dst, fi.ModTime(), fi.ModTime()); err != nil {
			return fmt.Errorf("setting the time of %s: %w", dst, err)
		}
		if err := atomicfile.SyncDir(dst); err != nil {
			return err
		}
	case fi.Mode().IsRegular():
		if err := copyFile(src, dst, fi); err != nil {
			return err
		}
	default:
		return nil // sockets, fifos and devices are not state
	}
	if err := atomicfile.SyncDir(filepath.Dir(dst)); err != nil {
		return err
	}
	done(dst)
	return nil
}

func copyFile(src, dst string, fi fs.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("reading %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return fmt.Errorf("creating %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	if err := out.Chmod(fi.Mode().Perm()); err != nil {
		out.Close()
		return fmt.Errorf("setting the mode of %s: %w", dst, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("syncing %s: %w", dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", dst, err)
	}
	keepOwner(dst, fi)
	if err := os.Chtimes(dst, time.Now(), fi.ModTime()); err != nil {
		return fmt.Errorf("setting the time of %s: %w", dst, err)
	}
	return nil
}

// keepOwner gives dst the owner of fi where the system allows it; the
// device runs everything as root, so a refusal changes nothing there.
func keepOwner(dst string, fi fs.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		_ = os.Lchown(dst, int(st.Uid), int(st.Gid))
	}
}

// pickFields returns the JSON object in file src reduced to fields.
func pickFields(src string, fields []string) (map[string]json.RawMessage, error) {
	b, err := os.ReadFile(src)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", src, err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", src, err)
	}
	kept := map[string]json.RawMessage{}
	for _, f := range fields {
		if v, ok := all[f]; ok {
			kept[f] = v
		}
	}
	return kept, nil
}
