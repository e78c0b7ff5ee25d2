package factoryreset

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"vxway/platform"
)

// Errors callers branch on.
var (
	// ErrOptionKeysRemoved: -o was asked for on an Expressway.
	ErrOptionKeysRemoved = errors.New("flag -o (keep option keys) was removed from the Expressway factory reset: Expressway uses Smart Licensing, not option keys (an MS Interop option key is kept anyway); run factory-reset without -o")
	// ErrUnknownItem: a request names an item this version does not know.
	ErrUnknownItem = errors.New("unknown keep item")
)

// Plan is what a reset keeps: the keep-set, for a device of a given brand.
// Everything on the data partition that no kept item names is wiped;
// persist is never touched.
type Plan struct {
	// Brand is the device's brand when the reset was asked for.
	Brand platform.Brand
	// Keep lists the kept items in prompt order, each once.
	Keep []Item
}

// NewPlan returns the plan keeping the given items on a device of brand.
// Option keys can be kept only on a VCS.
func NewPlan(brand platform.Brand, keep ...Item) (Plan, error) {
	if _, err := platform.ParseBrand(string(brand)); err != nil {
		return Plan{}, err
	}
	for _, i := range keep {
		if i < 0 || i >= itemCount {
			return Plan{}, fmt.Errorf("%w: %d", ErrUnknownItem, int(i))
		}
	}
	p := Plan{Brand: brand}
	for _, i := range Items() {
		if !slices.Contains(keep, i) {
			continue
		}
		if i.VCSOnly() && brand != platform.BrandVCS {
			return Plan{}, ErrOptionKeysRemoved
		}
		p.Keep = append(p.Keep, i)
	}
	return p, nil
}

// Keeps reports whether the plan keeps item i.
func (p Plan) Keeps(i Item) bool { return slices.Contains(p.Keep, i) }

// Wiped lists the items of the device's brand that the plan does not keep.
func (p Plan) Wiped() []Item {
	var w []Item
	for _, i := range ItemsFor(p.Brand) {
		if !p.Keeps(i) {
			w = append(w, i)
		}
	}
	return w
}

// Paths lists every path the plan keeps, in item order.
func (p Plan) Paths() []Path {
	var paths []Path
	for _, i := range p.Keep {
		paths = append(paths, i.Paths()...)
	}
	return paths
}

// FinalBrand is the brand the device has after the reset.
func (p Plan) FinalBrand() platform.Brand {
	if p.Keeps(BrandType) {
		return p.Brand
	}
	return platform.DefaultBrand
}

// Outcome is something a reset does or leads to beyond keeping and wiping.
type Outcome interface {
	String() string
}

// SetServiceSelect writes the brand and type into data/config/system.json
// after the data filesystem is recreated.
type SetServiceSelect struct {
	Brand platform.Brand
	Type  platform.Type
}

func (o SetServiceSelect) String() string {
	return fmt.Sprintf("brand %s, type %s written to data/config/system.json", o.Brand, o.Type)
}

// Note is an outcome that follows from what is kept and wiped, with no
// action of its own.
type Note string

func (n Note) String() string { return string(n) }

// Outcomes lists what the reset leads to, in the order it is applied.
func (p Plan) Outcomes() []Outcome {
	var out []Outcome
	if p.Keeps(BrandType) {
		out = append(out, Note(fmt.Sprintf("brand and type kept (brand %s)", p.Brand)))
	} else {
		out = append(out, SetServiceSelect{Brand: platform.DefaultBrand, Type: platform.DefaultType})
	}
	switch {
	case p.Keeps(Licensing) && p.FinalBrand() == platform.BrandExpressway:
		out = append(out, Note("Smart Licensing settings and registration preserved; the device reports offline (alarms 30042, 30044) until DNS is configured"))
	case p.Keeps(Licensing):
		out = append(out, Note("Smart Licensing settings and registration preserved; unused while the brand is VCS (Service Select to Expressway turns Smart Licensing on with them)"))
	case p.FinalBrand() == platform.BrandExpressway:
		out = append(out, Note("Smart Licensing settings and registration removed: Smart Licensing on, transport Direct, not registered"))
	default:
		out = append(out, Note("Smart Licensing settings and registration removed: VCS uses option keys"))
	}
	out = append(out,
		Note("an MS Interop option key is kept (persist/optionkeys)"),
		Note("the evaluation period is not restarted (persist/licensing)"),
		Note("device identity (UDI serial) unchanged (persist/identity.json)"),
	)
	return out
}

// String describes the plan for --dry-run and the confirmation screen.
func (p Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Factory reset plan (device brand %s)\n", p.Brand)
	b.WriteString("Keep:\n")
	if len(p.Keep) == 0 {
		b.WriteString("  nothing\n")
	}
	for _, i := range p.Keep {
		fmt.Fprintf(&b, "  %s (-%s): %s\n", i, i.Flag(), joinPaths(i.Paths()))
	}
	b.WriteString("Wipe:\n")
	for _, i := range p.Wiped() {
		fmt.Fprintf(&b, "  %s (-%s): %s\n", i, i.Flag(), joinPaths(i.Paths()))
	}
	b.WriteString("  everything else on the data partition\n")
	b.WriteString("After the reset:\n")
	for _, o := range p.Outcomes() {
		fmt.Fprintf(&b, "  %s\n", o)
	}
	return b.String()
}

func joinPaths(paths []Path) string {
	s := make([]string, len(paths))
	for k, p := range paths {
		s[k] = p.String()
	}
	return strings.Join(s, ", ")
}

// StageSize is how many bytes staging the plan's kept items would write
// on persist, counting the files under root as they are now.
func (p Plan) StageSize(root string) (int64, error) {
	var total int64
	for _, kp := range p.Paths() {
		rels, err := expand(root, kp)
		if err != nil {
			return 0, err
		}
		for _, rel := range rels {
			err := filepath.WalkDir(filepath.Join(root, filepath.FromSlash(rel)), func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				fi, err := d.Info()
				if err != nil {
					return err
				}
				// Round up to 4 KiB blocks, as ext4 stores them.
				total += (fi.Size() + 4095) &^ 4095
				return nil
			})
			if err != nil {
				return 0, fmt.Errorf("measuring %s: %w", rel, err)
			}
		}
	}
	return total, nil
}
