package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"vxway/agentclient"
	"vxway/backup"
	"vxway/boot"
	"vxway/clock"
	"vxway/factoryreset"
	"vxway/firstboot"
	"vxway/login"
	"vxway/platform"
	"vxway/servercert"
	"vxway/supervise"
)

// Service log rotation: 1 MiB per file, 4 old files kept per service.
const (
	logMaxSize = 1 << 20
	logKeep    = 4
)

// device is the running appliance as init sees it.
type device struct {
	root      string
	console   io.Writer // init's own lines, "init: ..."
	sys       boot.System
	clock     clock.Clock
	reaper    *supervise.Reaper
	accounts  []login.Account
	tty       string // console login terminal; none when empty
	sshAddr   string
	httpsAddr string
	bootTime  func() time.Duration // time since the kernel started
	halt      chan boot.Halt
	links     bool // make /bin/reboot and /bin/poweroff
	slots     bool // look after the system slots on the ESP (upgrade)
	system    bool // serve the system service (sysclient.SocketPath)
	// network brings up lo and eth0 (netconf.Up on the device).
	network func(ctx context.Context) error
	// readyTimeout is how long to wait for the services before saying
	// which one is late (the wait goes on).
	readyTimeout time.Duration
	// privsep gives directories to their users at boot and runs the
	// services as theirs (off in tests over a temporary root).
	privsep bool

	boot      *boot.Boot
	sup       *supervise.Supervisor
	mu        sync.Mutex
	listeners []net.Listener
	closing   bool // shutdown has closed the listeners
	hostname  string
	// tagged is the console for the packages init runs: their lines get
	// the "init: " prefix too.
	tagged io.Writer
	// stopConsole ends the console login before shutdown.
	stopConsole context.CancelFunc
	// fips is FIPS 140 mode for this boot (platform.FIPSConfig).
	fips bool
	// bindDevice is the dedicated management interface the servers are
	// bound to; empty: every interface.
	bindDevice string
}

func (d *device) logf(format string, args ...any) {
	fmt.Fprintf(d.console, "init: "+format+"\n", args...)
}

func (d *device) path(rel string) string { return filepath.Join(d.root, rel) }

// start runs the boot sequence until every service is up and prints the
// ready line. Problems along the way are logged and the boot goes on, so
// the device stays reachable to be repaired.
func (d *device) start(ctx context.Context) error {
	t0 := d.bootTime()
	steps := &stopwatch{now: d.bootTime, last: t0}
	d.tagged = newPrefixWriter(d.console, "init: ")
	d.boot = &boot.Boot{Root: d.root, Sys: d.sys, Log: d.console, Wait: 5 * time.Second}
	if err := d.boot.MountEarly(); err != nil {
		d.logf("%v", err)
	}
	if d.links {
		d.makeHaltLinks()
	}
	steps.lap("mounts")
	if err := d.boot.MountVolume(boot.Volume{PartName: "persist", Target: "persist"}); err != nil {
		d.logf("%v (device state on persist is unavailable)", err)
	}
	steps.lap("persist")
	// A pending factory reset is carried out before anything uses data; it
	// also mounts data.
	if err := factoryreset.Resume(ctx, d.root, d.boot, d.tagged); err != nil {
		d.logf("factory reset: %v", err)
	}
	if err := d.boot.MountData(ctx); err != nil {
		d.logf("%v (configuration, keys and logs are unavailable)", err)
	}
	steps.lap("reset+data")
	// A restore checked and staged by xcommand Backup Restore is applied
	// before anything reads the configuration it replaces.
	if err := backup.Resume(d.root, d.tagged, d.clock); err != nil {
		d.logf("backup restore: %v", err)
	}
	// A provisioning seed is applied before the platform, the host name
	// and the network read the configuration it writes.
	if err := firstboot.Apply(ctx, d.root, d.tagged); err != nil {
		d.logf("provisioning: %v", err)
	}
	steps.lap("provisioning")
	d.applyFIPS()
	if err := platform.Boot(d.root, d.clock); err != nil {
		d.logf("platform: %v", err)
	}
	name, err := d.boot.SetHostname()
	if err != nil {
		d.logf("%v", err)
	}
	d.hostname = name
	d.followHostname(ctx, name)
	d.applyManagement(ctx)
	steps.lap("platform")

	// The services start first: the agent takes longest to come up, and
	// the network and the SSH and HTTPS servers come up while it does.
	d.sup = &supervise.Supervisor{
		LogDir:     d.path(supervise.LogDir),
		LogMaxSize: logMaxSize,
		LogKeep:    logKeep,
		Clock:      d.clock,
		Backoff:    supervise.DefaultBackoff,
		Runner:     d.reaper,
		Console:    d.console,
	}
	if d.privsep {
		if err := fixOwnership(d.root, dirOwners()); err != nil {
			d.logf("ownership: %v", err)
		}
	}
	svcs := d.services()
	if err := d.sup.Start(svcs); err != nil {
		d.logf("%v", err)
	}
	netDone := make(chan error, 1)
	var netTook, serversTook time.Duration
	go func() {
		t := d.bootTime()
		err := d.bringUpNetwork(ctx)
		netTook = d.bootTime() - t
		netDone <- err
	}()
	if d.system {
		if err := d.startSystemService(); err != nil {
			d.logf("%v", err)
		}
	}
	serversDone := make(chan error, 1)
	go func() {
		t := d.bootTime()
		err := d.startServers()
		serversTook = d.bootTime() - t
		serversDone <- err
	}()
	if err := d.waitReady(ctx, svcs); err != nil {
		return err
	}
	steps.lap("services")
	if err := <-serversDone; err != nil {
		d.logf("%v", err)
	}
	steps.lap("ssh+https wait")
	if err := <-netDone; err != nil {
		d.logf("network: %v", err)
	}
	steps.lap("network wait")
	t1 := d.bootTime()
	d.logf("boot steps: %s (in parallel: ssh+https %dms, network %dms)", steps, serversTook.Milliseconds(), netTook.Milliseconds())
	d.logf("services up %dms after init start", (t1 - t0).Milliseconds())
	fmt.Fprintf(d.console, "vxway: ready in %dms\n", t1.Milliseconds())
	if d.slots {
		d.confirmUpgrade(ctx)
	}
	// The seed's licensing part needs the running agent and the network.
	go func() {
		if err := firstboot.Finish(ctx, d.root, d.tagged); err != nil {
			d.logf("provisioning: %v", err)
		}
	}()
	return nil
}

// waitReady waits for the supervised services, naming the late ones after
// readyTimeout and waiting on.
func (d *device) waitReady(ctx context.Context, svcs []supervise.Service) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, d.readyTimeout)
		err := d.sup.WaitReady(wctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d.logf("still waiting: %v", err)
	}
}

func (d *device) bringUpNetwork(ctx context.Context) error {
	if d.network == nil {
		return nil
	}
	return d.network(ctx)
}

// services are the supervised programs present in the image.
func (d *device) services() []supervise.Service {
	env := []string{"PATH=" + login.DefaultPath, "HOME=/"}
	if d.fips {
		env = append(env, platform.FIPSEnv)
	}
	var svcs []supervise.Service
	agent := d.path("bin/smartagent")
	if _, err := os.Stat(agent); err == nil {
		sock := d.path(agentclient.SocketPath)
		svc := supervise.Service{
			Name:  "smartagent",
			Path:  agent,
			Args:  []string{"--root", d.root},
			Env:   env,
			Ready: func(ctx context.Context) error { return agentclient.WaitSocket(ctx, sock, 0) },
		}
		if d.privsep {
			cred, err := credential(platform.UserAgent)
			if err != nil {
				d.logf("smartagent: %v; running it as root", err)
			}
			svc.Credential = cred
		}
		svcs = append(svcs, svc)
	} else {
		d.logf("%s is not in the image: Smart Licensing is not running", agent)
	}
	if sip := d.path("bin/sipserver"); fileExists(sip) {
		svcs = append(svcs, supervise.Service{
			Name: "sipserver",
			Path: sip,
			Args: d.sipArgs(),
			Env:  env,
		})
	}
	return svcs
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// startServers starts the SSH and HTTPS servers inside init, making their
// keys on first boot. Each is kept serving (see keepServing).
func (d *device) startServers() error {
	users := platform.NewUsers(d.root, d.clock)
	var errs []error
	key, made, err := login.LoadOrMakeHostKey(d.path(login.HostKeyDir))
	if err != nil {
		// A damaged key is moved aside so SSH still comes up.
		bad := d.path(filepath.Join(login.HostKeyDir, login.HostKeyFile))
		if rerr := os.Rename(bad, bad+".bad"); rerr == nil {
			d.logf("%v; moved it to %s.bad", err, bad)
			key, made, err = login.LoadOrMakeHostKey(d.path(login.HostKeyDir))
		}
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("ssh: %w", err))
	} else {
		if made {
			d.logf("ssh: made the host key %s", d.path(filepath.Join(login.HostKeyDir, login.HostKeyFile)))
		}
		srv := &login.SSH{
			HostKey:   key,
			Accounts:  d.accounts,
			Checker:   users,
			Keys:      users,
			Defaults:  users,
			Runner:    d.reaper,
			Dev:       d.path("dev"),
			Log:       d.console,
			FailDelay: 2 * time.Second,
			Clock:     d.clock,
			SFTPDir:   d.path(backup.Dir),
			FIPS:      d.fips,
		}
		if err := d.serve("ssh", d.sshAddr, srv.Serve); err != nil {
			errs = append(errs, err)
		}
	}

	cert, made, err := servercert.LoadOrMakeCert(d.root, d.hostname, d.clock.Now())
	if err != nil {
		errs = append(errs, fmt.Errorf("https: %w", err))
	} else {
		if made {
			d.logf("https: made a self-signed certificate for %s", d.hostname)
		}
		web := d.webServer()
		web.FIPS = d.fips
		serve := func(l net.Listener) error { return web.Serve(l, cert) }
		if err := d.serve("https", d.httpsAddr, serve); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// addrs reports the bound addresses of the SSH and HTTPS servers.
func (d *device) addrs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, l := range d.listeners {
		out = append(out, l.Addr().String())
	}
	return out
}

// makeHaltLinks makes /bin/reboot and /bin/poweroff point at /init when
// the image does not carry them.
func (d *device) makeHaltLinks() {
	for _, name := range []string{"reboot", "poweroff"} {
		p := d.path("bin/" + name)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		if err := os.Symlink("/init", p); err != nil {
			d.logf("linking %s: %v", p, err)
		}
	}
}

// serveForever boots, runs the console login, and stops the device when
// asked (reboot, poweroff, or their signals). It never returns: PID 1
// must not exit.
func (d *device) serveForever(ctx context.Context) {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, rebootSignal, syscall.SIGINT, poweroffSignal)
	// Ctrl-Alt-Del becomes SIGINT to init instead of an instant reset.
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF)
	go d.reaper.Run(ctx)
	go func() {
		for s := range signals {
			how := boot.Reboot
			if s == poweroffSignal {
				how = boot.PowerOff
			}
			select {
			case d.halt <- how:
			default:
			}
		}
	}()
	if err := d.start(ctx); err != nil {
		d.logf("%v", err)
	}
	d.startConsole(ctx)
	how := <-d.halt
	for {
		err := d.shutdown(how)
		d.logf("%v; trying again in 5s", err)
		time.Sleep(5 * time.Second)
	}
}

// startConsole runs the login prompt on the console terminal.
func (d *device) startConsole(ctx context.Context) {
	if d.tty == "" {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	d.mu.Lock()
	d.stopConsole = cancel
	d.mu.Unlock()
	c := &login.Console{
		TTY:       d.tty,
		Accounts:  d.accounts,
		Checker:   platform.NewUsers(d.root, d.clock),
		Runner:    d.reaper,
		Hostname:  d.currentHostname,
		Term:      "vt100",
		FailDelay: 2 * time.Second,
		Log:       d.console,
	}
	go func() {
		if err := c.Serve(ctx); err != nil && ctx.Err() == nil {
			d.logf("console login: %v", err)
		}
	}()
}

// currentHostname is the kernel's host name (changed at run time by
// xconfiguration), or the one set at boot when proc cannot tell.
func (d *device) currentHostname() string {
	b, err := os.ReadFile(d.path("proc/sys/kernel/hostname"))
	if h := strings.TrimSpace(string(b)); err == nil && h != "" {
		return h
	}
	return d.hostname
}

// shutdown stops the services and servers, syncs, unmounts and stops the
// machine. It returns only when the final system call fails.
func (d *device) shutdown(how boot.Halt) error {
	d.logf("%s requested: stopping services", how)
	if d.sup != nil {
		d.sup.Stop(5 * time.Second)
	}
	d.mu.Lock()
	d.closing = true
	for _, l := range d.listeners {
		l.Close()
	}
	d.listeners = nil
	if d.stopConsole != nil {
		d.stopConsole()
	}
	d.mu.Unlock()
	d.killOthers()
	return d.boot.Shutdown(how)
}

// killOthers sends every process but init SIGTERM, then SIGKILL, so
// nothing holds data open (kill(-1) skips the caller). Off PID 1 (tests)
// it does nothing.
func (d *device) killOthers() {
	if os.Getpid() != 1 {
		return
	}
	_ = syscall.Kill(-1, syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	_ = syscall.Kill(-1, syscall.SIGKILL)
}
