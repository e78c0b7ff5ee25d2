package login

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"vxway/atomicfile"
)

// HostKeyFile is the SSH host key's file name in the key directory.
const HostKeyFile = "ssh_host_ed25519_key"

// LoadOrMakeHostKey reads the host key from dir, making and saving a new
// Ed25519 key (OpenSSH format, mode 0600) when there is none. It reports
// whether the key is new.
func LoadOrMakeHostKey(dir string) (ssh.Signer, bool, error) {
	p := filepath.Join(dir, HostKeyFile)
	b, err := os.ReadFile(p)
	if err == nil {
		s, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, false, fmt.Errorf("parsing the host key %s: %w (remove it to make a new one)", p, err)
		}
		return s, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("reading %s: %w", p, err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("making the host key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, false, fmt.Errorf("encoding the host key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("making %s: %w", dir, err)
	}
	if err := atomicfile.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, false, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, false, fmt.Errorf("using the host key: %w", err)
	}
	pub := ssh.MarshalAuthorizedKey(signer.PublicKey())
	if err := atomicfile.WriteFile(p+".pub", pub, 0o644); err != nil {
		return nil, false, err
	}
	return signer, true, nil
}

// KeyLister gives the SSH public keys a user may log in with;
// platform.Users is one.
type KeyLister interface {
	AuthorizedKeys(user string) ([]string, error)
}

// SSH is the SSH server: password (and authorized key) logins for the
// accounts, an interactive shell with or without a pty, and `ssh host cmd`
// run as `shell -c cmd`.
type SSH struct {
	HostKey  ssh.Signer
	Accounts []Account
	Checker  Checker
	Keys     KeyLister // may be nil: passwords only
	Runner   Runner    // direct when nil
	Dev      string    // device directory holding ptmx and pts, /dev on the device
	Log      io.Writer // init's console lines; may be nil
	// FailDelay is the pause after a wrong password.
	FailDelay time.Duration
}

func (s *SSH) runner() Runner {
	if s.Runner == nil {
		return directRunner{}
	}
	return s.Runner
}

func (s *SSH) logf(format string, args ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, "init: ssh: "+format+"\n", args...)
	}
}

func (s *SSH) account(user string) (Account, bool) {
	for _, a := range s.Accounts {
		if a.Name == user {
			return a, true
		}
	}
	return Account{}, false
}

func (s *SSH) config() *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(meta ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
			if _, err := authenticate(s.Accounts, s.Checker, meta.User(), string(password)); err != nil {
				time.Sleep(s.FailDelay)
				return nil, err
			}
			return nil, nil
		},
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if _, ok := s.account(meta.User()); !ok || s.Keys == nil {
				return nil, ErrLoginIncorrect
			}
			lines, err := s.Keys.AuthorizedKeys(meta.User())
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrLoginIncorrect, err)
			}
			want := key.Marshal()
			for i, line := range lines {
				k, err := ParseAuthorizedKey(line)
				if errors.Is(err, ErrKeyOptions) {
					s.logf("authorized key %d of %s is ignored: %v", i+1, meta.User(), err)
					continue
				}
				if err == nil && string(k.Marshal()) == string(want) {
					return nil, nil
				}
			}
			return nil, ErrLoginIncorrect
		},
		MaxAuthTries: 6,
	}
	cfg.AddHostKey(s.HostKey)
	return cfg
}

// Serve accepts connections on l until it is closed.
func (s *SSH) Serve(l net.Listener) error {
	cfg := s.config()
	for {
		conn, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("accepting ssh connections: %w", err)
		}
		go s.handle(conn, cfg)
	}
}

func (s *SSH) handle(nc net.Conn, cfg *ssh.ServerConfig) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(time.Minute)) // bound the handshake
	conn, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		return
	}
	nc.SetDeadline(time.Time{})
	defer conn.Close()
	acct, _ := s.account(conn.User())
	go ssh.DiscardRequests(reqs)
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "only session channels are served")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		go s.session(acct, ch, creqs)
	}
}

// session state of one channel.
type session struct {
	s      *SSH
	acct   Account
	ch     ssh.Channel
	term   string
	cols   uint32
	rows   uint32
	pty    bool
	master *os.File
	env    []string
	mu     sync.Mutex
	cmd    *exec.Cmd
}

type ptyRequest struct {
	Term   string
	Cols   uint32
	Rows   uint32
	Width  uint32
	Height uint32
	Modes  string
}

type windowChange struct {
	Cols, Rows, Width, Height uint32
}

type envRequest struct{ Name, Value string }

type execRequest struct{ Command string }

type exitStatus struct{ Status uint32 }

func (s *SSH) session(acct Account, ch ssh.Channel, reqs <-chan *ssh.Request) {
	ss := &session{s: s, acct: acct, ch: ch}
	started := false
	for req := range reqs {
		ok := false
		switch req.Type {
		case "pty-req":
			var p ptyRequest
			if err := ssh.Unmarshal(req.Payload, &p); err == nil && !started {
				ss.pty, ss.term, ss.cols, ss.rows = true, p.Term, p.Cols, p.Rows
				ok = true
			}
		case "env":
			var e envRequest
			if err := ssh.Unmarshal(req.Payload, &e); err == nil && (e.Name == "LANG" || len(e.Name) > 3 && e.Name[:3] == "LC_") {
				ss.env = append(ss.env, e.Name+"="+e.Value)
				ok = true
			}
		case "window-change":
			var w windowChange
			if err := ssh.Unmarshal(req.Payload, &w); err == nil {
				ss.mu.Lock()
				if ss.master != nil {
					SetWindowSize(ss.master, w.Cols, w.Rows)
				}
				ss.mu.Unlock()
				ok = true
			}
		case "shell", "exec":
			if started {
				break
			}
			script := ""
			if req.Type == "exec" {
				var e execRequest
				if err := ssh.Unmarshal(req.Payload, &e); err != nil {
					break
				}
				script = e.Command
			}
			if err := ss.start(script); err != nil {
				fmt.Fprintf(ch.Stderr(), "%v\r\n", err)
				s.logf("%v", err)
				break
			}
			started, ok = true, true
		}
		if req.WantReply {
			req.Reply(ok, nil)
		}
	}
	// The client closed the channel: end what still runs.
	ss.mu.Lock()
	if ss.cmd != nil && ss.cmd.Process != nil {
		ss.cmd.Process.Signal(hangup)
	}
	ss.mu.Unlock()
}

// start runs the account's shell for the session and, in the background,
// waits for it, sends its exit status and closes the channel.
func (ss *session) start(script string) error {
	cmd := ss.acct.command(script, ss.term, ss.env)
	if !ss.pty || cmd.Stdin != nil {
		return ss.startPipes(cmd)
	}
	master, slave, err := OpenPTY(ss.s.Dev)
	if err != nil {
		return err
	}
	if ss.cols > 0 && ss.rows > 0 {
		SetWindowSize(master, ss.cols, ss.rows)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = sessionAttr(true)
	ss.mu.Lock()
	err = ss.s.runner().Start(cmd)
	if err == nil {
		ss.cmd, ss.master = cmd, master
	}
	ss.mu.Unlock()
	slave.Close()
	if err != nil {
		master.Close()
		return fmt.Errorf("starting %s: %w", ss.acct.Shell, err)
	}
	go io.Copy(master, ss.ch)
	output := make(chan struct{})
	go func() {
		io.Copy(ss.ch, master) // ends with EIO once the last slave closes
		close(output)
	}()
	go func() {
		err := ss.s.runner().Wait(cmd)
		select {
		case <-output:
		case <-time.After(2 * time.Second): // a child still holds the pty
		}
		ss.finish(err)
		master.Close()
	}()
	return nil
}

func (ss *session) startPipes(cmd *exec.Cmd) error {
	var stdin io.WriteCloser
	if cmd.Stdin == nil {
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			return err
		}
	}
	cmd.Stdout, cmd.Stderr = ss.ch, ss.ch.Stderr()
	cmd.WaitDelay = 2 * time.Second
	cmd.SysProcAttr = sessionAttr(false)
	ss.mu.Lock()
	err := ss.s.runner().Start(cmd)
	if err == nil {
		ss.cmd = cmd
	}
	ss.mu.Unlock()
	if err != nil {
		return fmt.Errorf("starting %s: %w", ss.acct.Shell, err)
	}
	if stdin != nil {
		go func() {
			io.Copy(stdin, ss.ch)
			stdin.Close()
		}()
	}
	go func() { ss.finish(ss.s.runner().Wait(cmd)) }()
	return nil
}

// finish sends the exit status and closes the channel.
func (ss *session) finish(err error) {
	code := 0
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
		if sig, ok := signalCode(exitErr.Sys()); ok {
			code = sig
		}
	default:
		code = 255
	}
	ss.ch.SendRequest("exit-status", false, ssh.Marshal(exitStatus{Status: uint32(code)}))
	ss.ch.Close()
}
