package vmtest

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"vxway/image"
)

// guestHostAddr is the host as a guest on QEMU's user network sees it:
// a connection to 10.0.2.2:PORT reaches the host's 127.0.0.1:PORT.
const guestHostAddr = "10.0.2.2"

// ssmHost is the real license manager (the ssm program, built from the
// tree) serving On-Prem on host loopback, for VM tests whose device
// registers with it. Its admin CLI runs against the same data directory.
type ssmHost struct {
	// CAFile is the manager CA (DIR/ca.crt).
	CAFile string
	// CAPEM is a copy of CAFile named for a build config's [licensing]
	// trusted_ca_files, which takes only .pem files:
	// Image(t, WithTrustedCA(m.CAPEM)).
	CAPEM string
	// Data is the manager's data directory.
	Data string
	// Port is the loopback port ssm serve listens on.
	Port int

	bin  string
	logs *lockedBuffer
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// servingRE is the line ssm serve prints once it listens.
var servingRE = regexp.MustCompile(`serving onprem agent endpoint https://127\.0\.0\.1:(\d+)/SmartTransport`)

// startSSM builds ssm, makes a data directory whose server certificate
// covers sans (ssm init) and serves On-Prem on 127.0.0.1 at a port the
// kernel picks. The manager stops when the test ends; a failed test
// prints its log.
func startSSM(t *testing.T, sans ...string) *ssmHost {
	t.Helper()
	mod, err := image.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := &ssmHost{bin: filepath.Join(dir, "ssm"), Data: filepath.Join(dir, "data"), logs: &lockedBuffer{}}
	build := exec.Command("go", "build", "-o", m.bin, "./cmd/ssm")
	build.Dir = mod
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building ssm: %v\n%s", err, out)
	}
	m.Run(t, "init", "--san", strings.Join(sans, ","))
	m.CAFile = filepath.Join(m.Data, "ca.crt")
	ca, err := os.ReadFile(m.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	m.CAPEM = filepath.Join(dir, "ssm-ca.pem")
	if err := os.WriteFile(m.CAPEM, ca, 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	srv := exec.CommandContext(ctx, m.bin, "--data", m.Data, "serve", "--mode", "onprem", "--listen", "127.0.0.1:0")
	srv.Cancel = func() error { return srv.Process.Signal(syscall.SIGTERM) }
	srv.WaitDelay = 10 * time.Second
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	srv.Stderr = m.logs
	if err := srv.Start(); err != nil {
		cancel()
		t.Fatalf("starting ssm serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		srv.Wait()
		if t.Failed() {
			t.Logf("manager log:\n%s", m.logs.String())
		}
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		fmt.Fprintln(m.logs, lines.Text())
		if sm := servingRE.FindStringSubmatch(lines.Text()); sm != nil {
			m.Port, _ = strconv.Atoi(sm[1])
			break
		}
	}
	if m.Port == 0 {
		t.Fatalf("ssm serve did not say where it listens:\n%s", m.logs.String())
	}
	go func() { // keep draining its output
		for lines.Scan() {
			fmt.Fprintln(m.logs, lines.Text())
		}
	}()
	return m
}

// Run runs an ssm admin command against the manager's data and returns
// its output; the test fails when it exits non-zero.
func (m *ssmHost) Run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(m.bin, append([]string{"--data", m.Data}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ssm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// JSON runs an ssm list or show command with --json and decodes its
// standard output into v.
func (m *ssmHost) JSON(t *testing.T, v any, args ...string) {
	t.Helper()
	cmd := exec.Command(m.bin, append([]string{"--data", m.Data, "--json"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ssm --json %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("ssm --json %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Token creates a registration token (ssm token create with args) and
// returns it: the last line of the output.
func (m *ssmHost) Token(t *testing.T, args ...string) string {
	t.Helper()
	out := strings.TrimSpace(m.Run(t, append([]string{"token", "create"}, args...)...))
	tok := strings.TrimSpace(out[strings.LastIndex(out, "\n")+1:])
	if tok == "" {
		t.Fatalf("ssm token create printed no token:\n%s", out)
	}
	return tok
}

// URL is the On-Prem transport URL with which a device reaches the
// manager at host.
func (m *ssmHost) URL(host string) string {
	return fmt.Sprintf("https://%s/SmartTransport", net.JoinHostPort(host, strconv.Itoa(m.Port)))
}

// Log is what the manager printed so far.
func (m *ssmHost) Log() string { return m.logs.String() }

// ssmInstance is a product instance as ssm --json instance list|show
// prints it.
type ssmInstance struct {
	UDI            string    `json:"udi"`
	SmartAccount   string    `json:"smart_account"`
	VirtualAccount string    `json:"virtual_account"`
	Hostname       string    `json:"hostname"`
	IP             string    `json:"ip"`
	State          string    `json:"state"`
	LastSeen       time.Time `json:"last_seen"`
	Usage          []struct {
		Type  string `json:"type"`
		InUse int64  `json:"in_use"`
		State string `json:"state"`
	} `json:"usage"`
}

// Instances lists the manager's product instances (all virtual accounts).
func (m *ssmHost) Instances(t *testing.T) []ssmInstance {
	t.Helper()
	var list []ssmInstance
	m.JSON(t, &list, "instance", "list")
	return list
}

// ssmLicense is one line of ssm --json license list.
type ssmLicense struct {
	Type      string `json:"type"`
	Purchased int64  `json:"purchased"`
	InUse     int64  `json:"in_use"`
	Available int64  `json:"available"`
}

// InUse reports the licenses of type typ in use in virtual account va.
func (m *ssmHost) InUse(t *testing.T, va, typ string) int64 {
	t.Helper()
	var list []ssmLicense
	m.JSON(t, &list, "license", "list", "--va", va)
	for _, l := range list {
		if l.Type == typ {
			return l.InUse
		}
	}
	t.Fatalf("ssm license list --va %s has no type %s: %+v", va, typ, list)
	return 0
}

// CheckServerCert fails the test unless the manager's server
// certificate is issued by its CA and valid for host (a name or an IP
// address), as a device connecting to host checks it.
func (m *ssmHost) CheckServerCert(t *testing.T, host string) {
	t.Helper()
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(m.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s holds no PEM certificate", m.CAFile)
	}
	srvPEM, err := os.ReadFile(filepath.Join(m.Data, "server.crt"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(srvPEM)
	if blk == nil {
		t.Fatal("server.crt holds no PEM block")
	}
	crt, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("parsing server.crt: %v", err)
	}
	if _, err := crt.Verify(x509.VerifyOptions{DNSName: host, Roots: pool}); err != nil {
		t.Fatalf("the manager's server certificate (names %v, IPs %v) does not verify for %s: %v", crt.DNSNames, crt.IPAddresses, host, err)
	}
}
