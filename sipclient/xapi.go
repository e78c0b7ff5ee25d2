package sipclient

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"vxway/xapi"
)

// RegisterXAPI adds the SIP settings, credential commands and the SIP
// status to t, for the device under root.
func RegisterXAPI(t *xapi.Tree, root string, c *Client) {
	x := &xapiHandlers{root: root, c: c}
	t.Handle(xapi.Configuration, "SIP", x.config)
	t.Handle(xapi.Configuration, "Zones", x.zones)
	t.Handle(xapi.Command, "Credential", x.credential)
	t.Handle(xapi.Command, "SIP", x.command)
	t.Handle(xapi.Status, "SIP", x.status)
}

type xapiHandlers struct {
	root string
	c    *Client
}

// reload tells the running service about a change; a service that is
// not running reads it when it starts, which the warning says.
func (x *xapiHandlers) reload(ctx context.Context, out *xapi.Writer) {
	if err := x.c.Reload(ctx); err != nil {
		out.Result("Warning", "saved; the SIP service is not running and uses it when it starts ("+err.Error()+")")
	}
}

func (x *xapiHandlers) config(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	if len(req.Args) == 0 {
		c, err := LoadConfig(x.root)
		if err != nil {
			return err
		}
		showConfig(out, c)
		return nil
	}
	if len(req.Args) != 1 {
		return fmt.Errorf("%w: set one SIP setting at a time", ErrInvalid)
	}
	a := req.Args[0]
	var set func(*Config) error
	switch {
	case xapi.PathIs(rel, "Domain", "1") && strings.EqualFold(a.Name, "Name"):
		set = func(c *Config) error { c.Domain = strings.TrimSpace(a.Value); return nil }
	case xapi.PathIs(rel, "Registration") && strings.EqualFold(a.Name, "Authentication"):
		set = func(c *Config) error {
			on, err := parseOnOff(a.Value)
			c.AuthenticationOff = !on
			return err
		}
	case xapi.PathIs(rel, "Registration") && strings.EqualFold(a.Name, "RoomPattern"):
		set = func(c *Config) error { c.RoomPattern = a.Value; return nil }
	case xapi.PathIs(rel, "Advertise") && strings.EqualFold(a.Name, "Address"):
		set = func(c *Config) error { c.Advertise = strings.TrimSpace(a.Value); return nil }
	case xapi.PathIs(rel, "Advertise") && strings.EqualFold(a.Name, "TLSPort"):
		set = func(c *Config) error {
			n, err := strconv.Atoi(strings.TrimSpace(a.Value))
			if err != nil {
				return fmt.Errorf("%w: the advertised TLS port %q is not a number (0: the advertised port plus one)", ErrInvalid, a.Value)
			}
			c.AdvertiseTLSPort = n
			return nil
		}
	default:
		return fmt.Errorf("%w: xconfiguration SIP %s %s; settings are Domain 1 Name, Registration Authentication, Registration RoomPattern, Advertise Address, Advertise TLSPort", xapi.ErrNotFound, strings.Join(rel, " "), a.Name)
	}
	c, err := UpdateConfig(x.root, set)
	if err != nil {
		return err
	}
	showConfig(out, c)
	x.reload(ctx, out)
	return nil
}

func showConfig(out *xapi.Writer, c Config) {
	out.Config("SIP Domain 1 Name", c.Domain)
	out.Config("SIP Registration Authentication", onOff(!c.AuthenticationOff))
	out.Config("SIP Registration RoomPattern", c.RoomPattern)
	out.Config("SIP Advertise Address", c.Advertise)
	out.Config("SIP Advertise TLSPort", strconv.Itoa(c.AdvertiseTLSPort))
}

func (x *xapiHandlers) zones(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	if len(req.Args) == 0 {
		c, err := LoadConfig(x.root)
		if err != nil {
			return err
		}
		out.Config("Zones Neighbor 1 Address", c.Neighbor)
		return nil
	}
	if len(req.Args) != 1 || !xapi.PathIs(rel, "Neighbor", "1") || !strings.EqualFold(req.Args[0].Name, "Address") {
		return fmt.Errorf("%w: xconfiguration Zones %s; the setting is Zones Neighbor 1 Address: \"host[:port]\" (empty removes it)", xapi.ErrNotFound, strings.Join(rel, " "))
	}
	c, err := UpdateConfig(x.root, func(c *Config) error { c.Neighbor = strings.TrimSpace(req.Args[0].Value); return nil })
	if err != nil {
		return err
	}
	out.Config("Zones Neighbor 1 Address", c.Neighbor)
	x.reload(ctx, out)
	return nil
}

func (x *xapiHandlers) credential(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	name, _ := req.Arg("Name")
	switch {
	case xapi.PathIs(rel, "Add"):
		pw, ok := req.Arg("Password")
		if name == "" || !ok {
			return fmt.Errorf("%w: write xcommand Credential Add Name: \"<name>\" Password: \"<password>\"", ErrBadCredential)
		}
		cfg, err := LoadConfig(x.root)
		if err != nil {
			return err
		}
		cr, err := NewCredential(name, cfg.Realm(), pw)
		if err != nil {
			return err
		}
		if err := UpdateCredentials(x.root, func(c Credentials) error { c[name] = cr; return nil }); err != nil {
			return err
		}
		out.Result("Credential Name", name)
		out.Result("Credential Realm", cr.Realm)
	case xapi.PathIs(rel, "Delete"):
		if name == "" {
			return fmt.Errorf("%w: write xcommand Credential Delete Name: \"<name>\"", ErrBadCredential)
		}
		err := UpdateCredentials(x.root, func(c Credentials) error {
			if _, ok := c[name]; !ok {
				return fmt.Errorf("%w: %q; xcommand Credential List shows the names", ErrNoCredential, name)
			}
			delete(c, name)
			return nil
		})
		if err != nil {
			return err
		}
	case xapi.PathIs(rel, "List"):
		c, err := LoadCredentials(x.root)
		if err != nil {
			return err
		}
		for i, n := range c.Names() {
			out.Result(fmt.Sprintf("Credential %d Name", i+1), n)
			out.Result(fmt.Sprintf("Credential %d Realm", i+1), c[n].Realm)
		}
		return nil
	default:
		return fmt.Errorf("%w: xcommand Credential %s; commands are Add, Delete, List", xapi.ErrNotFound, strings.Join(rel, " "))
	}
	x.reload(ctx, out)
	return nil
}

func (x *xapiHandlers) command(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	if !xapi.PathIs(rel, "Registration", "List") {
		return fmt.Errorf("%w: xcommand SIP %s; the command is SIP Registration List", xapi.ErrNotFound, strings.Join(rel, " "))
	}
	regs, err := x.c.Registrations(ctx)
	if err != nil {
		return err
	}
	sort.Slice(regs, func(i, j int) bool { return regs[i].AOR+regs[i].Contact < regs[j].AOR+regs[j].Contact })
	for i, r := range regs {
		p := fmt.Sprintf("Registration %d ", i+1)
		out.Result(p+"AOR", r.AOR)
		out.Result(p+"Contact", r.Contact)
		out.Result(p+"Source", r.Source)
		out.Result(p+"Transport", r.Transport)
		out.Result(p+"Type", r.Type)
		out.Result(p+"UserAgent", r.UserAgent)
		out.Result(p+"Expires", r.Expires.UTC().Format(time.RFC3339))
	}
	return nil
}

func (x *xapiHandlers) status(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	s, err := x.c.Status(ctx)
	if err != nil {
		return err
	}
	p := "SIP "
	lines := []struct {
		path string
		n    int
	}{
		{"Registrations Room", s.Room},
		{"Registrations Desktop", s.Desktop},
		{"Registrations Total", s.Room + s.Desktop},
		{"Registrations Encrypted", s.Encrypted},
		{"Calls Active", s.Calls},
		{"Calls Neighbor", s.NeighborCalls},
		{"Calls Encrypted", s.EncryptedCalls},
		{"EncryptedSessions", s.Encrypted + s.EncryptedCalls},
		{"Memory ResidentKiB", s.ResidentKiB},
	}
	want := strings.Join(rel, " ")
	show := func(path string) bool {
		return want == "" || strings.HasPrefix(strings.ToLower(path+" "), strings.ToLower(want+" "))
	}
	shown := false
	if show("Domain") {
		out.Status(p+"Domain", s.Domain)
		shown = true
	}
	if show("Authentication") {
		out.Status(p+"Authentication", onOff(s.Authentication))
		shown = true
	}
	if show("Neighbor") {
		out.Status(p+"Neighbor", s.Neighbor)
		shown = true
	}
	if show("Advertise") {
		out.Status(p+"Advertise Address", s.Advertise)
		out.Status(p+"Advertise TLSAddress", s.AdvertiseTLS)
		out.Status(p+"Advertise Source", s.AdvertiseSource)
		shown = true
	}
	for _, l := range lines {
		if show(l.path) {
			out.StatusInt(p+l.path, int64(l.n))
			shown = true
		}
	}
	reasons := make([]string, 0, len(s.Refused))
	for r := range s.Refused {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		if show("Refused " + r) {
			out.StatusInt(p+"Refused "+r, int64(s.Refused[r]))
			shown = true
		}
	}
	if show("Licensing") {
		v := "OK"
		if s.Licensing != "" {
			v = s.Licensing
		}
		out.Status(p+"Licensing", v)
		shown = true
	}
	if !shown {
		return fmt.Errorf("%w: xstatus SIP %s", xapi.ErrNotFound, want)
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "On"
	}
	return "Off"
}

func parseOnOff(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, fmt.Errorf("%w: the value must be On or Off", ErrInvalid)
}
