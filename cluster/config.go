package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Port is the TCP port every node listens on for its peers.
const Port = 4371

// MaxPeers is the largest cluster: up to six peers, this node included.
const MaxPeers = 6

// DefaultLease is how long a loan lasts without a renewal.
const DefaultLease = 2 * time.Minute

// MinLease and MaxLease bound a configured lease.
const (
	MinLease = 4 * time.Second
	MaxLease = 2 * time.Minute
)

// MinSecretLen is the shortest cluster secret accepted.
const MinSecretLen = 16

// maxNameLen bounds the cluster name and a node's name.
const maxNameLen = 64

// ErrBadConfig is wrapped by every refusal of a cluster setting.
var ErrBadConfig = errors.New("invalid cluster setting")

// Config is the cluster a node belongs to.
type Config struct {
	// Name is the cluster's name; every peer is configured with the same.
	Name string `json:"name,omitempty"`
	// Secret is known to every peer and to nobody else; a peer that does
	// not prove it is refused.
	Secret string `json:"secret,omitempty"`
	// Peers are the addresses of the cluster's peers ("10.0.4.2", or
	// with a port "10.0.4.2:4371"); the node's own address may be among
	// them and is skipped. Empty entries are unset slots.
	Peers []string `json:"peers,omitempty"`
	// Lease is how long a loan lasts without renewal (DefaultLease when
	// zero).
	Lease time.Duration `json:"lease,omitempty"`
}

// Active reports whether the node is in a cluster: a name, a secret and
// at least one peer address.
func (c Config) Active() bool {
	if c.Name == "" || c.Secret == "" {
		return false
	}
	for _, p := range c.Peers {
		if p != "" {
			return true
		}
	}
	return false
}

// LeaseOrDefault is c.Lease, or DefaultLease when unset.
func (c Config) LeaseOrDefault() time.Duration {
	if c.Lease == 0 {
		return DefaultLease
	}
	return c.Lease
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if err := CheckName(c.Name); err != nil {
		errs = append(errs, err)
	}
	if err := CheckSecret(c.Secret); err != nil {
		errs = append(errs, err)
	}
	if len(c.Peers) > MaxPeers {
		errs = append(errs, fmt.Errorf("%w: %d peers; a cluster has at most %d", ErrBadConfig, len(c.Peers), MaxPeers))
	}
	seen := map[string]int{}
	for i, p := range c.Peers {
		if p == "" {
			continue
		}
		ap, err := ParsePeer(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("peer %d: %w", i+1, err))
			continue
		}
		if j, dup := seen[ap.String()]; dup {
			errs = append(errs, fmt.Errorf("%w: peer %d repeats peer %d (%s)", ErrBadConfig, i+1, j, ap))
		}
		seen[ap.String()] = i + 1
	}
	if c.Lease != 0 && (c.Lease < MinLease || c.Lease > MaxLease) {
		errs = append(errs, fmt.Errorf("%w: lease %s is not from %s to %s", ErrBadConfig, c.Lease, MinLease, MaxLease))
	}
	return errors.Join(errs...)
}

// CheckName reports whether s can be a cluster name: empty (no cluster)
// or up to 64 printable characters.
func CheckName(s string) error {
	if len(s) > maxNameLen {
		return fmt.Errorf("%w: the cluster name has %d bytes; use at most %d", ErrBadConfig, len(s), maxNameLen)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: the cluster name holds a control character; use letters, digits, dots and dashes", ErrBadConfig)
		}
	}
	return nil
}

// CheckSecret reports whether s can be a cluster secret: empty (no
// cluster) or at least MinSecretLen characters with no control
// characters, so that it cannot be guessed from a peer's proof.
func CheckSecret(s string) error {
	if s == "" {
		return nil
	}
	if len(s) < MinSecretLen {
		return fmt.Errorf("%w: the cluster secret is too short; use at least %d characters, the same on every peer", ErrBadConfig, MinSecretLen)
	}
	if len(s) > 256 {
		return fmt.Errorf("%w: the cluster secret is longer than 256 bytes", ErrBadConfig)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: the cluster secret holds a control character", ErrBadConfig)
		}
	}
	return nil
}

// ParsePeer parses a peer address: an IPv4 or IPv6 address, with an
// optional port (Port when absent).
func ParsePeer(s string) (netip.AddrPort, error) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return netip.AddrPort{}, fmt.Errorf("%w: peer address %q has port 0", ErrBadConfig, s)
		}
		return checkPeerAddr(ap, s)
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		if h, p, serr := net.SplitHostPort(s); serr == nil {
			if _, perr := strconv.Atoi(p); perr == nil {
				return netip.AddrPort{}, fmt.Errorf("%w: peer address %q: %q is not an IP address; give the peer's IP address, such as 10.0.4.2", ErrBadConfig, s, h)
			}
		}
		return netip.AddrPort{}, fmt.Errorf("%w: peer address %q is not an IP address; give the peer's IP address, such as 10.0.4.2", ErrBadConfig, s)
	}
	return checkPeerAddr(netip.AddrPortFrom(a.Unmap(), Port), s)
}

func checkPeerAddr(ap netip.AddrPort, s string) (netip.AddrPort, error) {
	a := ap.Addr().Unmap()
	if a.IsUnspecified() || a.IsMulticast() {
		return netip.AddrPort{}, fmt.Errorf("%w: peer address %q cannot be a peer's address", ErrBadConfig, s)
	}
	return netip.AddrPortFrom(a, ap.Port()), nil
}
