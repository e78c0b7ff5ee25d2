package login

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// SFTP: an account marked SFTP gets the "sftp" subsystem, confined to
// one directory (SSH.SFTPDir) that it sees as "/": scp (which speaks
// SFTP since OpenSSH 9) and sftp copy files in and out of it, and nothing
// outside it is reachable, symbolic links included (os.Root).

// startSFTP serves SFTP on the session's channel in the background.
func (ss *session) startSFTP() error {
	dir := ss.s.SFTPDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sftp: creating %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("sftp: opening %s: %w", dir, err)
	}
	h := &confined{root: root}
	srv := sftp.NewRequestServer(keepOpen{ss.ch}, sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h})
	go func() {
		err := srv.Serve()
		srv.Close()
		root.Close()
		code := 0
		if err != nil && !errors.Is(err, io.EOF) {
			code = 1
		}
		<-ss.replied
		ss.ch.SendRequest("exit-status", false, ssh.Marshal(exitStatus{Status: uint32(code)}))
		ss.ch.Close()
	}()
	return nil
}

// keepOpen leaves the channel open when the SFTP server is done with it:
// the exit status goes out first (scp fails without one), then the
// channel is closed.
type keepOpen struct{ ssh.Channel }

func (keepOpen) Close() error { return nil }

// confined serves SFTP requests inside one directory.
type confined struct{ root *os.Root }

// rel maps a client's path (absolute, "/" being the directory) to a path
// relative to the directory.
func (c *confined) rel(p string) string {
	p = path.Clean("/" + p)
	if p == "/" {
		return "."
	}
	return p[1:]
}

func (c *confined) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	f, err := c.root.Open(c.rel(r.Filepath))
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (c *confined) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	pf := r.Pflags()
	flags := os.O_WRONLY
	if pf.Creat {
		flags |= os.O_CREATE
	}
	if pf.Trunc {
		flags |= os.O_TRUNC
	}
	if pf.Excl {
		flags |= os.O_EXCL
	}
	// Appends arrive as writes at the end's offset; an os.File opened
	// with O_APPEND refuses WriteAt.
	f, err := c.root.OpenFile(c.rel(r.Filepath), flags, 0o600)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (c *confined) Filecmd(r *sftp.Request) error {
	p := c.rel(r.Filepath)
	switch r.Method {
	case "Setstat":
		return c.setstat(p, r)
	case "Rename":
		return c.root.Rename(p, c.rel(r.Target))
	case "Remove", "Rmdir":
		return c.root.Remove(p)
	case "Mkdir":
		return c.root.Mkdir(p, 0o700)
	}
	// Links could point outside the directory: not served.
	return sftp.ErrSSHFxOpUnsupported
}

func (c *confined) setstat(p string, r *sftp.Request) error {
	flags, attrs := r.AttrFlags(), r.Attributes()
	if flags.Size {
		f, err := c.root.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		err = f.Truncate(int64(attrs.Size))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if flags.Permissions {
		if err := c.root.Chmod(p, attrs.FileMode().Perm()); err != nil {
			return err
		}
	}
	if flags.Acmodtime {
		if err := c.root.Chtimes(p, attrs.AccessTime(), attrs.ModTime()); err != nil {
			return err
		}
	}
	return nil
}

func (c *confined) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	p := c.rel(r.Filepath)
	switch r.Method {
	case "List":
		f, err := c.root.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		ents, err := f.ReadDir(-1)
		if err != nil {
			return nil, err
		}
		infos := make([]fs.FileInfo, 0, len(ents))
		for _, e := range ents {
			if fi, err := e.Info(); err == nil {
				infos = append(infos, fi)
			}
		}
		return listerAt(infos), nil
	case "Stat":
		fi, err := c.root.Stat(p)
		if err != nil {
			return nil, err
		}
		return listerAt{fi}, nil
	case "Lstat":
		fi, err := c.root.Lstat(p)
		if err != nil {
			return nil, err
		}
		return listerAt{fi}, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

type listerAt []fs.FileInfo

func (l listerAt) ListAt(out []fs.FileInfo, offset int64) (int, error) {
	if offset >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[offset:])
	if offset+int64(n) >= int64(len(l)) {
		return n, io.EOF
	}
	return n, nil
}
