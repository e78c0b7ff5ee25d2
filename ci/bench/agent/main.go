// Command agent measures the Smart Licensing agent: it builds the
// smartagent binary as the image does (static, stripped), starts it on a
// scratch device root with Smart Licensing on, lets it settle, and prints
// its resident memory (target: at most 20 MiB) and binary size. It then
// restarts the agent on that root several times and prints how long it
// takes from process start until the local API socket accepts a
// connection (what init waits for at boot) and until the first status
// request is answered (the state is loaded). When qemu-x86_64 (Debian's
// qemu-user) is installed it also times the start under user-mode
// emulation, which slows the start down much like the device under
// software emulation does: package initialization and the first run of
// each piece of code cost far more than on the host.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"vxway/agentclient"
	"vxway/ci/bench/internal/rig"
)

// restarts is how many starts the timing figures are taken over.
const restarts = 15

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench agent:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, stdout io.Writer) error {
	dir, err := os.MkdirTemp("", "agent-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	root, err := rig.Device(ctx, dir, "smartagent")
	if err != nil {
		return err
	}
	bin := filepath.Join(dir, "smartagent")
	socket := filepath.Join(root, agentclient.SocketPath)
	cmd, first, err := start(ctx, root, socket, bin)
	if err != nil {
		return err
	}
	c := agentclient.NewClient(socket)
	if err := c.Enable(ctx); err != nil {
		rig.Stop(cmd)
		return err
	}
	for i := range 50 {
		if err := c.SetUsage(ctx, agentclient.TypeRMS, i); err != nil {
			rig.Stop(cmd)
			return err
		}
		if _, err := c.Status(ctx); err != nil {
			rig.Stop(cmd)
			return err
		}
	}
	time.Sleep(5 * time.Second) // let the agent go idle before measuring
	rss, err := rig.RSS(cmd.Process.Pid)
	rig.Stop(cmd)
	if err != nil {
		return err
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return err
	}
	var accept, answer []time.Duration
	for range restarts {
		cmd, t, err := start(ctx, root, socket, bin)
		if err != nil {
			return err
		}
		_, err = agentclient.NewClient(socket).Status(ctx)
		t.answer = time.Since(t.began)
		rig.Stop(cmd)
		if err != nil {
			return err
		}
		accept, answer = append(accept, t.accept), append(answer, t.answer)
	}
	emulated, err := emulatedStarts(ctx, bin, root, socket)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "smartagent idle RSS: %.1f MiB (target <= 20 MiB)\n", rig.MiB(rss))
	fmt.Fprintf(stdout, "smartagent binary: %.1f MiB (static, stripped)\n", float64(fi.Size())/(1<<20))
	fmt.Fprintf(stdout, "smartagent start -> socket accepts: first start %s; restart (enabled, usage) median %s, max %s over %d\n",
		rig.Ms(first.accept), rig.Ms(rig.Median(accept)), rig.Ms(slices.Max(accept)), restarts)
	fmt.Fprintf(stdout, "smartagent start -> first status answered: median %s, max %s over %d\n",
		rig.Ms(rig.Median(answer)), rig.Ms(slices.Max(answer)), restarts)
	if len(emulated) > 0 {
		fmt.Fprintf(stdout, "smartagent start -> socket accepts under qemu-x86_64 (user-mode emulation): median %s, max %s over %d\n",
			rig.Ms(rig.Median(emulated)), rig.Ms(slices.Max(emulated)), len(emulated))
	} else {
		fmt.Fprintln(stdout, "smartagent start under emulation: not measured (qemu-x86_64 from Debian's qemu-user is not installed)")
	}
	if rss > 20*1024 {
		return fmt.Errorf("idle RSS %d KiB is over the 20 MiB target", rss)
	}
	return nil
}

// emulatedStarts times the start to socket accept under qemu-x86_64,
// when it is installed.
func emulatedStarts(ctx context.Context, bin, root, socket string) ([]time.Duration, error) {
	qemu, err := exec.LookPath("qemu-x86_64")
	if err != nil {
		return nil, nil
	}
	var ds []time.Duration
	for range restarts {
		cmd, t, err := start(ctx, root, socket, qemu, bin)
		if err != nil {
			return nil, err
		}
		rig.Stop(cmd)
		ds = append(ds, t.accept)
	}
	return ds, nil
}

// timing is one start of the agent.
type timing struct {
	began          time.Time
	accept, answer time.Duration
}

// start starts the agent (the program argv, the agent binary last) on
// root and waits until its socket accepts a connection, as init's
// readiness check does.
func start(ctx context.Context, root, socket string, argv ...string) (*exec.Cmd, timing, error) {
	os.Remove(socket) // a stale socket must not count as accepting
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], "--root", root)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, timing{}, err
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, timing{}, err
	}
	go drain(stderr)
	deadline := began.Add(30 * time.Second)
	for {
		conn, err := net.Dial("unix", socket)
		if err == nil {
			conn.Close()
			return cmd, timing{began: began, accept: time.Since(began)}, nil
		}
		if time.Now().After(deadline) {
			rig.Stop(cmd)
			return nil, timing{}, fmt.Errorf("the agent's socket %s did not accept within 30 s: %w", socket, err)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// drain keeps the agent's log pipe from filling up.
func drain(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
	}
}
