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
	"vxway/clock"
)

// HostKeyFile is the SSH host key's file name in the key directory.
const HostKeyFile = "ssh_host_ed25519_key"

// HostKeyDir is the directory of the SSH host keys, below the device root.
const HostKeyDir = "data/ssh"

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

// DefaultChecker tells whether an account still has the image's default
// password; platform.Users is one.
type DefaultChecker interface {
	UsingDefault(user string) (bool, error)
}

// The SSH server's limits on what a client that has not logged in can
// make the device spend (OpenSSH's MaxStartups and LoginGraceTime are the
// model, without the random early drop).
const (
	// DefaultMaxStartups is how many connections may be in the handshake
	// or the login at once; further ones are closed at once.
	DefaultMaxStartups = 30
	// DefaultMaxStartupsPerSource is the same limit for one source
	// address, so one client cannot take every slot.
	DefaultMaxStartupsPerSource = 10
	// DefaultLoginGraceTime is how long a connection has to log in.
	DefaultLoginGraceTime = 20 * time.Second
	// DefaultMaxPasswordChecks is how many passwords are hashed at once;
	// an attempt beyond it fails at once, without hashing.
	DefaultMaxPasswordChecks = 2
)

// Accept errors (too many open files, for one) are retried after a pause
// that doubles from acceptRetryMin to acceptRetryMax while they last.
const (
	acceptRetryMin = 5 * time.Millisecond
	acceptRetryMax = time.Second
)

// errBusy refuses a password attempt while the password checks are all
// taken.
var errBusy = errors.New("too many logins at once; try again")

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
	// Defaults tells which accounts still have the default password, for
	// the accounts marked ConsoleOnlyWhileDefault; nil lets them in.
	Defaults DefaultChecker
	// Limits before login; zero means the Default... constant.
	MaxStartups          int
	MaxStartupsPerSource int
	LoginGraceTime       time.Duration
	MaxPasswordChecks    int
	// Clock times the pause after an accept error (the real clock when
	// nil).
	Clock clock.Clock
	// SFTPDir is the directory the accounts marked SFTP reach with the
	// sftp subsystem (scp, sftp); empty serves no SFTP.
	SFTPDir string
	// FIPS offers only algorithms approved under FIPS 140 (FIPS 140
	// mode).
	FIPS bool

	once      sync.Once
	mu        sync.Mutex
	startups  int            // connections not yet logged in
	perSource map[string]int // the same by source address
	refusing  bool           // the last connection was refused (logged once)
	checks    chan struct{}  // a slot per password check running
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

func (s *SSH) init() {
	s.once.Do(func() {
		s.perSource = map[string]int{}
		s.checks = make(chan struct{}, orDefault(s.MaxPasswordChecks, DefaultMaxPasswordChecks))
		if s.Clock == nil {
			s.Clock = clock.Real{}
		}
	})
}

// admit takes a pre-login slot for a connection from source, or reports
// false when the overall or the per-source limit is reached. The first
// refusal after an admitted connection is logged, not every one.
func (s *SSH) admit(source string) bool {
	maxAll := orDefault(s.MaxStartups, DefaultMaxStartups)
	maxOne := orDefault(s.MaxStartupsPerSource, DefaultMaxStartupsPerSource)
	s.mu.Lock()
	all, one := s.startups, s.perSource[source]
	ok := all < maxAll && one < maxOne
	first := !ok && !s.refusing
	s.refusing = !ok
	if ok {
		s.startups++
		s.perSource[source]++
	}
	s.mu.Unlock()
	if first {
		s.logf("refusing connections: %d are not logged in yet, %d of them from %s; the limits are %d, and %d from one address",
			all, one, source, maxAll, maxOne)
	}
	return ok
}

// release gives back the pre-login slot of a connection from source.
func (s *SSH) release(source string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startups--
	if s.perSource[source]--; s.perSource[source] <= 0 {
		delete(s.perSource, source)
	}
}

// checkPassword runs the password check in one of the bounded slots, or
// fails at once when all are taken.
func (s *SSH) checkPassword(user, password string) (Account, error) {
	select {
	case s.checks <- struct{}{}:
	default:
		return Account{}, fmt.Errorf("%w: %w", ErrLoginIncorrect, errBusy)
	}
	defer func() { <-s.checks }()
	acct, err := authenticate(s.Accounts, s.Checker, user, password)
	if err != nil {
		return Account{}, err
	}
	if acct.ConsoleOnlyWhileDefault && s.Defaults != nil {
		def, err := s.Defaults.UsingDefault(user)
		if err != nil {
			return Account{}, fmt.Errorf("%w: %w", ErrLoginIncorrect, err)
		}
		if def {
			return Account{}, fmt.Errorf("%w: %w", ErrLoginIncorrect, errDefaultPassword)
		}
	}
	return acct, nil
}

// errDefaultPassword refuses a password login over SSH to an account that
// still has the image's default password.
var errDefaultPassword = errors.New("the account still has the default password: log in on the console and change it with passwd; until then it cannot log in over SSH with a password")

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
			if _, err := s.checkPassword(meta.User(), string(password)); err != nil {
				switch {
				case errors.Is(err, errDefaultPassword):
					s.logf("refused %s from %s: %v", meta.User(), meta.RemoteAddr(), errDefaultPassword)
				case errors.Is(err, errBusy):
					return nil, err // no pause: the point is to spend nothing
				}
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
	if s.FIPS {
		restrictFIPS(cfg)
	}
	cfg.AddHostKey(s.HostKey)
	return cfg
}

// Serve accepts connections on l until it is closed. An accept error (too
// many open files, for one) does not end it: it pauses, longer while the
// errors last, and accepts again.
func (s *SSH) Serve(l net.Listener) error {
	s.init()
	cfg := s.config()
	var pause time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if pause == 0 {
				pause = acceptRetryMin
				s.logf("accepting connections: %v; retrying", err)
			} else {
				pause = min(2*pause, acceptRetryMax)
			}
			s.wait(pause)
			continue
		}
		pause = 0
		source := sourceOf(conn.RemoteAddr())
		if !s.admit(source) {
			conn.Close()
			continue
		}
		go s.handle(conn, cfg, source)
	}
}

// wait pauses for d on the server's clock.
func (s *SSH) wait(d time.Duration) {
	clock.Sleep(s.Clock, d)
}

// sourceOf is the address a connection comes from, without its port.
func sourceOf(a net.Addr) string {
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

func (s *SSH) handle(nc net.Conn, cfg *ssh.ServerConfig, source string) {
	defer nc.Close()
	// A fault in one connection must not end init, which serves it.
	defer func() {
		if v := recover(); v != nil {
			s.logf("connection from %s: internal error: %v", source, v)
		}
	}()
	released := false
	release := func() {
		if !released {
			released = true
			s.release(source)
		}
	}
	defer release()
	nc.SetDeadline(time.Now().Add(orDefault(s.LoginGraceTime, DefaultLoginGraceTime)))
	conn, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		return
	}
	release()
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
	// replied is closed once the request that started the shell, the
	// command or the subsystem has been answered: the exit status and
	// the channel's close must come after that answer, or a client whose
	// command ends at once sees the channel close before its reply.
	replied chan struct{}
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
	ss := &session{s: s, acct: acct, ch: ch, replied: make(chan struct{})}
	started := false
	for req := range reqs {
		ok := false
		wasStarted := started
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
		case "subsystem":
			var sub struct{ Name string }
			if started || ssh.Unmarshal(req.Payload, &sub) != nil || sub.Name != "sftp" || !acct.SFTP || s.SFTPDir == "" {
				break
			}
			if err := ss.startSFTP(); err != nil {
				s.logf("%v", err)
				break
			}
			started, ok = true, true
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
		if started && !wasStarted {
			close(ss.replied)
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
	cmd.SysProcAttr = sessionAttr(true, ss.acct.Credential)
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
	cmd.SysProcAttr = sessionAttr(false, ss.acct.Credential)
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
	<-ss.replied
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
