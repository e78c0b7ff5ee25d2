// Package seed is the provisioning seed format: provision.toml, strict and
// versioned, parsed and validated in one pass that reports every problem
// with its key and line. It is a leaf: the device's provisioning (package
// firstboot) applies a Seed, and the host tool checks a seed with it before
// writing a seed disk, without linking the device's daemons.
package seed

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"golang.org/x/crypto/ssh"

	"vxway/agentclient"
	"vxway/netsettings"
	"vxway/platform"
	"vxway/tomlline"
)

// File is the name of the seed on the seed disk.
const File = "provision.toml"

// Label is the FAT volume label of a seed disk.
const Label = "VXPROV"

// MaxBytes bounds a seed; anything larger is not a provisioning file.
const MaxBytes = 64 << 10

// Version is the seed format this device reads.
const Version = 1

// Seed is a parsed and validated provision.toml. A nil section was absent
// from the seed: what it configures keeps its default.
type Seed struct {
	Version    int
	InstanceID string
	System     *System
	Network    *netsettings.Config
	// Users holds the accounts the seed sets, by name (root, admin).
	Users     map[string]User
	Licensing *Licensing
}

// System is the [system] section; an empty field keeps the default.
type System struct {
	Hostname string
	Domain   string
	Brand    platform.Brand
	Type     platform.Type
}

// User is a [users.<name>] section.
type User struct {
	// Password is a plain password, hashed when applied; empty when the
	// seed gives a hash or no password.
	Password string
	// Hash is a sha512-crypt ($6$) or bcrypt ($2b$) hash given as is.
	Hash string
	// AuthorizedKeys replaces the account's ssh keys when SetKeys.
	AuthorizedKeys []string
	SetKeys        bool
}

// Licensing is the [licensing] section.
type Licensing struct {
	// Config is the agent configuration to set (transport, proxy, privacy).
	Config agentclient.Config
	// Token is the Product Instance Registration Token; never logged.
	Token string
	// Register asks for registration with Token once the agent runs.
	Register bool
}

// Summary describes s for the console without any secret.
func (s *Seed) Summary() string {
	var parts []string
	if s.System != nil {
		var f []string
		for _, kv := range [][2]string{{"hostname", s.System.Hostname}, {"domain", s.System.Domain}, {"brand", string(s.System.Brand)}, {"type", string(s.System.Type)}} {
			if kv[1] != "" {
				f = append(f, kv[0]+" "+kv[1])
			}
		}
		parts = append(parts, "system ("+strings.Join(f, ", ")+")")
	}
	if n := s.Network; n != nil {
		mode := "DHCP"
		if !n.DHCP {
			mode = fmt.Sprintf("static %s/%d", n.Address, n.PrefixLength)
		}
		parts = append(parts, fmt.Sprintf("network (%s, %d DNS, %d NTP)", mode, len(n.DNSServers), len(n.NTPServers)))
	}
	if len(s.Users) > 0 {
		names := make([]string, 0, len(s.Users))
		for n := range s.Users {
			names = append(names, n)
		}
		sort.Strings(names)
		parts = append(parts, "users ("+strings.Join(names, ", ")+")")
	}
	if l := s.Licensing; l != nil {
		f := "transport " + string(l.Config.Mode)
		if l.Register {
			f += ", register with token"
		}
		parts = append(parts, "licensing ("+f+")")
	}
	if len(parts) == 0 {
		return "nothing to set"
	}
	return strings.Join(parts, "; ")
}

// Problem is one thing wrong with a seed: the key it concerns, the line
// where that key is (0 when unknown) and what is wrong.
type Problem struct {
	Key  string
	Line int
	Msg  string
}

func (p *Problem) Error() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", p.Line, p.Key, p.Msg)
	}
	if p.Key == "" {
		return p.Msg
	}
	return fmt.Sprintf("%s: %s", p.Key, p.Msg)
}

// ErrInvalid marks a seed with problems; Problems lists them.
var ErrInvalid = errors.New("invalid provisioning seed")

// Problems lists the problems an error from Parse carries.
func Problems(err error) []*Problem {
	var out []*Problem
	var walk func(error)
	walk = func(e error) {
		var p *Problem
		if errors.As(e, &p) && p == e {
			out = append(out, p)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			if x := u.Unwrap(); x != nil {
				walk(x)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// parser walks the decoded TOML document, checking every key against the
// schema and collecting every problem.
type parser struct {
	lines    map[string]int
	problems []*Problem
}

func (p *parser) line(key string) int {
	for k := key; k != ""; {
		if n, ok := p.lines[k]; ok {
			return n
		}
		i := strings.LastIndex(k, ".")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

func (p *parser) bad(key, format string, args ...any) {
	p.problems = append(p.problems, &Problem{Key: key, Line: p.line(key), Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) badErr(key string, err error) {
	if err != nil {
		p.bad(key, "%s", strings.TrimPrefix(err.Error(), platform.ErrBadValue.Error()+": "))
	}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// unknown reports, as problems, the keys of m that the schema does not
// have (those not in known), sorted.
func (p *parser) unknown(m map[string]any, prefix string, known ...string) {
	var keys []string
	for k := range m {
		if !slices.Contains(known, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.bad(join(prefix, k), "unknown key; the keys here are %s", strings.Join(known, ", "))
	}
}

func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

func (p *parser) str(m map[string]any, prefix, key string) (string, bool) {
	v, ok := m[key]
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		p.bad(join(prefix, key), "is %s; write it as a quoted string", tomlType(v))
		return "", false
	}
	return s, true
}

func (p *parser) boolean(m map[string]any, prefix, key string) (bool, bool) {
	v, ok := m[key]
	if !ok {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		p.bad(join(prefix, key), "is %s; write true or false", tomlType(v))
		return false, false
	}
	return b, true
}

func (p *parser) integer(m map[string]any, prefix, key string) (int64, bool) {
	v, ok := m[key]
	if !ok {
		return 0, false
	}
	n, ok := v.(int64)
	if !ok {
		p.bad(join(prefix, key), "is %s; write a whole number", tomlType(v))
		return 0, false
	}
	return n, true
}

func (p *parser) strings(m map[string]any, prefix, key string) ([]string, bool) {
	v, ok := m[key]
	if !ok {
		return nil, false
	}
	arr, ok := v.([]any)
	if !ok {
		p.bad(join(prefix, key), "is %s; write an array of strings such as [\"a\", \"b\"]", tomlType(v))
		return nil, false
	}
	// Elements that are not usable strings are reported here and left
	// as "" so that callers check the others by their position.
	out := make([]string, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		switch {
		case !ok:
			p.bad(join(prefix, key), "element %d is %s; every element must be a quoted string", i+1, tomlType(e))
		case strings.TrimSpace(s) == "":
			p.bad(join(prefix, key), "element %d is empty", i+1)
		default:
			out[i] = strings.TrimSpace(s)
		}
	}
	return out, true
}

func (p *parser) table(m map[string]any, prefix, key string) (map[string]any, bool) {
	v, ok := m[key]
	if !ok {
		return nil, false
	}
	t, ok := v.(map[string]any)
	if !ok {
		p.bad(join(prefix, key), "is %s; it must be a table: [%s]", tomlType(v), join(prefix, key))
		return nil, false
	}
	return t, true
}

// instanceIDRE is compiled at its first use, like the hash patterns below:
// their bounded repetitions make large programs, which every device
// program (one binary) would otherwise compile at each start.
var instanceIDRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`) })

// Parse decodes and validates a provision.toml. On any problem it returns
// an error wrapping ErrInvalid that lists every problem (Problems
// gives them one by one), each with its key and line.
func Parse(b []byte) (*Seed, error) {
	if len(b) > MaxBytes {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, &Problem{Msg: fmt.Sprintf("the seed is %d bytes; at most %d are allowed", len(b), MaxBytes)})
	}
	doc := map[string]any{}
	if _, err := toml.Decode(string(b), &doc); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, &Problem{Key: "syntax", Line: pe.Position.Line, Msg: pe.Message + " (fix the TOML syntax)"})
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalid, &Problem{Key: "syntax", Msg: err.Error()})
	}
	p := &parser{lines: tomlline.Lines(string(b))}
	s := p.seed(doc)
	if len(p.problems) > 0 {
		sort.SliceStable(p.problems, func(i, j int) bool { return p.problems[i].Line < p.problems[j].Line })
		errs := make([]error, len(p.problems))
		for i, pr := range p.problems {
			errs[i] = pr
		}
		return nil, fmt.Errorf("%w (%d problems):\n%w", ErrInvalid, len(errs), errors.Join(errs...))
	}
	return s, nil
}

// InstanceID digs the instance_id out of a seed that may be invalid, for
// the run-once check; "" when there is none.
func InstanceID(b []byte) string {
	doc := map[string]any{}
	if _, err := toml.Decode(string(b), &doc); err != nil {
		return ""
	}
	s, _ := doc["instance_id"].(string)
	return s
}

func (p *parser) seed(doc map[string]any) *Seed {
	s := &Seed{}
	p.unknown(doc, "", "version", "instance_id", "system", "network", "users", "licensing")
	switch v, ok := p.integer(doc, "", "version"); {
	case !ok && doc["version"] == nil:
		p.bad("version", "missing; the first line of a seed is version = %d", Version)
	case ok && v != Version:
		p.bad("version", "version %d is not supported; this device reads version = %d", v, Version)
	case ok:
		s.Version = int(v)
	}
	switch id, ok := p.str(doc, "", "instance_id"); {
	case !ok && doc["instance_id"] == nil:
		p.bad("instance_id", "missing; name this seed, e.g. instance_id = \"site-a-001\", so that it is applied once")
	case ok && !instanceIDRE().MatchString(id):
		p.bad("instance_id", "%q: use 1 to 64 letters, digits, dots, hyphens and underscores, starting with a letter or digit", id)
	case ok:
		s.InstanceID = id
	}
	if t, ok := p.table(doc, "", "system"); ok {
		s.System = p.system(t)
	}
	if t, ok := p.table(doc, "", "network"); ok {
		s.Network = p.network(t, s.System)
	}
	if t, ok := p.table(doc, "", "users"); ok {
		s.Users = p.users(t)
	}
	if t, ok := p.table(doc, "", "licensing"); ok {
		s.Licensing = p.licensing(t, s.System)
	}
	return s
}

func (p *parser) system(t map[string]any) *System {
	const pre = "system"
	p.unknown(t, pre, "hostname", "domain", "brand", "type")
	sys := &System{}
	if v, ok := p.str(t, pre, "hostname"); ok {
		if err := platform.ValidateHostname(v); err != nil {
			p.badErr(pre+".hostname", err)
		} else {
			sys.Hostname = v
		}
	}
	if v, ok := p.str(t, pre, "domain"); ok {
		if err := netsettings.CheckDomain(v); err != nil {
			p.bad(pre+".domain", "%q: %v", v, err)
		} else {
			sys.Domain = v
		}
	}
	if v, ok := p.str(t, pre, "brand"); ok {
		b, err := platform.ParseBrand(v)
		p.badErr(pre+".brand", err)
		sys.Brand = b
	}
	if v, ok := p.str(t, pre, "type"); ok {
		ty, err := platform.ParseType(v)
		p.badErr(pre+".type", err)
		sys.Type = ty
	}
	return sys
}

func (p *parser) network(t map[string]any, sys *System) *netsettings.Config {
	const pre = "network"
	p.unknown(t, pre, "dhcp", "address", "gateway", "dns_servers", "ntp_servers", "search_domain")
	c := netsettings.Default()
	dhcp, dhcpSet := p.boolean(t, pre, "dhcp")
	addr, addrSet := p.str(t, pre, "address")
	switch {
	case dhcpSet && dhcp && addrSet:
		p.bad(pre+".address", "is set but dhcp = true; set dhcp = false for a static address, or remove address")
	case dhcpSet && !dhcp && !addrSet:
		p.bad(pre+".dhcp", "dhcp = false needs address = \"<ipv4>/<prefix length>\", e.g. \"192.0.2.10/24\"")
	}
	c.DHCP = !addrSet || (dhcpSet && dhcp)
	if addrSet {
		pfx, err := netip.ParsePrefix(addr)
		switch {
		case err != nil:
			p.bad(pre+".address", "%q is not an address with a prefix length; write it as \"192.0.2.10/24\"", addr)
		case netsettings.CheckAddress(pfx.Addr().String()) != nil:
			p.badErr(pre+".address", netsettings.CheckAddress(pfx.Addr().String()))
		case netsettings.CheckPrefixLength(pfx.Bits()) != nil:
			p.badErr(pre+".address", netsettings.CheckPrefixLength(pfx.Bits()))
		default:
			c.Address, c.PrefixLength = pfx.Addr().String(), pfx.Bits()
		}
	}
	if gw, ok := p.str(t, pre, "gateway"); ok {
		switch {
		case c.DHCP && !addrSet:
			p.bad(pre+".gateway", "is set but the address comes from DHCP; set address (and dhcp = false) or remove gateway")
		default:
			if err := netsettings.CheckGateway(gw, c.Address, c.PrefixLength); err != nil {
				p.badErr(pre+".gateway", err)
			} else {
				c.Gateway = gw
			}
		}
	}
	if list, ok := p.strings(t, pre, "dns_servers"); ok {
		if len(list) > netsettings.MaxDNSServers {
			p.bad(pre+".dns_servers", "%d servers given; at most %d are allowed", len(list), netsettings.MaxDNSServers)
		}
		for i, s := range list {
			if s == "" {
				continue
			}
			if err := netsettings.CheckNameServer(s); err != nil {
				p.bad(pre+".dns_servers", "element %d: %v", i+1, err)
			} else if slices.Contains(list[:i], s) {
				p.bad(pre+".dns_servers", "element %d: %s is listed twice", i+1, s)
			}
		}
		c.DNSServers = list
	}
	if list, ok := p.strings(t, pre, "ntp_servers"); ok {
		if len(list) > netsettings.MaxNTPServers {
			p.bad(pre+".ntp_servers", "%d servers given; at most %d are allowed", len(list), netsettings.MaxNTPServers)
		}
		for i, s := range list {
			if s == "" {
				continue
			}
			if err := netsettings.CheckNTPServer(s); err != nil {
				p.bad(pre+".ntp_servers", "element %d: %v", i+1, err)
			}
		}
		c.NTPServers = list
	}
	if d, ok := p.str(t, pre, "search_domain"); ok {
		if err := netsettings.CheckDomain(d); err != nil {
			p.bad(pre+".search_domain", "%q: %v", d, err)
		} else {
			c.SearchDomain = d
		}
	} else if sys != nil && sys.Domain != "" {
		c.SearchDomain = sys.Domain
	}
	return &c
}

var (
	sha512CryptRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\$6\$(rounds=[0-9]{1,9}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$`)
	})
	bcryptRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\$2[aby]\$[0-9]{2}\$[./0-9A-Za-z]{53}$`) })
)

func (p *parser) users(t map[string]any) map[string]User {
	out := map[string]User{}
	names := make([]string, 0, len(t))
	for name := range t {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		pre := "users." + name
		if name != platform.UserAdmin && name != platform.UserRoot {
			p.bad(pre, "unknown user; the accounts are admin and root")
			continue
		}
		ut, ok := p.table(t, "users", name)
		if !ok {
			continue
		}
		p.unknown(ut, pre, "password", "ssh_authorized_keys")
		var u User
		if pw, ok := p.str(ut, pre, "password"); ok {
			switch {
			case strings.HasPrefix(pw, "$6$"):
				if !sha512CryptRE().MatchString(pw) {
					p.bad(pre+".password", "starts like a sha512-crypt hash but is not one ($6$<salt>$<86 characters>); make it with openssl passwd -6")
				} else if err := platform.ValidateHash(pw); err != nil {
					p.badErr(pre+".password", err)
				}
				u.Hash = pw
			case strings.HasPrefix(pw, "$2"):
				if !bcryptRE().MatchString(pw) {
					p.bad(pre+".password", "starts like a bcrypt hash but is not one ($2b$<cost>$<53 characters>)")
				} else if err := platform.ValidateHash(pw); err != nil {
					p.badErr(pre+".password", err)
				}
				u.Hash = pw
			case strings.HasPrefix(pw, "$"):
				p.bad(pre+".password", "starts with $ but is not a $6$ or $2b$ hash; give a plain password or one of those hashes")
			default:
				if err := platform.ValidatePassword(pw); err != nil {
					p.badErr(pre+".password", err)
				}
				u.Password = pw
			}
		}
		if keys, ok := p.strings(ut, pre, "ssh_authorized_keys"); ok {
			for i, k := range keys {
				if k == "" {
					continue
				}
				if _, _, options, rest, err := ssh.ParseAuthorizedKey([]byte(k)); err != nil {
					p.bad(pre+".ssh_authorized_keys", "element %d is not an ssh public key (%v); paste one line of id_ed25519.pub or similar", i+1, err)
				} else if len(options) > 0 {
					p.bad(pre+".ssh_authorized_keys", "element %d starts with options (%s), which the device does not support; give the key without options", i+1, strings.Join(options, ","))
				} else if len(rest) > 0 {
					p.bad(pre+".ssh_authorized_keys", "element %d holds more than one key; give one key per element", i+1)
				}
			}
			u.AuthorizedKeys, u.SetKeys = keys, true
		}
		out[name] = u
	}
	return out
}

func (p *parser) licensing(t map[string]any, sys *System) *Licensing {
	const pre = "licensing"
	p.unknown(t, pre, "transport", "url", "proxy_address", "proxy_port", "proxy_username", "proxy_password", "token", "hide_hostname", "register")
	l := &Licensing{Config: agentclient.DefaultConfig()}
	if sys != nil && sys.Brand == platform.BrandVCS {
		p.bad(pre, "Smart Licensing needs brand = \"Expressway\"; a VCS uses option keys (remove [licensing] or change system.brand)")
	}
	if v, ok := p.str(t, pre, "transport"); ok {
		switch strings.ToLower(v) {
		case "direct":
			l.Config.Mode = agentclient.Direct
		case "onprem", "on-prem":
			l.Config.Mode = agentclient.OnPrem
		case "proxy":
			l.Config.Mode = agentclient.Proxy
		default:
			p.bad(pre+".transport", "%q: use \"direct\", \"onprem\" or \"proxy\"", v)
		}
	}
	set := func(key, leaf string, value string) {
		c, err := l.Config.Apply(leaf, value, false)
		if err != nil {
			p.bad(pre+"."+key, "%v", strings.TrimPrefix(err.Error(), agentclient.ErrInvalidConfig.Error()+": "))
			return
		}
		l.Config = c
	}
	mode := l.Config.Mode
	if v, ok := p.str(t, pre, "url"); ok {
		if mode != agentclient.OnPrem {
			p.bad(pre+".url", "is used only with transport = \"onprem\"")
		} else {
			set("url", agentclient.LeafURL, v)
		}
	} else if mode == agentclient.OnPrem {
		p.bad(pre+".transport", "transport = \"onprem\" needs url = \"https://<manager>/SmartTransport\"")
	}
	proxyKeys := []struct{ key, leaf string }{
		{"proxy_address", agentclient.LeafProxyAddress}, {"proxy_username", agentclient.LeafProxyUsername}, {"proxy_password", agentclient.LeafProxyPassword},
	}
	for _, k := range proxyKeys {
		if v, ok := p.str(t, pre, k.key); ok {
			if mode != agentclient.Proxy {
				p.bad(pre+"."+k.key, "is used only with transport = \"proxy\"")
				continue
			}
			set(k.key, k.leaf, v)
		}
	}
	if n, ok := p.integer(t, pre, "proxy_port"); ok {
		if mode != agentclient.Proxy {
			p.bad(pre+".proxy_port", "is used only with transport = \"proxy\"")
		} else {
			set("proxy_port", agentclient.LeafProxyPort, fmt.Sprint(n))
		}
	}
	if mode == agentclient.Proxy {
		if _, ok := t["proxy_address"]; !ok {
			p.bad(pre+".transport", "transport = \"proxy\" needs proxy_address")
		}
		if _, ok := t["proxy_port"]; !ok {
			p.bad(pre+".transport", "transport = \"proxy\" needs proxy_port")
		}
	}
	if b, ok := p.boolean(t, pre, "hide_hostname"); ok {
		l.Config.HideHostname = b
	}
	tok, hasTok := p.str(t, pre, "token")
	if hasTok {
		if err := checkToken(tok); err != nil {
			p.bad(pre+".token", "%v", err)
		}
		l.Token = strings.TrimSpace(tok)
	}
	reg, regSet := p.boolean(t, pre, "register")
	switch {
	case regSet && reg && !hasTok:
		p.bad(pre+".register", "register = true needs token = \"<Product Instance Registration Token>\"")
	case regSet && !reg && hasTok:
		p.bad(pre+".token", "is given but register = false; remove the token or set register = true")
	}
	l.Register = hasTok && (!regSet || reg)
	return l
}

// checkToken checks a registration token's form without ever showing it.
func checkToken(tok string) error {
	t := strings.TrimSpace(tok)
	switch {
	case t == "":
		return errors.New("is empty; paste the Product Instance Registration Token from the manager")
	case len(t) > 4096:
		return fmt.Errorf("is %d characters; at most 4096 are allowed", len(t))
	}
	for _, r := range t {
		if r < 0x21 || r > 0x7e {
			return errors.New("holds a space or a character that is not printable ASCII; copy the token again from the manager")
		}
	}
	return nil
}
