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
