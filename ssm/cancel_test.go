package ssm

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vxway/licproto"
	"vxway/ssm/pgtest"
)

// TestCancelledClientsDoNotFailOthers runs well-behaved devices next to
// devices that hang up as soon as their request is sent. Their operations
// share the writer's transactions; a hang-up must not interrupt a batch
// (SQLite answered "no such savepoint" and rolled back the other
// requests), so every request of the well-behaved devices succeeds. On
// PostgreSQL no batch may deadlock: the writers' transactions once locked
// the license rows in the middle of a batch and then waited for an
// instance row another writer held, and PostgreSQL broke each such cycle
// after its one-second deadlock timeout by failing the batch (retried up
// to five times, then answered with an internal error).
func TestCancelledClientsDoNotFailOthers(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testCancelledClients(t, "", 8) })
	t.Run("postgres", func(t *testing.T) { testCancelledClients(t, pgtest.Start(t), 4) })
}

func testCancelledClients(t *testing.T, db string, bad int) {
	const good, rounds = 12, 20
	m := startManager(t, ModeOnPrem, db)
	m.setup()
	tok := m.token("Default", 30, 0, true)
	devs := make([]*device, good+bad)
	var wg sync.WaitGroup
	for i := range devs {
		devs[i] = m.device(fmt.Sprintf("C%07X", i))
		wg.Add(1)
		go func(d *device) {
			defer wg.Done()
			if _, err := d.register(tok, false, ""); err != nil {
				t.Errorf("register %s: %v", d.udi, err)
			}
		}(devs[i])
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	pki, err := LoadPKI(m.dir)
	must(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(pki.CA)
	// The hanging-up devices use their own connections.
	hangup := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: bad}}
	defer hangup.CloseIdleConnections()

	var failures, sent, hungUp atomic.Int64
	var failMu sync.Mutex
	var firstFailures []string
	stop := make(chan struct{})
	// The hanging-up devices send about as many requests as the others
	// (one per request of a well-behaved device), so that the test
	// measures interference, not how an overloaded machine copes.
	pace := make(chan struct{}, good*rounds)
	var badWG sync.WaitGroup
	for _, d := range devs[good:] {
		badWG.Add(1)
		go func(d *device) {
			defer badWG.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-pace:
				}
				// A usage change takes the transactional path.
				req, err := licproto.NewRequest(licproto.TypeAuthorize, d.udi, &licproto.AuthorizePayload{Usage: map[licproto.LicenseType]int{licproto.RMS: 1 + n%2}}, m.clock.Now(), d.key)
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := req.Marshal()
				ctx, cancel := context.WithCancel(context.Background())
				ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
					// Hang up once the request is on the wire, while the
					// manager works on it.
					go func() { time.Sleep(time.Duration(n%5) * 200 * time.Microsecond); cancel() }()
				}})
				hreq, _ := http.NewRequestWithContext(ctx, http.MethodPost, m.url, bytes.NewReader(body))
				if resp, err := hangup.Do(hreq); err == nil {
					resp.Body.Close()
				} else {
					hungUp.Add(1)
				}
				cancel()
			}
		}(d)
	}
	// A device registering with a token the manager knows but that is
	// used up is refused inside the transaction, which makes the writer
	// run its batch again with savepoints: the hang-ups then also hit
	// that path.
	once := m.token("Default", 30, 1, true)
	if _, err := m.device("CFFFFFFF").register(once, false, ""); err != nil {
		t.Fatal(err)
	}
	badWG.Add(1)
	go func() {
		defer badWG.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-pace:
			}
			m.device(fmt.Sprintf("D%07X", n)).register(once, false, "")
		}
	}()
	var goodWG sync.WaitGroup
	for _, d := range devs[:good] {
		goodWG.Add(1)
		go func(d *device) {
			defer goodWG.Done()
			for n := range rounds {
				sent.Add(1)
				pace <- struct{}{}
				if _, err := d.authorize(map[licproto.LicenseType]int{licproto.RMS: 1 + n%2}); err != nil {
					failures.Add(1)
					failMu.Lock()
					if len(firstFailures) < 5 {
						firstFailures = append(firstFailures, err.Error())
					}
					failMu.Unlock()
				}
			}
		}(d)
	}
	goodWG.Wait()
	close(stop)
	badWG.Wait()
	if hungUp.Load() == 0 {
		t.Errorf("no request was hung up on: the test did not test anything")
	}
	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d requests of well-behaved devices failed while others hung up, e.g.:\n%v", n, sent.Load(), firstFailures)
	}
	var stats struct{ Writer BatchStats }
	if code := m.api(http.MethodGet, "/api/v1/stats", nil, &stats); code != http.StatusOK {
		t.Fatalf("stats: HTTP %d", code)
	}
	if stats.Writer.Retries != 0 {
		t.Errorf("%d batches were run again after a deadlock", stats.Writer.Retries)
	}
	t.Logf("%d good requests, %d hung up", sent.Load(), hungUp.Load())
}
