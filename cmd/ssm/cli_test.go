package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"vxway/licproto"
)

// ssmBinary builds the ssm program for the test.
func ssmBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ssm")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("building ssm: %v\n%s", err, out)
	}
	return bin
}

// cliRun runs the ssm program on one data directory.
type cliRun struct {
	t    *testing.T
	bin  string
	data string
	// env is added to the environment of every run (SSM_DB).
	env []string
}

// ok runs ssm with args and returns its output, failing the test on error.
func (c *cliRun) ok(args ...string) string {
	c.t.Helper()
	out, err := c.cmd(args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("ssm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// fail runs ssm expecting an error and returns its output.
func (c *cliRun) fail(args ...string) string {
	c.t.Helper()
	out, err := c.cmd(args...).CombinedOutput()
	if err == nil {
		c.t.Fatalf("ssm %s succeeded:\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

func (c *cliRun) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(c.bin, append([]string{"--data", c.data}, args...)...)
	if c.env != nil {
		cmd.Env = append(os.Environ(), c.env...)
	}
	return cmd
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

var endpointRE = regexp.MustCompile(`endpoint (https://\S+)`)

// serve starts `ssm serve` with args on the data directory as its own
// process, its log going to logs, and returns a device's client of the
// agent endpoint it prints, trusting the manager's CA. stop interrupts
// the server and waits for it; it runs at the end of the test if not
// called before.
func (c *cliRun) serve(logs io.Writer, args ...string) (client *licproto.Client, stop func()) {
	c.t.Helper()
	srv := c.cmd(append([]string{"serve"}, args...)...)
	stdout, err := srv.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	srv.Stderr = logs
	if err := srv.Start(); err != nil {
		c.t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { srv.Process.Signal(os.Interrupt); srv.Wait() }) }
	c.t.Cleanup(stop)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		c.t.Fatalf("serve: %v", err)
	}
	m := endpointRE.FindStringSubmatch(line)
	if m == nil {
		c.t.Fatalf("serve printed %q", line)
	}
	caPEM, err := os.ReadFile(filepath.Join(c.data, "ca.crt"))
	if err != nil {
		c.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &licproto.Client{URL: m[1], Verifier: licproto.NewVerifier(pool),
		HTTP: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}, stop
}

// deviceKey makes a device's key pair, the public key as it registers it.
func deviceKey(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, pub
}
