package platform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"vxway/clock"
	"vxway/xapi"
)

// ErrBadRequest marks an xAPI request naming a node or argument that does
// not exist.
var ErrBadRequest = errors.New("bad request")

// RegisterXAPI adds the platform's nodes to t, for the device under root:
//
//	xstatus SystemUnit                   product, brand, type, serial, UDI, software, uptime, hostname
//	xstatus Alarm                        the raised alarms
//	xstatus OptionKey                    installed option keys and the features they unlock
//	xconfiguration Ethernet 2 IP V4      Address, SubnetMask of eth1 (the management interface's address)
//	xconfiguration SystemUnit            Hostname, Domain, ServiceSelect Brand and Type, SessionTimeout (web, minutes)
//	xcommand OptionKey Add Key: "..."    install a VCS option key
//	xcommand OptionKey Remove Key: "..." (or Index: <n>) remove one
//	xcommand Alarm Acknowledge Id: <id>  acknowledge a raised alarm
func RegisterXAPI(t *xapi.Tree, root string, c clock.Clock, hooks Hooks) {
	if c == nil {
		c = clock.Real{}
	}
	h := &handlers{root: root, clock: c, hooks: hooks}
	t.Handle(xapi.Status, "SystemUnit", h.systemUnit)
	t.Handle(xapi.Status, "Alarm", h.alarms)
	t.Handle(xapi.Status, "OptionKey", h.optionKeyStatus)
	t.Handle(xapi.Configuration, "Interfaces Management", h.management)
	t.Handle(xapi.Configuration, "Ethernet", h.ethernet2)
	t.Handle(xapi.Configuration, "SystemUnit", h.systemConfig)
	t.Handle(xapi.Command, "OptionKey", h.optionKeyCommand)
	t.Handle(xapi.Command, "Alarm", h.alarmCommand)
}

// Hooks tell other components about platform changes made over the xAPI.
type Hooks struct {
	// SmartLicensingEnabled, when set, is called after Service Select has
	// turned Smart Licensing on (VCS converted to Expressway), so that the
	// licensing agent starts at once rather than at its next look at the
	// platform flag. Its error is shown as a warning; the conversion stands.
	SmartLicensingEnabled func(context.Context) error
	// ExportControlAllowed, when set, reports whether the licensing state
	// allows export-controlled functionality, which FIPS 140 mode needs.
	ExportControlAllowed func(context.Context) (bool, error)
}

// hookTimeout bounds how long a hook may hold up the answer.
const hookTimeout = 10 * time.Second

type handlers struct {
	root  string
	clock clock.Clock
	hooks Hooks
}

// statusLine is one `*s` line before filtering by the requested path.
type statusLine struct {
	path   []string
	value  string
	number bool
}

// writeFiltered writes the lines under rel (all when rel is empty) with
// the given prefix, or says what exists when nothing matches.
func writeFiltered(out *xapi.Writer, prefix string, rel []string, lines []statusLine) error {
	n := 0
	var leaves []string
	for _, l := range lines {
		if len(l.path) > 0 && (len(leaves) == 0 || leaves[len(leaves)-1] != l.path[0]) {
			leaves = append(leaves, l.path[0])
		}
		if len(rel) > len(l.path) || !xapi.PathIs(l.path[:len(rel)], rel...) {
			continue
		}
		p := strings.Join(append([]string{prefix}, l.path...), " ")
		if l.number {
			v, _ := strconv.ParseInt(l.value, 10, 64)
			out.StatusInt(p, v)
		} else {
			out.Status(p, l.value)
		}
		n++
	}
	if n == 0 && len(rel) > 0 {
		return fmt.Errorf("%w: no %s %s; the nodes are %s", ErrBadRequest, prefix, strings.Join(rel, " "), strings.Join(leaves, ", "))
	}
	return nil
}

// BootIDPath is the kernel's random identifier of the current boot,
// below the device root; it changes at every boot and only then.
const BootIDPath = "proc/sys/kernel/random/boot_id"

// BootID reads the kernel's identifier of the current boot.
func BootID(root string) (string, error) {
	p := filepath.Join(root, BootIDPath)
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	id := strings.TrimSpace(string(b))
	if id == "" {
		return "", fmt.Errorf("parsing %s: %w: empty", p, ErrBadValue)
	}
	return id, nil
}

// Uptime reads the seconds since boot from root/proc/uptime.
func Uptime(root string) (time.Duration, error) {
	p := filepath.Join(root, "proc/uptime")
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", p, err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("parsing %s: empty", p)
	}
	s, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("parsing %s: %w", p, err)
	}
	return time.Duration(s * float64(time.Second)), nil
}

func (h *handlers) systemUnit(_ context.Context, _ *xapi.Request, rel []string, out *xapi.Writer) error {
	cfg, err := LoadSystemConfig(h.root)
	if err != nil {
		return err
	}
	id, err := LoadIdentity(h.root, h.clock)
	if err != nil {
		return err
	}
	version, built := "unknown", ""
	if info, err := LoadImageInfo(h.root); err == nil {
		version = info.SoftwareVersion
		if !info.BuildTime.IsZero() {
			built = info.BuildTime.UTC().Format(time.RFC3339)
		}
	}
	uptime := int64(0)
	if d, err := Uptime(h.root); err == nil {
		uptime = int64(d / time.Second)
	}
	product := "Cisco Expressway"
	if cfg.Brand == BrandVCS {
		product = "Cisco VCS"
	}
	licensing := "Option keys"
	if cfg.SmartLicensingEnabled {
		licensing = "Smart Licensing"
	}
	return writeFiltered(out, "SystemUnit", rel, append([]statusLine{
		{path: []string{"Product"}, value: product},
		{path: []string{"ProductBrand"}, value: string(cfg.Brand)},
		{path: []string{"ProductType"}, value: string(cfg.Type)},
		{path: []string{"Hardware", "SerialNumber"}, value: id.Serial},
		{path: []string{"Hardware", "UDI"}, value: id.UDI(cfg.Brand)},
		{path: []string{"Hardware", "HostID"}, value: id.HostID},
		{path: []string{"Software", "Version"}, value: version},
		{path: []string{"Software", "BuildTime"}, value: built},
		{path: []string{"Licensing"}, value: licensing},
		{path: []string{"Uptime"}, value: strconv.FormatInt(uptime, 10), number: true},
		{path: []string{"Hostname"}, value: cfg.Hostname},
		{path: []string{"Domain"}, value: cfg.Domain},
	}, h.fipsStatusLines()...))
}

func (h *handlers) alarms(_ context.Context, _ *xapi.Request, rel []string, out *xapi.Writer) error {
	list, err := NewAlarms(h.root, h.clock).List()
	if err != nil {
		return err
	}
	var lines []statusLine
	for i, a := range list {
		n := strconv.Itoa(i + 1)
		add := func(leaf, v string, num bool) {
			lines = append(lines, statusLine{path: []string{n, leaf}, value: v, number: num})
		}
		add("Id", strconv.Itoa(a.ID), true)
		add("Severity", a.Severity.String(), false)
		add("Title", a.Title, false)
		if a.Detail != "" {
			add("Detail", a.Detail, false)
		}
		if a.Action != "" {
			add("Action", a.Action, false)
		}
		raised := ""
		if !a.Raised.IsZero() {
			raised = a.Raised.UTC().Format(time.RFC3339)
		}
		add("Raised", raised, false)
		if !a.Acknowledged.IsZero() {
			add("Acknowledged", a.Acknowledged.UTC().Format(time.RFC3339), false)
		}
	}
	if len(rel) > 0 && len(lines) == 0 {
		return fmt.Errorf("%w: no Alarm %s; %d alarms are raised", ErrBadRequest, strings.Join(rel, " "), len(list))
	}
	return writeFiltered(out, "Alarm", rel, lines)
}

func (h *handlers) optionKeyStatus(_ context.Context, _ *xapi.Request, rel []string, out *xapi.Writer) error {
	ok := NewOptionKeys(h.root, h.clock)
	list, err := ok.List()
	if err != nil {
		return err
	}
	cfg, err := LoadSystemConfig(h.root)
	if err != nil {
		return err
	}
	mode := "Option keys"
	if cfg.SmartLicensingEnabled {
		mode = "Smart Licensing"
	}
	lines := []statusLine{{path: []string{"Licensing"}, value: mode}}
	for i, k := range list {
		n := strconv.Itoa(i + 1)
		add := func(leaf, v string, num bool) {
			lines = append(lines, statusLine{path: []string{n, leaf}, value: v, number: num})
		}
		opt, _ := OptionByName(k.Option)
		add("Option", k.Option, false)
		add("Description", opt.Title, false)
		if opt.Counted {
			add("Count", strconv.Itoa(k.Count), true)
		}
		status := "Active"
		if !k.Active {
			status = "Inactive: Smart Licensing does not use option keys"
		}
		add("Status", status, false)
		add("Key", k.Key, false)
		add("Added", k.Added.UTC().Format(time.RFC3339), false)
	}
	for _, f := range []string{OptionAdvancedAccountSecurity, OptionHSM, OptionMSInterop} {
		avail, why, err := ok.Feature(f)
		if err != nil {
			return err
		}
		v := "Available"
		if !avail {
			v = "Unavailable: " + why
		}
		lines = append(lines, statusLine{path: []string{"Feature", f}, value: v})
	}
	return writeFiltered(out, "OptionKey", rel, lines)
}

func (h *handlers) systemConfig(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	if len(req.Args) == 0 {
		cfg, err := LoadSystemConfig(h.root)
		if err != nil {
			return err
		}
		fips, err := LoadFIPSConfig(h.root)
		if err != nil {
			return err
		}
		type node struct {
			path []string
			v    string
		}
		nodes := []node{
			{[]string{"Hostname"}, cfg.Hostname},
			{[]string{"Domain"}, cfg.Domain},
			{[]string{"ServiceSelect", "Brand"}, string(cfg.Brand)},
			{[]string{"ServiceSelect", "Type"}, string(cfg.Type)},
			{[]string{"SessionTimeout"}, strconv.Itoa(int(cfg.IdleTimeout() / time.Minute))},
			{[]string{"FIPS140", "Mode"}, onOff(fips.Mode)},
		}
		n := 0
		for _, nd := range nodes {
			if len(rel) <= len(nd.path) && xapi.PathIs(nd.path[:len(rel)], rel...) {
				out.Config("SystemUnit "+strings.Join(nd.path, " "), nd.v)
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("%w: no SystemUnit %s; the nodes are Hostname, Domain, ServiceSelect Brand, ServiceSelect Type, SessionTimeout and FIPS140 Mode", ErrBadRequest, strings.Join(rel, " "))
		}
		return nil
	}
	leaf, value := req.Args[0].Name, strings.TrimSpace(req.Args[0].Value)
	full := append(append([]string{}, rel...), leaf)
	switch {
	case xapi.PathIs(full, "ServiceSelect", "Brand"):
		b, err := ParseBrand(value)
		if err != nil {
			return err
		}
		warning, err := SelectBrand(ctx, h.root, b, h.clock, h.hooks)
		if err != nil {
			return err
		}
		if warning != "" {
			out.Result("Warning", warning)
		}
	case xapi.PathIs(full, "ServiceSelect", "Type"):
		t, err := ParseType(value)
		if err != nil {
			return err
		}
		if err := SetType(h.root, t); err != nil {
			return err
		}
	case xapi.PathIs(full, "Hostname"):
		if err := ValidateHostname(value); err != nil {
			return err
		}
		if err := h.updateConfig(func(c *SystemConfig) { c.Hostname = value }); err != nil {
			return err
		}
		if err := applyHostname(h.root, value); err != nil {
			return err
		}
	case xapi.PathIs(full, "FIPS140", "Mode"):
		return h.setFIPS(ctx, value, out)
	case xapi.PathIs(full, "Domain"):
		if err := ValidateDomain(value); err != nil {
			return err
		}
		if err := h.updateConfig(func(c *SystemConfig) { c.Domain = value }); err != nil {
			return err
		}
	case xapi.PathIs(full, "SessionTimeout"):
		n, err := ParseSessionTimeout(value)
		if err != nil {
			return err
		}
		if err := h.updateConfig(func(c *SystemConfig) { c.SessionTimeout = n }); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: SystemUnit %s cannot be set; the settings are Hostname, Domain, ServiceSelect Brand, ServiceSelect Type, SessionTimeout and FIPS140 Mode", ErrBadRequest, strings.Join(full, " "))
	}
	cfg, err := LoadSystemConfig(h.root)
	if err != nil {
		return err
	}
	switch {
	case xapi.PathIs(full, "ServiceSelect", "Brand"):
		out.Config("SystemUnit ServiceSelect Brand", string(cfg.Brand))
		if cfg.SmartLicensingEnabled {
			out.Result("SmartLicensing", "On")
		}
	case xapi.PathIs(full, "ServiceSelect", "Type"):
		out.Config("SystemUnit ServiceSelect Type", string(cfg.Type))
	case xapi.PathIs(full, "Hostname"):
		out.Config("SystemUnit Hostname", cfg.Hostname)
	case xapi.PathIs(full, "SessionTimeout"):
		out.Config("SystemUnit SessionTimeout", strconv.Itoa(cfg.SessionTimeout))
	default:
		out.Config("SystemUnit Domain", cfg.Domain)
	}
	return nil
}

func (h *handlers) updateConfig(f func(*SystemConfig)) error {
	return UpdateSystemConfig(h.root, func(c *SystemConfig) error {
		f(c)
		return nil
	})
}

// ValidateDomain checks a DNS domain name: dot-separated host labels, at
// most 253 characters; empty clears it.
func ValidateDomain(d string) error {
	if d == "" {
		return nil
	}
	if len(d) > 253 {
		return fmt.Errorf("%w: domain is %d characters; at most 253", ErrBadValue, len(d))
	}
	for _, label := range strings.Split(strings.TrimSuffix(d, "."), ".") {
		if err := ValidateHostname(label); err != nil {
			return fmt.Errorf("%w: domain %q: each part must be letters, digits and inner hyphens", ErrBadValue, d)
		}
	}
	return nil
}

func (h *handlers) optionKeyCommand(_ context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	if len(rel) == 0 {
		return fmt.Errorf("%w: say what to do: xcommand OptionKey Add Key: \"<key>\" or xcommand OptionKey Remove Key: \"<key>\"", ErrBadRequest)
	}
	// An unquoted key arrives as an extra path word.
	value := func(names ...string) string {
		for _, n := range names {
			if v, ok := req.Arg(n); ok {
				return v
			}
		}
		if len(rel) > 1 {
			return strings.Join(rel[1:], "")
		}
		if p := req.Positional(); len(p) > 0 {
			return strings.Join(p, "")
		}
		return ""
	}
	ok := NewOptionKeys(h.root, h.clock)
	switch {
	case strings.EqualFold(rel[0], "Add"):
		v := value("Key")
		if v == "" {
			return fmt.Errorf("%w: give the key: xcommand OptionKey Add Key: \"<key>\"", ErrBadRequest)
		}
		k, err := ok.Add(v)
		if err != nil {
			return err
		}
		out.Result("OptionKeyAddResult Option", k.Option)
		if k.Count > 0 {
			out.Result("OptionKeyAddResult Count", strconv.Itoa(k.Count))
		}
		return nil
	case strings.EqualFold(rel[0], "Remove"):
		v := value("Key", "Index")
		if v == "" {
			return fmt.Errorf("%w: give the key or its index: xcommand OptionKey Remove Key: \"<key>\" or Index: <n>", ErrBadRequest)
		}
		k, err := ok.Remove(v)
		if err != nil {
			return err
		}
		out.Result("OptionKeyRemoveResult Option", k.Option)
		return nil
	}
	return fmt.Errorf("%w: no OptionKey %s; the commands are Add and Remove", ErrBadRequest, rel[0])
}

// SelectBrand is Service Select's brand change as the xAPI and the web
// page make it: SetBrand, then, when that turned Smart Licensing on, the
// SmartLicensingEnabled hook, so the licensing agent starts at once. A
// hook that fails gives a warning; the conversion stands.
func SelectBrand(ctx context.Context, root string, b Brand, c clock.Clock, hooks Hooks) (warning string, err error) {
	before, err := SmartLicensingEnabled(root)
	if err != nil {
		return "", err
	}
	if err := SetBrand(root, b, c); err != nil {
		return "", err
	}
	if after, _ := SmartLicensingEnabled(root); after && !before && hooks.SmartLicensingEnabled != nil {
		hctx, cancel := context.WithTimeout(ctx, hookTimeout)
		err := hooks.SmartLicensingEnabled(hctx)
		cancel()
		if err != nil {
			return fmt.Sprintf("Smart Licensing is on; the licensing agent was not told (%v) and picks it up when it next starts", err), nil
		}
	}
	return "", nil
}

// ParseAlarmID reads an alarm id as typed (xcommand Alarm Acknowledge Id:
// or the web page's form).
func ParseAlarmID(s string) (int, error) {
	id, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: alarm id %q is not a number; xstatus Alarm lists the ids", ErrBadRequest, s)
	}
	return id, nil
}

func (h *handlers) alarmCommand(_ context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	if !xapi.PathIs(rel, "Acknowledge") {
		return fmt.Errorf("%w: no Alarm %s; the command is xcommand Alarm Acknowledge Id: <id>", ErrBadRequest, strings.Join(rel, " "))
	}
	v, ok := req.Arg("Id")
	if !ok {
		if p := req.Positional(); len(p) == 1 {
			v, ok = p[0], true
		}
	}
	if !ok {
		return fmt.Errorf("%w: give the alarm: xcommand Alarm Acknowledge Id: <id>", ErrBadRequest)
	}
	id, err := ParseAlarmID(v)
	if err != nil {
		return err
	}
	if err := NewAlarms(h.root, h.clock).Acknowledge(id); err != nil {
		return err
	}
	out.Result("Alarm Acknowledged", strconv.Itoa(id))
	return nil
}
