// Command ssm-bench measures the license manager: registrations per second
// and authorization renewals per second from many simulated product
// instances over loopback HTTPS, against SQLite and then PostgreSQL, then
// with several managers sharing one PostgreSQL database (a fleet, each
// device talking to any of them), next to this machine's ECDSA P-256
// signing rate measured in the same run.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"vxway/licproto"
	"vxway/ssm"
	"vxway/ssm/pgtest"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "ssm-bench: %v\n", err)
		os.Exit(1)
	}
}

type config struct {
	instances   int
	concurrency int
	rounds      int
	dbs         []string
	cpuprofile  string
	mgrProfile  string
	ssmBin      string
	// baseline is a second concurrency at which renewals are measured
	// too, so that both figures stay visible.
	baseline int
	// fleet is how many managers share one PostgreSQL database in the
	// fleet measurement (0: none).
	fleet int
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("ssm-bench", flag.ContinueOnError)
	var c config
	var dbs string
	fs.IntVar(&c.instances, "instances", 10_000, "simulated product instances")
	// 10,000 devices each hold their own connection, so the manager may
	// see far more than 64 requests in flight (a burst of devices retrying
	// after an outage). Renewals are measured at 256 too: once renewals
	// that change nothing stopped waiting for a commit they are CPU-bound,
	// and 256 connections gave the same renewal rate as 64 with four times
	// the latency, and slower registrations on SQLite (batches of 35
	// taking 10 ms each), so 64 stays the default.
	fs.IntVar(&c.concurrency, "concurrency", 64, "concurrent device connections")
	fs.IntVar(&c.baseline, "also", 256, "also measure renewals at this many connections (0: not)")
	fs.IntVar(&c.rounds, "rounds", 2, "authorization renewals per instance")
	fs.StringVar(&dbs, "db", "sqlite,postgres", "databases to measure (sqlite, postgres)")
	fs.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of the load generator to `FILE`")
	fs.StringVar(&c.mgrProfile, "mgr-cpuprofile", "", "write a CPU profile of ssm serve to `FILE`.DB (one per database)")
	fs.StringVar(&c.ssmBin, "ssm", "", "ssm `BINARY` to run as the manager (default: build vxway/cmd/ssm)")
	fs.IntVar(&c.fleet, "fleet", 3, "managers sharing one PostgreSQL database in the fleet measurement (0: not measured; needs postgres in -db)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.dbs = strings.Split(dbs, ",")
	if c.cpuprofile != "" {
		f, err := os.Create(c.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	if c.ssmBin == "" {
		dir, err := os.MkdirTemp("", "ssm-bench-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.ssmBin = filepath.Join(dir, "ssm")
		if b, err := exec.Command("go", "build", "-o", c.ssmBin, "vxway/cmd/ssm").CombinedOutput(); err != nil {
			return fmt.Errorf("building ssm (run from the vxway module): %v\n%s", err, b)
		}
	}
	fmt.Fprintf(out, "ssm benchmark: %d instances, %d connections (each simulated device in flight holds its own, as real devices do; renewals also at %d), GOMAXPROCS %d, %s; manager: ssm serve as its own process\n",
		c.instances, c.concurrency, c.baseline, runtime.GOMAXPROCS(0), runtime.Version())
	sign1, signN := signRate(1), signRate(runtime.GOMAXPROCS(0))
	fmt.Fprintf(out, "ECDSA P-256 sign: %.0f/s on one core, %.0f/s on all cores\n", sign1, signN)

	keys, err := makeKeys(c.instances)
	if err != nil {
		return err
	}
	for _, db := range c.dbs {
		var dsn, pgAdmin string
		dbPID := 0 // the PostgreSQL server started here, whose CPU is counted
		switch strings.TrimSpace(db) {
		case "sqlite":
		case "postgres":
			if env := os.Getenv(pgtest.EnvDSN); env != "" {
				pgAdmin = env
				if dsn, err = pgtest.CreateDatabase(ctx, env); err != nil {
					return err
				}
				break
			}
			cl, err := pgtest.StartCluster()
			if err != nil {
				return fmt.Errorf("starting PostgreSQL: %w", err)
			}
			defer cl.Stop()
			if dbPID, err = cl.PID(); err != nil {
				return err
			}
			pgAdmin = cl.DSN("postgres")
			if dsn, err = pgtest.CreateDatabase(ctx, pgAdmin); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown database %q (sqlite or postgres)", db)
		}
		r, err := measure(ctx, c, keys, dsn, dbPID, strings.TrimSpace(db))
		if err != nil {
			return fmt.Errorf("%s: %w", db, err)
		}
		name := strings.TrimSpace(db)
		printRows(out, c, name, r, signN)
		if name != "postgres" || c.fleet < 1 {
			continue
		}
		// The fleet gets a database of its own on the same server.
		fdsn, err := pgtest.CreateDatabase(ctx, pgAdmin)
		if err != nil {
			return err
		}
		fr, err := measureFleet(ctx, c, keys, fdsn, dbPID)
		if err != nil {
			return fmt.Errorf("%d managers on postgres: %w", c.fleet, err)
		}
		printRows(out, c, fmt.Sprintf("pg x%d", c.fleet), fr, signN)
	}
	fmt.Fprintln(out, "manager only: requests signed before and answers verified after the timed phase (devices do that on their own CPUs);")
	fmt.Fprintln(out, "end to end (e2e): the simulated devices sign and verify inside the timed phase, sharing this machine's cores with the manager;")
	fmt.Fprintln(out, "first authorizations change every instance's usage (shared license counters); renewals repeat the usage reported before.")
	if c.fleet > 0 {
		fmt.Fprintf(out, "pg x%d: %d ssm serve processes on one PostgreSQL database, each request sent to another manager than the device's previous one; CPU counts all of them and PostgreSQL.\n", c.fleet, c.fleet)
	}
	return nil
}

// printRows prints the figures of one measurement.
func printRows(out io.Writer, c config, name string, r *result, signN float64) {
	for _, row := range []struct {
		what   string
		f      figure
		target float64 // 0: reported
	}{
		{"registrations, manager only", r.regMgr, 2000},
		{"registrations, end to end", r.regE2E, 2000},
		{"renewals, manager only", r.authMgr, 5000},
		{fmt.Sprintf("renewals, mgr only, %d conns", c.baseline), r.authBase, 5000},
		{"first authorizations, e2e", r.authE2E, 5000},
		{"first authorizations, mgr only", r.authFirstMgr, 0},
	} {
		if row.f.rate == 0 {
			continue
		}
		target := "reported"
		if row.target > 0 {
			target = fmt.Sprintf("target %.0f", row.target)
		}
		cores := runtime.GOMAXPROCS(0)
		fmt.Fprintf(out, "%-8s %-31s %6.0f/s (%s; %.3f x all-core sign rate) p50 %s p99 %s; CPU per request: manager (and its database server) %s, load generator %s; %.2f database statements per request; got %.2f of %d cores; manager alone on %d free cores => %.0f/s\n",
			name, row.what+":", row.f.rate, target, row.f.rate/signN, row.f.p50, row.f.p99, row.f.mgrPer, row.f.genPer, row.f.stmts, row.f.cores, cores,
			cores, float64(cores)/row.f.mgrPer.Seconds())
	}
	fmt.Fprintf(out, "%-8s group commit: %d transactions, %.1f requests each, %s per commit on average, %d retried after a deadlock; %d renewals answered without waiting for a commit (nothing durable changed)\n",
		name, r.batches.Batches, float64(r.batches.Ops)/float64(max(r.batches.Batches, 1)), r.batches.AvgCommit(), r.batches.Retries, r.batches.Deferred)
}

// signRate measures ECDSA P-256 signatures per second with n goroutines.
func signRate(n int) float64 {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("vxway"))
	var count atomic.Int64
	stop := time.Now().Add(time.Second)
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				ecdsa.SignASN1(rand.Reader, key, digest[:])
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(count.Load()) / time.Since(start).Seconds()
}

type instance struct {
	udi string
	key *ecdsa.PrivateKey
	pub []byte
	// seq is the device's request counter (licproto.Request.Seq); one
	// instance's requests are built one after the other.
	seq *int64
}

// next returns the instance's next request counter.
func (in instance) next() int64 {
	*in.seq++
	return *in.seq
}

// do sends one request of in through c with in's next counter.
func (in instance) do(ctx context.Context, c *licproto.Client, t licproto.Type, payload any) error {
	cc := *c
	cc.Seq = in.next()
	_, err := cc.Do(ctx, t, in.udi, in.key, payload, nil)
	return err
}

func makeKeys(n int) ([]instance, error) {
	out := make([]instance, n)
	for i := range out {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		out[i] = instance{udi: fmt.Sprintf("UDI_PID:Expressway; UDI_SN:%08X; UDI_VID:1.0;", i), key: k, pub: pub, seq: new(int64)}
	}
	return out, nil
}

// figure is one measured phase.
type figure struct {
	rate     float64
	p50, p99 time.Duration
	// cores is the CPU the manager and the load generator got together
	// during the phase (cores busy on average); mgrPer and genPer are the
	// CPU time each spent per request.
	cores          float64
	mgrPer, genPer time.Duration
	// stmts is how many statements the manager sent to its database per
	// request (BEGIN and COMMIT included; on PostgreSQL, round trips).
	stmts float64
}

type result struct {
	regE2E, regMgr   figure
	authE2E, authMgr figure
	authFirstMgr     figure // first authorizations, pre-signed (the fleet)
	authBase         figure // renewals at the baseline concurrency
	batches          ssm.BatchStats
}

// manager is the ssm serve process under test.
type manager struct {
	cmd   *exec.Cmd
	url   string // agent endpoint
	api   string // admin API base
	dbPID int    // PostgreSQL postmaster started for the run, 0 if none
}

// cpu reports the CPU time of the manager and of its database server.
func (m *manager) cpu() time.Duration {
	t := procCPU(m.cmd.Process.Pid)
	if m.dbPID != 0 {
		t += treeCPU(m.dbPID)
	}
	return t
}

// cpuMeter is what timed reads the manager side's CPU time from.
type cpuMeter interface{ cpu() time.Duration }

// fleet is several managers on one database server.
type fleet struct {
	mgrs  []*manager
	dbPID int
}

// cpu reports the CPU time of every manager and of the database server.
func (f *fleet) cpu() time.Duration {
	var t time.Duration
	for _, m := range f.mgrs {
		t += procCPU(m.cmd.Process.Pid)
	}
	if f.dbPID != 0 {
		t += treeCPU(f.dbPID)
	}
	return t
}

// prepare makes a manager data directory in dir with a virtual account
// holding plenty of licenses, on dsn (SQLite when empty), and returns it
// with an unlimited token.
func prepare(ctx context.Context, dir, dsn string) (data, tok string, err error) {
	data = filepath.Join(dir, "m")
	if err := ssm.InitDir(data, []string{"127.0.0.1"}, time.Now()); err != nil {
		return "", "", err
	}
	store, err := ssm.OpenStore(ctx, ssm.DBPath(data, dsn))
	if err != nil {
		return "", "", err
	}
	defer store.Close()
	now := time.Now()
	if err := store.CreateAccount(ctx, "Bench", now); err != nil {
		return "", "", err
	}
	if err := store.CreateVA(ctx, "Bench", "Fleet", now); err != nil {
		return "", "", err
	}
	for _, t := range licproto.LicenseTypes() {
		if err := store.AddLicenses(ctx, "Fleet", t, ssm.MaxLicenseCount); err != nil {
			return "", "", err
		}
	}
	tok, _, err = store.CreateToken(ctx, "Fleet", ssm.TokenOptions{ExportControlled: true}, now)
	return data, tok, err
}

// startManager starts ssm serve on data (and dsn); stop it with stop.
func startManager(ctx context.Context, c config, data, dsn, profile string) (*manager, error) {
	args := []string{"--data", data}
	if dsn != "" {
		args = append(args, "--db", dsn)
	}
	// The load comes from one address: no per-source rate limit.
	args = append(args, "serve", "--listen", "127.0.0.1:0", "--mode", ssm.ModeOnPrem, "--rate-limit", "0")
	if profile != "" {
		args = append(args, "--cpuprofile", profile)
	}
	cmd := exec.CommandContext(ctx, c.ssmBin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting ssm serve: %w", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("ssm serve: %v\n%s", err, logs.String())
	}
	mm := regexp.MustCompile(`endpoint (https://\S+) and admin API (https://\S+)/api/v1/`).FindStringSubmatch(line)
	if mm == nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("ssm serve printed %q", line)
	}
	return &manager{cmd: cmd, url: mm[1], api: mm[2]}, nil
}

// stop stops the manager.
func (m *manager) stop() {
	m.cmd.Process.Signal(os.Interrupt)
	m.cmd.Wait()
}

func measure(ctx context.Context, c config, insts []instance, dsn string, dbPID int, dbName string) (*result, error) {
	dir, err := os.MkdirTemp("", "ssm-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	data, tok, err := prepare(ctx, dir, dsn)
	if err != nil {
		return nil, err
	}
	profile := ""
	if c.mgrProfile != "" {
		profile = c.mgrProfile + "." + dbName
	}
	mgr, err := startManager(ctx, c, data, dsn, profile)
	if err != nil {
		return nil, err
	}
	defer mgr.stop()
	mgr.dbPID = dbPID
	url := mgr.url
	pki, err := ssm.LoadPKI(data)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(pki.CA)
	// Devices keep their TLS connections (HTTP keep-alive), as the agent
	// does between its requests.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: max(c.concurrency, c.baseline), MaxConnsPerHost: max(c.concurrency, c.baseline)}
	defer tr.CloseIdleConnections()
	client := &licproto.Client{HTTP: &http.Client{Transport: tr, Timeout: time.Minute}, URL: url, Verifier: licproto.NewVerifier(pool)}

	var r result
	// phase runs one timed phase of n requests and counts the statements
	// the manager sent meanwhile.
	phase := func(f *figure, n int, run func() (figure, error)) error {
		return counted(ctx, client.HTTP, pki.AdminToken, []string{mgr.api}, f, n, run)
	}
	half := len(insts) / 2
	e2e, pre := insts[:half], insts[half:]
	// End to end: each simulated device signs its request and verifies
	// the answer inside the timed phase, on the same cores as the manager.
	if err := phase(&r.regE2E, len(e2e), func() (figure, error) {
		return timed(mgr, len(e2e), c.concurrency, func(i int) error {
			in := e2e[i]
			return in.do(ctx, client, licproto.TypeRegister, &licproto.RegisterPayload{Token: tok, PublicKey: in.pub, Hostname: "vcs", IP: "192.0.2.1"})
		})
	}); err != nil {
		return nil, fmt.Errorf("registering: %w", err)
	}
	// Manager only: requests are signed before and answers verified after
	// the timed phase, as real devices do that work on their own CPUs.
	if err := phase(&r.regMgr, len(pre), func() (figure, error) {
		return preSigned(ctx, mgr, client, sameURL(client.URL), c.concurrency, pre, func(_ int, in instance) (licproto.Type, any) {
			return licproto.TypeRegister, &licproto.RegisterPayload{Token: tok, PublicKey: in.pub, Hostname: "vcs", IP: "192.0.2.1"}
		})
	}); err != nil {
		return nil, fmt.Errorf("registering: %w", err)
	}
	usage := func(i int) *licproto.AuthorizePayload {
		return &licproto.AuthorizePayload{Usage: map[licproto.LicenseType]int{licproto.RMS: 1 + i%5, licproto.Room: 1}}
	}
	if err := phase(&r.authE2E, len(insts), func() (figure, error) {
		return timed(mgr, len(insts), c.concurrency, func(i int) error {
			in := insts[i]
			return in.do(ctx, client, licproto.TypeAuthorize, usage(i))
		})
	}); err != nil {
		return nil, fmt.Errorf("authorizing: %w", err)
	}
	// Renewals at steady state: each instance reports the usage it
	// reported before.
	var rounds []instance
	for range c.rounds {
		rounds = append(rounds, insts...)
	}
	if err := phase(&r.authMgr, len(rounds), func() (figure, error) {
		return preSigned(ctx, mgr, client, sameURL(client.URL), c.concurrency, rounds, func(i int, in instance) (licproto.Type, any) {
			return licproto.TypeAuthorize, usage(i % len(insts))
		})
	}); err != nil {
		return nil, fmt.Errorf("authorizing: %w", err)
	}
	if c.baseline > 0 {
		if err := phase(&r.authBase, len(rounds), func() (figure, error) {
			return preSigned(ctx, mgr, client, sameURL(client.URL), c.baseline, rounds, func(i int, in instance) (licproto.Type, any) {
				return licproto.TypeAuthorize, usage(i % len(insts))
			})
		}); err != nil {
			return nil, fmt.Errorf("authorizing: %w", err)
		}
	}
	if r.batches, err = writerStats(ctx, client.HTTP, mgr.api, pki.AdminToken); err != nil {
		return nil, err
	}
	return &r, nil
}

// sameURL sends every request to url.
func sameURL(url string) func(int) string { return func(int) string { return url } }

// preSigned builds and signs one request per instance, then times only
// sending them (request i to url(i)) and receiving the answers, then
// verifies every answer.
func preSigned(ctx context.Context, mgr cpuMeter, c *licproto.Client, url func(int) string, conc int, insts []instance, build func(int, instance) (licproto.Type, any)) (figure, error) {
	reqs := make([]*licproto.Request, len(insts))
	bodies := make([][]byte, len(insts))
	now := time.Now()
	for i, in := range insts {
		t, p := build(i, in)
		r, err := licproto.NewRequestSeq(t, in.udi, in.next(), p, now, in.key)
		if err != nil {
			return figure{}, err
		}
		reqs[i] = r
		if bodies[i], err = r.Marshal(); err != nil {
			return figure{}, err
		}
	}
	answers := make([][]byte, len(insts))
	// A device sends its next request once the one before is answered:
	// sent at once, a later round's request (a higher counter) could
	// overtake it and have it refused as a replay.
	done := make([]chan struct{}, len(insts))
	prev := make([]int, len(insts))
	last := map[string]int{}
	for i, in := range insts {
		done[i] = make(chan struct{})
		prev[i] = -1
		if p, ok := last[in.udi]; ok {
			prev[i] = p
		}
		last[in.udi] = i
	}
	f, err := timed(mgr, len(insts), conc, func(i int) error {
		defer close(done[i])
		if p := prev[i]; p >= 0 {
			<-done[p]
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url(i), bytes.NewReader(bodies[i]))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.HTTP.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		answers[i], err = io.ReadAll(resp.Body)
		return err
	})
	if err != nil {
		return f, err
	}
	for i, a := range answers {
		v, err := c.Verifier.Verify(reqs[i], a, time.Now(), 0)
		if err != nil {
			return f, fmt.Errorf("answer %d: %w", i, err)
		}
		if err := v.Err(); err != nil {
			return f, fmt.Errorf("answer %d: %w", i, err)
		}
	}
	return f, nil
}

// timed runs f(0..n-1) on conc goroutines and returns the rate, latency
// percentiles and CPU use of the manager and of this load generator.
func timed(mgr cpuMeter, n, conc int, f func(i int) error) (figure, error) {
	var next atomic.Int64
	lat := make([]time.Duration, n)
	errs := make(chan error, conc)
	var wg sync.WaitGroup
	start, cpu0, mcpu0 := time.Now(), cpuTime(), mgr.cpu()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				if err := f(i); err != nil {
					errs <- err
					next.Store(int64(n))
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	el, cpu, mcpu := time.Since(start), cpuTime()-cpu0, mgr.cpu()-mcpu0
	select {
	case err := <-errs:
		return figure{}, err
	default:
	}
	slices.Sort(lat)
	return figure{rate: float64(n) / el.Seconds(), p50: lat[n/2].Round(time.Microsecond), p99: lat[n*99/100].Round(time.Microsecond),
		cores: (cpu + mcpu).Seconds() / el.Seconds(), mgrPer: (mcpu / time.Duration(n)).Round(time.Microsecond), genPer: (cpu / time.Duration(n)).Round(time.Microsecond)}, nil
}

// counted runs one timed phase of n requests into f and counts the
// statements the managers at apis sent their database meanwhile.
func counted(ctx context.Context, hc *http.Client, token string, apis []string, f *figure, n int, run func() (figure, error)) error {
	statements := func() (int64, error) {
		var sum int64
		for _, api := range apis {
			st, err := writerStats(ctx, hc, api, token)
			if err != nil {
				return 0, err
			}
			sum += st.Statements
		}
		return sum, nil
	}
	before, err := statements()
	if err != nil {
		return err
	}
	if *f, err = run(); err != nil {
		return err
	}
	after, err := statements()
	if err != nil {
		return err
	}
	f.stmts = float64(after-before) / float64(n)
	return nil
}

// writerStats reads the manager's group-commit counters from its admin API.
func writerStats(ctx context.Context, hc *http.Client, api, token string) (ssm.BatchStats, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/api/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return ssm.BatchStats{}, fmt.Errorf("reading manager stats: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Writer ssm.BatchStats `json:"writer"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return ssm.BatchStats{}, fmt.Errorf("reading manager stats: %w", err)
	}
	return out.Writer, nil
}

// measureFleet runs c.fleet managers on one PostgreSQL database (dsn, on
// the server dbPID) and sends each device's requests to a different
// manager from one phase to the next: registrations, first
// authorizations and renewals, all pre-signed.
func measureFleet(ctx context.Context, c config, insts []instance, dsn string, dbPID int) (*result, error) {
	dir, err := os.MkdirTemp("", "ssm-bench-fleet-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	data, tok, err := prepare(ctx, dir, dsn)
	if err != nil {
		return nil, err
	}
	f := &fleet{dbPID: dbPID}
	defer func() {
		for _, m := range f.mgrs {
			m.stop()
		}
	}()
	for range c.fleet {
		m, err := startManager(ctx, c, data, dsn, "")
		if err != nil {
			return nil, err
		}
		f.mgrs = append(f.mgrs, m)
	}
	pki, err := ssm.LoadPKI(data)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(pki.CA)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: c.concurrency, MaxConnsPerHost: c.concurrency}
	defer tr.CloseIdleConnections()
	client := &licproto.Client{HTTP: &http.Client{Transport: tr, Timeout: time.Minute}, Verifier: licproto.NewVerifier(pool)}
	// Phase p sends instance k's request to manager (k+p) mod n.
	to := func(p int) func(int) string {
		return func(i int) string { return f.mgrs[(i%len(insts)+p)%len(f.mgrs)].url }
	}
	var apis []string
	for _, m := range f.mgrs {
		apis = append(apis, m.api)
	}
	phase := func(fig *figure, n int, run func() (figure, error)) error {
		return counted(ctx, client.HTTP, pki.AdminToken, apis, fig, n, run)
	}
	var r result
	if err := phase(&r.regMgr, len(insts), func() (figure, error) {
		return preSigned(ctx, f, client, to(0), c.concurrency, insts, func(_ int, in instance) (licproto.Type, any) {
			return licproto.TypeRegister, &licproto.RegisterPayload{Token: tok, PublicKey: in.pub, Hostname: "vcs", IP: "192.0.2.1"}
		})
	}); err != nil {
		return nil, fmt.Errorf("registering: %w", err)
	}
	usage := func(i int) *licproto.AuthorizePayload {
		return &licproto.AuthorizePayload{Usage: map[licproto.LicenseType]int{licproto.RMS: 1 + i%5, licproto.Room: 1}}
	}
	if err := phase(&r.authFirstMgr, len(insts), func() (figure, error) {
		return preSigned(ctx, f, client, to(1), c.concurrency, insts, func(i int, _ instance) (licproto.Type, any) {
			return licproto.TypeAuthorize, usage(i)
		})
	}); err != nil {
		return nil, fmt.Errorf("authorizing: %w", err)
	}
	var rounds []instance
	for range c.rounds {
		rounds = append(rounds, insts...)
	}
	if err := phase(&r.authMgr, len(rounds), func() (figure, error) {
		return preSigned(ctx, f, client, to(2), c.concurrency, rounds, func(i int, _ instance) (licproto.Type, any) {
			return licproto.TypeAuthorize, usage(i % len(insts))
		})
	}); err != nil {
		return nil, fmt.Errorf("renewing: %w", err)
	}
	for _, m := range f.mgrs {
		st, err := writerStats(ctx, client.HTTP, m.api, pki.AdminToken)
		if err != nil {
			return nil, err
		}
		r.batches.Batches += st.Batches
		r.batches.Ops += st.Ops
		r.batches.CommitTime += st.CommitTime
		r.batches.Retries += st.Retries
		r.batches.Deferred += st.Deferred
		r.batches.Statements += st.Statements
	}
	return &r, nil
}
