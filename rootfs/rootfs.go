// Package rootfs assembles the device's initramfs: the Go init, the vxway
// device programs, a u-root busybox for the root shell, Debian's mke2fs
// with its shared libraries, and the build facts under /etc/vxway.
//
// The layout is data first: Plan returns a sorted list of Entry values
// (each with a String form, like `ls -l`), and WriteCPIO turns a list into
// a newc cpio archive with fixed owners, modes and timestamps, so the same
// inputs always give the same bytes.
package rootfs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
)

// Kind is the type of an initramfs entry.
type Kind int

// Entry kinds.
const (
	Dir Kind = iota
	File
	Symlink
)

// Entry is one file of the initramfs.
type Entry struct {
	Kind Kind
	// Path is absolute on the device, e.g. "/bin/xcli".
	Path string
	// Mode holds the Unix permission bits (07777).
	Mode uint32
	// Source is the host file holding a File's contents (when Data is nil).
	Source string
	// Data holds a File's contents when it is made in memory.
	Data []byte
	// Target is a Symlink's target.
	Target string
}

func (e Entry) String() string {
	switch e.Kind {
	case Dir:
		return fmt.Sprintf("dir     %s %04o", e.Path, e.Mode&0o7777)
	case Symlink:
		return fmt.Sprintf("symlink %s -> %s", e.Path, e.Target)
	default:
		src := e.Source
		if e.Data != nil {
			src = fmt.Sprintf("%d bytes", len(e.Data))
		}
		return fmt.Sprintf("file    %s %04o (%s)", e.Path, e.Mode&0o7777, src)
	}
}

// Sort orders entries by path and adds the parent directories that are
// missing (mode 0755), so an archive always creates a directory before
// its contents. It rejects two entries with the same path.
func Sort(entries []Entry) ([]Entry, error) {
	byPath := map[string]Entry{}
	for _, e := range entries {
		p := path.Clean(e.Path)
		if !path.IsAbs(p) || p == "/" {
			return nil, fmt.Errorf("initramfs entry %q: path must be absolute and not /", e.Path)
		}
		e.Path = p
		if _, dup := byPath[p]; dup {
			return nil, fmt.Errorf("initramfs entry %s appears twice", p)
		}
		byPath[p] = e
	}
	for p := range byPath {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if prev, ok := byPath[d]; ok {
				if prev.Kind != Dir {
					return nil, fmt.Errorf("initramfs entry %s needs %s to be a directory", p, d)
				}
				continue
			}
			byPath[d] = Entry{Kind: Dir, Path: d, Mode: 0o755}
		}
	}
	out := make([]Entry, 0, len(byPath))
	for _, e := range byPath {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// WriteCPIO writes entries (sorted with Sort first) as a newc archive to
// w. Every entry is owned by root with mtime t; inode numbers follow the
// entry order.
func WriteCPIO(w io.Writer, entries []Entry, t time.Time) error {
	entries, err := Sort(entries)
	if err != nil {
		return err
	}
	cw := cpio.Newc.Writer(w)
	for i, e := range entries {
		name := strings.TrimPrefix(e.Path, "/")
		var r cpio.Record
		switch e.Kind {
		case Dir:
			r = cpio.Directory(name, uint64(e.Mode&0o7777))
		case Symlink:
			r = cpio.Symlink(name, e.Target)
		case File:
			data := e.Data
			if data == nil {
				data, err = os.ReadFile(e.Source)
				if err != nil {
					return fmt.Errorf("reading %s for %s: %w", e.Source, e.Path, err)
				}
			}
			r = cpio.StaticRecord(data, cpio.Info{Name: name, Mode: cpio.S_IFREG | uint64(e.Mode&0o7777)})
		default:
			return fmt.Errorf("initramfs entry %s: unknown kind %d", e.Path, e.Kind)
		}
		r.Ino = uint64(i + 1)
		r.NLink = 1
		if e.Kind == Dir {
			r.NLink = 2
		}
		r.MTime = uint64(t.Unix())
		if err := cw.WriteRecord(r); err != nil {
			return fmt.Errorf("writing %s to the initramfs: %w", e.Path, err)
		}
	}
	if err := cpio.WriteTrailer(cw); err != nil {
		return fmt.Errorf("writing the initramfs trailer: %w", err)
	}
	return nil
}

// ReadCPIO lists the entries of a newc archive (uncompressed), for tests
// and `vxway inspect`. File contents are read into Data.
func ReadCPIO(b []byte) ([]Entry, error) {
	if err := checkCPIO(b); err != nil {
		return nil, fmt.Errorf("reading cpio: %w", err)
	}
	rr := cpio.Newc.Reader(bytes.NewReader(b))
	var out []Entry
	err := cpio.ForEachRecord(rr, func(r cpio.Record) error {
		e := Entry{Path: "/" + r.Name, Mode: uint32(r.Mode & 0o7777)}
		switch r.Mode & cpio.S_IFMT {
		case cpio.S_IFDIR:
			e.Kind = Dir
		case cpio.S_IFLNK:
			e.Kind = Symlink
			t, err := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
			if err != nil {
				return err
			}
			e.Target = string(t)
		case cpio.S_IFREG:
			e.Kind = File
			d, err := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
			if err != nil {
				return err
			}
			e.Data = d
		default:
			return fmt.Errorf("%s: unexpected file type %o", r.Name, r.Mode&cpio.S_IFMT)
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading cpio: %w", err)
	}
	return out, nil
}

// newc header: the magic "070701", then 13 fields of 8 hex digits.
const (
	newcHeaderLen  = 110
	newcFileSize   = 54 // offset of c_filesize
	newcNameSize   = 94 // offset of c_namesize
	newcTrailerRec = "TRAILER!!!\x00"
)

// checkCPIO walks the record headers of a newc archive and checks that
// every name and file fits in what is left of b. The cpio reader
// allocates a record's name at the size its header claims (up to 4 GiB)
// before reading it, so an archive from elsewhere is checked first. What
// this walk does not understand (a bad magic, bad hex) is left to the
// reader to report.
func checkCPIO(b []byte) error {
	field := func(h []byte, at int) (int64, bool) {
		var v int64
		for _, c := range h[at : at+8] {
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | int64(c-'0')
			case c >= 'a' && c <= 'f':
				v = v<<4 | int64(c-'a'+10)
			case c >= 'A' && c <= 'F':
				v = v<<4 | int64(c-'A'+10)
			default:
				return 0, false
			}
		}
		return v, true
	}
	round4 := func(n int64) int64 { return (n + 3) &^ 3 }
	size := int64(len(b))
	for pos := int64(0); size-pos >= newcHeaderLen; {
		h := b[pos : pos+newcHeaderLen]
		if string(h[:6]) != "070701" {
			return nil
		}
		nameLen, ok1 := field(h, newcNameSize)
		fileLen, ok2 := field(h, newcFileSize)
		if !ok1 || !ok2 {
			return nil
		}
		name := pos + newcHeaderLen
		if nameLen > size-name {
			return fmt.Errorf("the record at byte %d has a %d-byte name, but only %d bytes are left (a damaged or cut archive)", pos, nameLen, size-name)
		}
		if string(b[name:name+nameLen]) == newcTrailerRec {
			return nil
		}
		data := round4(name + nameLen)
		if fileLen > size-min(data, size) {
			return fmt.Errorf("the record at byte %d holds %d bytes, but only %d are left (a damaged or cut archive)", pos, fileLen, size-min(data, size))
		}
		pos = round4(data + fileLen)
	}
	return nil
}
