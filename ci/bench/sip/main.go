// Command sip measures the SIP registrar and proxy with SIPp: it builds
// smartagent and sipserver as the image does, starts both on a scratch
// device root (the registrar limited to one core, GOMAXPROCS=1), and
// prints SIPp's REGISTER/s for new registrations (each authenticated by
// digest, a 401 challenge and the answer, and admitted by the agent)
// and for refreshes (digest too), call setups/s
// (INVITE/200/ACK/BYE to a SIPp neighbour), and the registrar's resident
// memory with 2,600 live registrations. Figures only, nothing asserted.
// SIP_BENCH_DEBUG=1 prints SIPp's own output.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"vxway/agentclient"
	"vxway/ci/bench/internal/rig"
	"vxway/sipclient"
)

const registrations = 2600

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench sip:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, stdout io.Writer) error {
	sipp, err := exec.LookPath("sipp")
	if err != nil {
		fmt.Fprintln(stdout, "sipp is missing (Debian's sip-tester): SIP figures skipped")
		return nil
	}
	dir, err := os.MkdirTemp("", "sip-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	root, err := rig.Device(ctx, dir, "smartagent", "sipserver")
	if err != nil {
		return err
	}
	neighbor, err := freeUDP()
	if err != nil {
		return err
	}
	cfg := sipclient.Config{Domain: "vx.example.com", Neighbor: fmt.Sprintf("127.0.0.1:%d", neighbor)}
	if err := sipclient.SaveConfig(root, cfg); err != nil {
		return err
	}
	// One credential per user, each REGISTER answering its challenge
	// with its own (register-each.xml).
	var users []string
	err = sipclient.UpdateCredentials(root, func(c sipclient.Credentials) error {
		for i := range registrations {
			name, pw := fmt.Sprintf("u%04d", i), fmt.Sprintf("pw-%04d", i)
			cr, err := sipclient.NewCredential(name, cfg.Realm(), pw)
			if err != nil {
				return err
			}
			c[name] = cr
			users = append(users, fmt.Sprintf("%s;vx.example.com;Jabber;[authentication username=%s password=%s]", name, name, pw))
		}
		return nil
	})
	if err != nil {
		return err
	}
	agent := exec.CommandContext(ctx, filepath.Join(dir, "smartagent"), "--root", root)
	agent.Stderr = io.Discard
	if err := agent.Start(); err != nil {
		return err
	}
	defer rig.Stop(agent)
	socket := filepath.Join(root, agentclient.SocketPath)
	if err := agentclient.WaitSocket(ctx, socket, 10*time.Second); err != nil {
		return err
	}
	if err := agentclient.NewClient(socket).Enable(ctx); err != nil {
		return err
	}
	port, err := freeUDP()
	if err != nil {
		return err
	}
	srv := exec.CommandContext(ctx, filepath.Join(dir, "sipserver"), "--root", root, "--sip", fmt.Sprintf("127.0.0.1:%d", port), "--sips", "")
	srv.Env = append(os.Environ(), "GOMAXPROCS=1")
	srv.Stderr = io.Discard
	if err := srv.Start(); err != nil {
		return err
	}
	defer rig.Stop(srv)
	if err := agentclient.WaitSocket(ctx, filepath.Join(root, sipclient.SocketPath), 10*time.Second); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "registrar limited to one core (GOMAXPROCS=1); load average %s\n", loadavg())
	scen, err := filepath.Abs("ci/sipp")
	if err != nil {
		return err
	}
	target := fmt.Sprintf("127.0.0.1:%d", port)
	rss0, err := rig.RSS(srv.Process.Pid)
	if err != nil {
		return err
	}

	// New registrations, each authenticated and admitted by the agent.
	rate, ok, err := sippRate(ctx, dir, sipp, target, filepath.Join(scen, "register-each.xml"), users, registrations, "-r", "5000")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "REGISTER/s, new registrations (digest, admitted by the agent): %.0f (%d of %d succeeded)\n", rate, ok, registrations)
	rss1, err := rig.RSS(srv.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "registrar resident memory: %.1f MiB idle, %.1f MiB with %d live registrations\n", rig.MiB(rss0), rig.MiB(rss1), ok)

	// Refreshes of the same registrations.
	rate, ok, err = sippRate(ctx, dir, sipp, target, filepath.Join(scen, "register-each.xml"), users, registrations, "-r", "5000")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "REGISTER/s, refreshes (digest): %.0f (%d of %d succeeded)\n", rate, ok, registrations)

	// Call setups to the neighbour.
	const calls = 2000
	uas := exec.CommandContext(ctx, sipp, "-sf", filepath.Join(scen, "neighbor.xml"), "-i", "127.0.0.1", "-p", strconv.Itoa(neighbor), "-m", strconv.Itoa(calls), "-nostdin", "-timeout", "150s")
	uas.Dir = dir
	if err := uas.Start(); err != nil {
		return err
	}
	defer rig.Stop(uas)
	time.Sleep(300 * time.Millisecond)
	var callers []string
	for i := range calls {
		callers = append(callers, fmt.Sprintf("u%04d;vx.example.com;n%d", i%registrations, i))
	}
	rate, ok, err = sippRate(ctx, dir, sipp, target, filepath.Join(scen, "call.xml"), callers, calls, "-r", "1000", "-d", "0")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "call setups/s (INVITE/200/ACK/BYE through the proxy, each admitted): %.0f (%d of %d succeeded)\n", rate, ok, calls)
	return nil
}

// sippRate runs a SIPp scenario for n calls as fast as rate options let
// and reports successful calls per second of SIPp's run.
func sippRate(ctx context.Context, dir, sipp, target, scenario string, lines []string, n int, extra ...string) (float64, int, error) {
	inf := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(inf, []byte("SEQUENTIAL\n"+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return 0, 0, err
	}
	args := append([]string{target, "-sf", scenario, "-inf", inf, "-m", strconv.Itoa(n), "-i", "127.0.0.1", "-nostdin",
		"-timeout", "120s", "-timeout_error", "-recv_timeout", "10000", "-l", "500"}, extra...)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sipp, args...)
	cmd.Dir = dir
	t := time.Now()
	out, _ := cmd.CombinedOutput()
	took := time.Since(t)
	if os.Getenv("SIP_BENCH_DEBUG") != "" {
		os.Stderr.Write(out)
	}
	ok := 0
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "Successful call") {
			f := strings.FieldsFunc(l, func(r rune) bool { return r == '|' || r == ' ' })
			ok, _ = strconv.Atoi(f[len(f)-1])
		}
	}
	return float64(ok) / took.Seconds(), ok, nil
}

func freeUDP() (int, error) {
	for range 20 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", u.LocalAddr().String())
		u.Close()
		if err == nil {
			l.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free port")
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}
