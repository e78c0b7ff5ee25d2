package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"time"

	"vxway/vm"
)

// bootedVM is a VM started for a measurement, with its serial console
// read line by line.
type bootedVM struct {
	// Lines is the console; start is when QEMU was started.
	Lines *bufio.Scanner
	Start time.Time
	Accel string
	cmd   *exec.Cmd
	stdin io.Closer
	out   *io.PipeReader
	stop  context.CancelFunc
}

// startVM boots o (its StateDir made first) for at most limit.
func startVM(ctx context.Context, o vm.Options, limit time.Duration) (*bootedVM, error) {
	if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
		return nil, err
	}
	v, err := vm.New(o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	pr, pw := io.Pipe()
	cmd := v.Command(ctx, nil, pw, pw)
	// An open stdin: the console's end of input would reach the guest.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	b := &bootedVM{Lines: bufio.NewScanner(pr), Start: time.Now(), Accel: v.Accel, cmd: cmd, stdin: stdin, out: pr, stop: cancel}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	go func() { cmd.Wait(); pw.Close() }()
	return b, nil
}

// Drain reads the rest of the console, so the guest never blocks on it.
func (b *bootedVM) Drain() { go io.Copy(io.Discard, b.out) }

// Close stops QEMU.
func (b *bootedVM) Close() {
	b.cmd.Process.Kill()
	b.stdin.Close()
	b.stop()
}
