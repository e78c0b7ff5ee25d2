package factoryreset

import (
	"fmt"
	"path"
	"strings"

	"vxway/netsettings"
	"vxway/platform"
)

// Item is one thing the administrator can keep across a reset. The items
// are ordered as the prompts of the interactive dialogue.
type Item int

// The items, in prompt order.
const (
	BrandType Item = iota
	Licensing
	FIPS
	IP
	Management
	SSHKeys
	Certificates
	Passwords
	Logs
	OptionKeys
	itemCount
)

// Path is one piece of the data partition an item keeps.
type Path struct {
	// Pattern is slash-separated and relative to the device root. A
	// trailing slash names a directory, kept with everything below it.
	// The last element may hold path.Match wildcards.
	Pattern string
	// Fields, when set, means Pattern is a JSON object file of which only
	// these top-level fields are kept.
	Fields []string
}

// String shows the path as the plan prints it.
func (p Path) String() string {
	if len(p.Fields) == 0 {
		return p.Pattern
	}
	return p.Pattern + " (" + strings.Join(p.Fields, ", ") + ")"
}

// itemInfo is what the command line, the dialogue and the executor know
// about an item.
type itemInfo struct {
	name    string // stable name used in the request file
	flag    string // one-letter flag
	long    string // long flag
	prompt  string // dialogue question, without "[YES/NO]?"
	what    string // short description for plans and status
	paths   []Path
	vcsOnly bool
}

func (i Item) info() itemInfo {
	switch i {
	case BrandType:
		return itemInfo{"brand-type", "v", "keep-brand-type",
			"Keep brand and type of the device", "brand and type",
			[]Path{{Pattern: platform.SystemConfigPath, Fields: []string{"brand", "type", "smart_licensing_enabled", "smart_licensing_enabled_at"}}}, false}
	case Licensing:
		return itemInfo{"licensing", "t", "keep-licensing",
			"Keep smart licensing settings", "smart licensing settings and registration",
			[]Path{
				{Pattern: "data/licensing/"},
				{Pattern: path.Join(platform.AlarmDir, "3003[5-9].json")},
				{Pattern: path.Join(platform.AlarmDir, "3004[0-9].json")},
			}, false}
	case FIPS:
		return itemInfo{"fips", "f", "keep-fips",
			"Keep FIPS 140 configuration", "FIPS 140 configuration",
			[]Path{{Pattern: platform.FIPSConfigPath}}, false}
	case IP:
		return itemInfo{"ip", "i", "keep-ip",
			"Keep IP configuration", "IP configuration",
			[]Path{{Pattern: netsettings.ConfigPath}}, false}
	case Management:
		return itemInfo{"management", "m", "keep-management",
			"Keep dedicated management interface configuration", "dedicated management interface configuration",
			[]Path{{Pattern: platform.ManagementConfigPath}}, false}
	case SSHKeys:
		return itemInfo{"ssh-keys", "s", "keep-ssh-keys",
			"Keep ssh keys", "ssh host keys",
			[]Path{{Pattern: "data/ssh/"}}, false}
	case Certificates:
		return itemInfo{"certificates", "c", "keep-certificates",
			"Keep server certificate, associated key and CA trust store", "server certificate, key and CA trust store",
			[]Path{{Pattern: "data/certs/"}}, false}
	case Passwords:
		return itemInfo{"passwords", "p", "keep-passwords",
			"Keep root and admin passwords", "root and admin passwords",
			[]Path{{Pattern: platform.PasswdPath}}, false}
	case Logs:
		return itemInfo{"logs", "l", "keep-logs",
			"Save log files", "log files",
			[]Path{{Pattern: "data/log/"}}, false}
	case OptionKeys:
		return itemInfo{"option-keys", "o", "keep-option-keys",
			"Keep option keys", "option keys",
			[]Path{{Pattern: platform.OptionKeyDir + "/"}}, true}
	}
	panic(fmt.Sprintf("factoryreset: unknown item %d", int(i)))
}

// Items returns every item in prompt order, OptionKeys (VCS only) last.
func Items() []Item {
	all := make([]Item, 0, itemCount)
	for i := Item(0); i < itemCount; i++ {
		all = append(all, i)
	}
	return all
}

// ItemsFor returns the items that can be kept on a device of the given
// brand, in prompt order: option keys only on VCS.
func ItemsFor(brand platform.Brand) []Item {
	var items []Item
	for _, i := range Items() {
		if i.VCSOnly() && brand != platform.BrandVCS {
			continue
		}
		items = append(items, i)
	}
	return items
}

// Usage is the item's flag help line.
func (i Item) Usage() string {
	switch i {
	case BrandType:
		return "keep brand and type of the device (not kept: brand VCS, type Expressway-C)"
	case Licensing:
		return "keep smart licensing settings and registration (not kept: transport Direct on an Expressway)"
	case OptionKeys:
		return "keep option keys (VCS only: removed from the Expressway factory reset)"
	case Logs:
		return "save log files"
	}
	p := i.Prompt()
	return strings.ToLower(p[:1]) + p[1:]
}

// Name is the item's stable name in request and result files.
func (i Item) Name() string { return i.info().name }

// Flag is the item's one-letter command-line flag, without the dash.
func (i Item) Flag() string { return i.info().flag }

// LongFlag is the item's long command-line flag, without the dashes.
func (i Item) LongFlag() string { return i.info().long }

// Prompt is the question the dialogue asks for the item.
func (i Item) Prompt() string { return i.info().prompt }

// String describes the item in a few words.
func (i Item) String() string { return i.info().what }

// Paths lists what the item keeps on the data partition.
func (i Item) Paths() []Path { return i.info().paths }

// VCSOnly reports whether the item can be kept only on a VCS.
func (i Item) VCSOnly() bool { return i.info().vcsOnly }

// ParseItem returns the item with the given stable name.
func ParseItem(name string) (Item, error) {
	for _, i := range Items() {
		if i.Name() == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownItem, name)
}
