package netconf

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"
)

// ntpEpoch is 1900-01-01, where NTP timestamps count from.
var ntpEpoch = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

func toNTP(t time.Time) uint64 {
	d := t.Sub(ntpEpoch)
	sec := uint64(d / time.Second)
	frac := uint64(d%time.Second) << 32 / uint64(time.Second)
	return sec<<32 | frac
}

func fromNTP(v uint64) time.Time {
	sec := time.Duration(v>>32) * time.Second
	frac := time.Duration((v & 0xffffffff) * uint64(time.Second) >> 32)
	return ntpEpoch.Add(sec + frac)
}

// ErrBadNTPAnswer marks an NTP answer that cannot be trusted.
var ErrBadNTPAnswer = errors.New("unusable NTP answer")

// sntpOffset asks the NTP server at addr (host:port) for the time once
// (SNTPv4, RFC 4330) and reports how far the server's clock is ahead of
// now(). The answer must echo the request's transmit time and come from a
// synchronised server.
func sntpOffset(ctx context.Context, addr string, now func() time.Time) (time.Duration, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return 0, fmt.Errorf("reaching NTP server %s: %w", addr, err)
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = now().Add(5 * time.Second)
	}
	conn.SetDeadline(deadline)
	req := make([]byte, 48)
	req[0] = 0<<6 | 4<<3 | 3 // no leap warning, version 4, client
	t0 := now()
	binary.BigEndian.PutUint64(req[40:], toNTP(t0))
	if _, err := conn.Write(req); err != nil {
		return 0, fmt.Errorf("asking NTP server %s: %w", addr, err)
	}
	resp := make([]byte, 128)
	n, err := conn.Read(resp)
	if err != nil {
		return 0, fmt.Errorf("reading NTP server %s: %w", addr, err)
	}
	t3 := now()
	if n < 48 {
		return 0, fmt.Errorf("%w from %s: %d bytes", ErrBadNTPAnswer, addr, n)
	}
	mode, stratum, leap := resp[0]&7, resp[1], resp[0]>>6
	switch {
	case mode != 4:
		return 0, fmt.Errorf("%w from %s: mode %d, not a server answer", ErrBadNTPAnswer, addr, mode)
	case stratum == 0 || stratum > 15 || leap == 3:
		return 0, fmt.Errorf("%w from %s: the server is not synchronised (stratum %d)", ErrBadNTPAnswer, addr, stratum)
	case binary.BigEndian.Uint64(resp[24:]) != binary.BigEndian.Uint64(req[40:]):
		return 0, fmt.Errorf("%w from %s: it does not answer this request", ErrBadNTPAnswer, addr)
	}
	t1 := fromNTP(binary.BigEndian.Uint64(resp[32:]))
	t2 := fromNTP(binary.BigEndian.Uint64(resp[40:]))
	return (t1.Sub(t0) + t2.Sub(t3)) / 2, nil
}

// MaxNTPStep is the largest step one NTP answer may make once the clock
// was set from NTP since boot. A larger offset steps the clock only when a
// second server or the next answer agrees (within ntpAgree), so one forged
// or broken answer cannot move the clock by days, which would expire
// certificates, sessions and evaluation periods. The first answer after
// boot is taken whatever it says: the clock then has nothing better.
const MaxNTPStep = time.Hour

// ntpAgree is how close two offsets must be to confirm each other.
const ntpAgree = time.Second

// NTPConfirmInterval is how soon the servers are asked again after an
// offset over MaxNTPStep was held back.
const NTPConfirmInterval = 5 * time.Minute

// ntpAnswer is one server's answer: how far its clock is ahead of ours.
type ntpAnswer struct {
	server string
	offset time.Duration
	at     time.Time
}

// ntpGuard decides which NTP answers may step the clock.
type ntpGuard struct {
	synced  bool       // the clock was set from NTP since boot
	pending *ntpAnswer // an offset over MaxNTPStep held back, waiting for a second opinion
}

// ntpVerdict says whether the chosen answer may step the clock and why
// (for the log: why not, or what confirmed a large step).
type ntpVerdict struct {
	step bool
	why  string
}

func agree(a, b time.Duration) bool { return (a - b).Abs() <= ntpAgree }

// judge picks, among one round's answers (in server order, at least one),
// the one to act on. The caller calls done once the clock agrees with it.
func (g *ntpGuard) judge(answers []ntpAnswer) (ntpAnswer, ntpVerdict) {
	a := answers[0]
	if !g.synced || a.offset.Abs() <= MaxNTPStep {
		return a, ntpVerdict{step: true}
	}
	for _, b := range answers[1:] {
		if agree(a.offset, b.offset) {
			return a, ntpVerdict{step: true, why: fmt.Sprintf("; NTP server %s agrees", b.server)}
		}
	}
	for _, b := range answers[1:] {
		if b.offset.Abs() <= MaxNTPStep {
			// Another server contradicts the large offset: believe the
			// one that needs no big step.
			return b, ntpVerdict{step: true, why: fmt.Sprintf("; NTP server %s said %s and was not believed", a.server, a.offset)}
		}
	}
	if p := g.pending; p != nil && agree(p.offset, a.offset) {
		return a, ntpVerdict{step: true, why: fmt.Sprintf("; confirmed by the answer of %s at %s", p.server, p.at.UTC().Format(time.RFC3339))}
	}
	g.pending = &a
	return a, ntpVerdict{why: fmt.Sprintf("NTP server %s says the clock is off by %s, more than the %s one answer may step a clock already set from NTP; not stepping it until a second server or the next answer (in %s) agrees",
		a.server, a.offset, MaxNTPStep, NTPConfirmInterval)}
}

// done records that the clock was set from (or found to agree with) an
// answer the guard let through.
func (g *ntpGuard) done() { g.synced, g.pending = true, nil }
