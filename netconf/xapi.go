package netconf

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"vxway/netsettings"

	"vxway/atomicfile"
	"vxway/xapi"
)

// ApplyWait bounds how long an xconfiguration change waits for the network
// service to confirm it applied the change.
const ApplyWait = 10 * time.Second

// RegisterXAPI adds the network commands to t, for the device under root:
//
//	xconfiguration IP [DHCP: On|Off] [Address: <ipv4>[/<len>]] [PrefixLength: <n>] [Gateway: <ipv4>]
//	xconfiguration Ethernet 1 IP V4 [Address: <ipv4>] [SubnetMask: <mask>]   (IP Address and PrefixLength)
//	xconfiguration DNS Server <1-5> Address: <ip>   (empty value clears)
//	xconfiguration DNS Domain Name: <name>
//	xconfiguration NTP Server <1-5> Address: <ip or host name>
//	xstatus Network
//
// A change is validated, written atomically to network.json, and waited for
// until the running network service has applied it.
func RegisterXAPI(t *xapi.Tree, root string) {
	h := &handlers{root: root, wait: ApplyWait}
	t.Handle(xapi.Configuration, "IP", h.locked(h.ip))
	t.Handle(xapi.Configuration, "Ethernet 1", h.locked(h.ethernet1))
	t.Handle(xapi.Configuration, "DNS", h.locked(h.dns))
	t.Handle(xapi.Configuration, "NTP", h.locked(h.ntp))
	t.Handle(xapi.Status, "Network", h.status)
}

type handlers struct {
	root string
	wait time.Duration
}

// locked runs a change (a request with a value) under the network.json
// lock, so that concurrent changes do not undo each other.
func (h *handlers) locked(fn xapi.Handler) xapi.Handler {
	return func(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
		if len(req.Args) == 0 {
			return fn(ctx, req, rel, out)
		}
		unlock, err := atomicfile.Lock(filepath.Join(h.root, netsettings.ConfigPath))
		if err != nil {
			return err
		}
		defer unlock()
		return fn(ctx, req, rel, out)
	}
}

// ErrBadRequest marks a request naming a node or value that does not
// exist.
var ErrBadRequest = errors.New("bad request")

func onOff(b bool) string {
	if b {
		return "On"
	}
	return "Off"
}

func (h *handlers) load() (netsettings.Config, error) {
	c, err := netsettings.Load(h.root)
	if err != nil && !errors.Is(err, netsettings.ErrNotConfigured) {
		return netsettings.Config{}, fmt.Errorf("%w; fix or remove the file, then try again", err)
	}
	return c, nil
}

func (h *handlers) ip(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	c, err := h.load()
	if err != nil {
		return err
	}
	if len(req.Args) == 0 {
		if len(rel) > 0 && !xapi.PathIs(rel, "DHCP") && !xapi.PathIs(rel, "Address") && !xapi.PathIs(rel, "PrefixLength") && !xapi.PathIs(rel, "Gateway") {
			return fmt.Errorf("%w: no IP %s; the nodes are DHCP, Address, PrefixLength and Gateway", ErrBadRequest, strings.Join(rel, " "))
		}
		show := func(leaf, v string) {
			if len(rel) == 0 || strings.EqualFold(rel[0], leaf) {
				out.Config("IP "+leaf, v)
			}
		}
		show("DHCP", onOff(c.DHCP))
		show("Address", c.Address)
		pl := ""
		if c.PrefixLength != 0 {
			pl = strconv.Itoa(c.PrefixLength)
		}
		show("PrefixLength", pl)
		show("Gateway", c.Gateway)
		return nil
	}
	if len(rel) != 0 {
		return fmt.Errorf("%w: write xconfiguration IP %s: <value>", ErrBadRequest, strings.Join(rel, " "))
	}
	a := req.Args[0]
	if err := SetIP(&c, a.Name, a.Value); err != nil {
		return err
	}
	return h.save(ctx, c, out)
}

// SetIP sets one IP leaf of c (DHCP, Address, PrefixLength, Gateway) as
// xconfiguration IP <leaf>: <value> does, or says what is wrong, leaving c
// as it was.
func SetIP(c *netsettings.Config, leaf, value string) error {
	n := *c
	if err := setIP(&n, leaf, value); err != nil {
		return err
	}
	*c = n
	return nil
}

func setIP(c *netsettings.Config, leaf, value string) error {
	v := strings.TrimSpace(value)
	switch strings.ToLower(leaf) {
	case "dhcp":
		switch strings.ToLower(v) {
		case "on":
			c.DHCP = true
		case "off":
			if c.Address == "" || c.PrefixLength == 0 {
				return fmt.Errorf("%w: set the static address first: xconfiguration IP Address: <ipv4>/<prefix length>, then xconfiguration IP DHCP: Off", ErrBadRequest)
			}
			c.DHCP = false
		default:
			return fmt.Errorf("%w: DHCP is On or Off, not %q", ErrBadRequest, v)
		}
	case "address":
		addr, plen, hasLen := strings.Cut(v, "/")
		if v == "" {
			if !c.DHCP {
				return fmt.Errorf("%w: the address is in use while DHCP is Off; turn DHCP On first", ErrBadRequest)
			}
			c.Address, c.PrefixLength, c.Gateway = "", 0, ""
			break
		}
		if err := netsettings.CheckAddress(addr); err != nil {
			return fmt.Errorf("%w: IP Address: %w", ErrBadRequest, err)
		}
		c.Address = addr
		if hasLen {
			n, err := strconv.Atoi(plen)
			if err != nil || netsettings.CheckPrefixLength(n) != nil {
				return fmt.Errorf("%w: IP Address: %q is not a prefix length; use 1 to 32", ErrBadRequest, plen)
			}
			c.PrefixLength = n
		} else if c.PrefixLength == 0 {
			c.PrefixLength = 24
		}
	case "prefixlength":
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%w: IP PrefixLength: %q is not a number; use 1 to 32", ErrBadRequest, v)
		}
		if err := netsettings.CheckPrefixLength(n); err != nil {
			return fmt.Errorf("%w: IP PrefixLength: %w", ErrBadRequest, err)
		}
		c.PrefixLength = n
	case "gateway":
		if v != "" {
			if err := netsettings.CheckGateway(v, c.Address, c.PrefixLength); err != nil {
				return fmt.Errorf("%w: IP Gateway: %w", ErrBadRequest, err)
			}
		}
		c.Gateway = v
	default:
		return fmt.Errorf("%w: no IP %s; the settings are DHCP, Address, PrefixLength and Gateway", ErrBadRequest, leaf)
	}
	return nil
}

// slot parses the N of `Server N`.
func slot(rel []string, what string, max int) (int, error) {
	if len(rel) != 2 || !strings.EqualFold(rel[0], "Server") {
		return 0, fmt.Errorf("%w: write xconfiguration %s Server <1-%d> Address: <value>", ErrBadRequest, what, max)
	}
	n, err := strconv.Atoi(rel[1])
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("%w: %s Server %s: the server number is 1 to %d", ErrBadRequest, what, rel[1], max)
	}
	return n, nil
}

func setSlot(slots []string, n int, v string) []string {
	for len(slots) < n {
		slots = append(slots, "")
	}
	slots[n-1] = v
	for len(slots) > 0 && slots[len(slots)-1] == "" {
		slots = slots[:len(slots)-1]
	}
	return slots
}

func slotValue(slots []string, n int) string {
	if n <= len(slots) {
		return slots[n-1]
	}
	return ""
}

func (h *handlers) dns(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	c, err := h.load()
	if err != nil {
		return err
	}
	if len(req.Args) == 0 {
		return showServers(out, "DNS", c.DNSServers, netsettings.MaxDNSServers, rel, func() {
			out.Config("DNS Domain Name", c.SearchDomain)
		})
	}
	a := req.Args[0]
	switch {
	case xapi.PathIs(rel, "Domain") && strings.EqualFold(a.Name, "Name"):
		if err := SetDNSDomain(&c, a.Value); err != nil {
			return err
		}
	case strings.EqualFold(a.Name, "Address"):
		n, err := slot(rel, "DNS", netsettings.MaxDNSServers)
		if err != nil {
			return err
		}
		if err := SetDNSServer(&c, n, a.Value); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: write xconfiguration DNS Server <1-%d> Address: <ip> or xconfiguration DNS Domain Name: <name>", ErrBadRequest, netsettings.MaxDNSServers)
	}
	return h.save(ctx, c, out)
}

// SetDNSDomain sets the DNS search domain of c as xconfiguration DNS
// Domain Name: does (empty clears it), or says what is wrong.
func SetDNSDomain(c *netsettings.Config, value string) error {
	v := strings.TrimSpace(value)
	if v != "" {
		if err := netsettings.CheckDomain(v); err != nil {
			return fmt.Errorf("%w: DNS Domain Name: %w", ErrBadRequest, err)
		}
	}
	c.SearchDomain = v
	return nil
}

// SetDNSServer sets DNS server n (1 to netsettings.MaxDNSServers) of c as
// xconfiguration DNS Server <n> Address: does (empty clears the slot), or
// says what is wrong, leaving c as it was.
func SetDNSServer(c *netsettings.Config, n int, value string) error {
	if n < 1 || n > netsettings.MaxDNSServers {
		return fmt.Errorf("%w: DNS Server %d: the server number is 1 to %d", ErrBadRequest, n, netsettings.MaxDNSServers)
	}
	v := strings.TrimSpace(value)
	if v != "" {
		if err := netsettings.CheckNameServer(v); err != nil {
			return fmt.Errorf("%w: DNS Server %d Address: %w", ErrBadRequest, n, err)
		}
		for i, s := range c.DNSServers {
			if s == v && i != n-1 {
				return fmt.Errorf("%w: DNS Server %d Address: %s is already DNS Server %d", ErrBadRequest, n, v, i+1)
			}
		}
	}
	c.DNSServers = setSlot(c.DNSServers, n, v)
	return nil
}

// SetNTPServer sets NTP server n (1 to netsettings.MaxNTPServers) of c as
// xconfiguration NTP Server <n> Address: does (empty clears the slot), or
// says what is wrong, leaving c as it was.
func SetNTPServer(c *netsettings.Config, n int, value string) error {
	if n < 1 || n > netsettings.MaxNTPServers {
		return fmt.Errorf("%w: NTP Server %d: the server number is 1 to %d", ErrBadRequest, n, netsettings.MaxNTPServers)
	}
	v := strings.TrimSpace(value)
	if v != "" {
		if err := netsettings.CheckNTPServer(v); err != nil {
			return fmt.Errorf("%w: NTP Server %d Address: %w", ErrBadRequest, n, err)
		}
	}
	c.NTPServers = setSlot(c.NTPServers, n, v)
	return nil
}

func (h *handlers) ntp(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	c, err := h.load()
	if err != nil {
		return err
	}
	if len(req.Args) == 0 {
		return showServers(out, "NTP", c.NTPServers, netsettings.MaxNTPServers, rel, nil)
	}
	a := req.Args[0]
	if !strings.EqualFold(a.Name, "Address") {
		return fmt.Errorf("%w: write xconfiguration NTP Server <1-%d> Address: <ip or host name>", ErrBadRequest, netsettings.MaxNTPServers)
	}
	n, err := slot(rel, "NTP", netsettings.MaxNTPServers)
	if err != nil {
		return err
	}
	if err := SetNTPServer(&c, n, a.Value); err != nil {
		return err
	}
	return h.save(ctx, c, out)
}

// showServers prints the numbered server slots (all, or the one rel
// names), then extra when the whole node is shown.
func showServers(out *xapi.Writer, what string, slots []string, max int, rel []string, extra func()) error {
	if len(rel) == 0 {
		for i := 1; i <= max; i++ {
			out.Config(fmt.Sprintf("%s Server %d Address", what, i), slotValue(slots, i))
		}
		if extra != nil {
			extra()
		}
		return nil
	}
	if extra != nil && xapi.PathIs(rel, "Domain") {
		extra()
		return nil
	}
	n, err := slot(rel, what, max)
	if err != nil {
		return err
	}
	out.Config(fmt.Sprintf("%s Server %d Address", what, n), slotValue(slots, n))
	return nil
}

// save persists c and waits until the network service applied it.
func (h *handlers) save(ctx context.Context, c netsettings.Config, out *xapi.Writer) error {
	note, err := apply(ctx, h.root, c, h.wait)
	if note != "" {
		out.Result("Network Applied", note)
	}
	return err
}

// Update changes the network settings of the device under root as the
// xconfiguration IP, DNS and NTP commands do: under the network.json lock
// it loads them, runs change (which uses SetIP, SetDNSServer, ... and
// returns their errors), validates and saves the result, and waits up to
// wait (ApplyWait on the device) for the network service to apply it. Nothing is written when
// change or the validation fails. note is set when the change was saved
// but not (yet) applied.
func Update(ctx context.Context, root string, wait time.Duration, change func(*netsettings.Config) error) (note string, err error) {
	unlock, err := atomicfile.Lock(filepath.Join(root, netsettings.ConfigPath))
	if err != nil {
		return "", err
	}
	defer unlock()
	h := &handlers{root: root}
	c, err := h.load()
	if err != nil {
		return "", err
	}
	if err := change(&c); err != nil {
		return "", err
	}
	return apply(ctx, root, c, wait)
}

// apply validates and saves c and waits up to wait until the network
// service applied it.
func apply(ctx context.Context, root string, c netsettings.Config, wait time.Duration) (note string, err error) {
	if err := c.Validate(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if err := netsettings.Save(root, c); err != nil {
		return "", err
	}
	want := c.Hash()
	deadline := time.Now().Add(wait)
	for {
		st, err := ReadStatus(root)
		if err == nil && st.ConfigHash == want {
			if st.State == StateError {
				return "", fmt.Errorf("saved, but applying it failed: %s", st.Error)
			}
			return "", nil
		}
		if time.Now().After(deadline) {
			if errors.Is(err, ErrNoStatus) {
				return "saved; the network service is not running, it applies at next boot", nil
			}
			return "saved; the network service has not applied it yet", nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (h *handlers) status(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	st, err := ReadStatus(h.root)
	if errors.Is(err, ErrNoStatus) {
		c, lerr := h.load()
		if lerr != nil {
			return lerr
		}
		e := Merge(c, nil)
		st = Status{State: "NotRunning", Interface: "eth0", DHCP: c.DHCP, DNSServers: e.DNSServers,
			SearchDomain: e.SearchDomain, NTPServers: e.NTPServers}
		if e.Address.IsValid() {
			st.Address = e.Address.String()
		}
		if e.Gateway.IsValid() {
			st.Gateway = e.Gateway.String()
		}
	} else if err != nil {
		return err
	}
	out.Status("Network Interface", st.Interface)
	out.Status("Network State", st.State)
	if st.Error != "" {
		out.Status("Network Error", st.Error)
	}
	out.Status("Network IPv4 DHCP", onOff(st.DHCP))
	addr, plen := "", int64(0)
	if p, err := netip.ParsePrefix(st.Address); err == nil {
		addr, plen = p.Addr().String(), int64(p.Bits())
	}
	out.Status("Network IPv4 Address", addr)
	out.StatusInt("Network IPv4 PrefixLength", plen)
	out.Status("Network IPv4 Gateway", st.Gateway)
	if st.DHCPServer != "" {
		out.Status("Network IPv4 DHCPServer", st.DHCPServer)
		out.Status("Network IPv4 LeaseExpires", st.LeaseExpires.Format(time.RFC3339))
	}
	src := "Configured"
	if st.DNSFromDHCP {
		src = "DHCP"
	}
	out.Status("Network DNS Source", src)
	for i, s := range st.DNSServers {
		out.Status(fmt.Sprintf("Network DNS Server %d Address", i+1), s)
	}
	out.Status("Network DNS Domain Name", st.SearchDomain)
	for i, s := range st.NTPServers {
		out.Status(fmt.Sprintf("Network NTP Server %d Address", i+1), s)
	}
	if st.NTPSyncedFrom != "" {
		out.Status("Network NTP SyncedFrom", st.NTPSyncedFrom)
		out.Status("Network NTP Synced", st.NTPSynced.UTC().Format(time.RFC3339))
		out.Status("Network NTP Offset", st.NTPOffset)
	}
	return nil
}
