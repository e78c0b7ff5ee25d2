package ssm

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"vxway/clock"
)

// DefaultRateLimit is how many agent requests, and TLS handshakes, one
// source address may make per second on average; a source may burst to
// ten times as many. A device makes a few requests a day, so this leaves
// room for thousands of devices behind one proxy or NAT address.
const DefaultRateLimit = 20

// maxSources bounds the per-source table of the rate limiter; sources
// beyond it share one bucket until idle sources are dropped.
const maxSources = 65536

// bucket is a token bucket.
type bucket struct {
	tokens float64
	at     time.Time
}

// take refills the bucket for the time since its last use and takes one
// token, or reports false when there is none.
func (b *bucket) take(now time.Time, rate, burst float64) bool {
	b.refill(now, rate, burst)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (b *bucket) refill(now time.Time, rate, burst float64) {
	if b.at.IsZero() {
		b.tokens = burst
	} else if d := now.Sub(b.at); d > 0 {
		b.tokens = min(burst, b.tokens+d.Seconds()*rate)
	}
	b.at = now
}

// limiter rate-limits per source address with a token bucket each: IPv4
// addresses one by one, IPv6 addresses by /64 (what one host or site
// gets). The table holds at most maxSources sources; when it is full,
// sources whose bucket has refilled are dropped (at most once a second),
// and new sources beyond it share one overflow bucket.
type limiter struct {
	rate, burst float64
	clock       clock.Clock
	max         int

	mu       sync.Mutex
	sources  map[netip.Addr]*bucket
	overflow bucket
	swept    time.Time
}

// newLimiter returns a limiter allowing rate per second per source, with
// bursts of burst; nil (no limit) when rate is not positive.
func newLimiter(rate, burst float64, clk clock.Clock) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{rate: rate, burst: max(burst, 1), clock: clk, max: maxSources, sources: map[netip.Addr]*bucket{}}
}

// sourceKey is the address a source is limited by.
func sourceKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return a
}

// remoteAddr parses the address of a connection's peer.
func remoteAddr(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(t.IP)
		return ip
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// allow takes one token of addr's bucket; a nil limiter allows all.
func (l *limiter) allow(addr netip.Addr) bool {
	if l == nil {
		return true
	}
	key := sourceKey(addr)
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.sources[key]
	if !ok {
		if len(l.sources) >= l.max {
			l.sweep(now)
		}
		if len(l.sources) >= l.max {
			return l.overflow.take(now, l.rate, l.burst)
		}
		b = &bucket{}
		l.sources[key] = b
	}
	return b.take(now, l.rate, l.burst)
}

// sweep drops the sources whose bucket is full again: they are as if
// never seen.
func (l *limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Second {
		return
	}
	l.swept = now
	for k, b := range l.sources {
		b.refill(now, l.rate, l.burst)
		if b.tokens >= l.burst {
			delete(l.sources, k)
		}
	}
}

// Log sampling: at most logBurst lines of one kind at once, then
// logRate a second; the lines left out are counted and the count is
// added to the next line of that kind that is written (suppressed=N).
const (
	logRate  = 2
	logBurst = 20
)

// logSampler writes log lines of the kinds a stranger can cause
// (refusals, failed TLS handshakes, rate-limited requests) at a bounded
// rate.
type logSampler struct {
	log   *slog.Logger
	clock clock.Clock

	mu    sync.Mutex
	kinds map[string]*sampledKind
}

type sampledKind struct {
	bucket
	dropped int
}

func newLogSampler(log *slog.Logger, clk clock.Clock) *logSampler {
	return &logSampler{log: log, clock: clk, kinds: map[string]*sampledKind{}}
}

// info logs msg with args at level info unless kind is over its rate.
func (s *logSampler) info(kind, msg string, args ...any) {
	now := s.clock.Now()
	s.mu.Lock()
	k := s.kinds[kind]
	if k == nil {
		k = &sampledKind{}
		s.kinds[kind] = k
	}
	if !k.take(now, logRate, logBurst) {
		k.dropped++
		s.mu.Unlock()
		return
	}
	n := k.dropped
	k.dropped = 0
	s.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	s.log.Info(msg, args...)
}

// Write takes the lines of the HTTP server's error log (failed TLS
// handshakes, mostly), sampled as kind "tls" or "http".
func (s *logSampler) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	kind := "http"
	if strings.Contains(line, "TLS handshake error") {
		kind = "tls"
	}
	s.info(kind, "http server", "err", line)
	return len(p), nil
}
