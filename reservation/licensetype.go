package reservation

import (
	"fmt"
	"strings"
	"time"
)

// LicenseType is one kind of license the product consumes.
type LicenseType string

// The license types of the product. Their names are the ones the manager
// CLI takes (`--license rms=10`).
const (
	RMS     LicenseType = "rms"     // Rich Media Session
	Room    LicenseType = "room"    // Room (TelePresence) registrations
	Desktop LicenseType = "desktop" // Desktop registrations
)

// licenseInfo is the fixed description of each type. The tags follow the
// ISO/IEC 19770-2 registration id form the vendor uses:
// regid.<date>.<reverse domain>.<product>_<feature>,<version>_<uuid>.
type licenseInfo struct {
	tag, display, description string
}

func (t LicenseType) info() (licenseInfo, bool) {
	switch t {
	case RMS:
		return licenseInfo{
			tag:         "regid.2016-07.com.cisco.Expressway_RMS,1.0_4c09f484-0fab-41d4-a352-39af69b93f3f",
			display:     "Expressway Rich Media Session License",
			description: "Expressway Rich Media Session License",
		}, true
	case Room:
		return licenseInfo{
			tag:         "regid.2016-07.com.cisco.Expressway_Room,1.0_cf7b7232-53e1-4564-8925-75784f6333a4",
			display:     "Expressway Room Registration License",
			description: "Expressway TelePresence Room System Registration License",
		}, true
	case Desktop:
		return licenseInfo{
			tag:         "regid.2016-07.com.cisco.Expressway_Desktop,1.0_d751053a-0d4c-4789-b401-6bb7ebb3e2f2",
			display:     "Expressway Desktop Registration License",
			description: "Expressway Desktop Endpoint Registration License",
		}, true
	}
	return licenseInfo{}, false
}

// LicenseTypes lists every license type, in display order.
func LicenseTypes() []LicenseType { return []LicenseType{RMS, Room, Desktop} }

// ParseLicenseType reads a type name (rms, room, desktop; any case).
func ParseLicenseType(s string) (LicenseType, error) {
	t := LicenseType(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := t.info(); !ok {
		return "", fmt.Errorf("%w: unknown license type %q; want rms, room or desktop", ErrMalformed, s)
	}
	return t, nil
}

// LicenseTypeOfTag reports the type whose entitlement tag is tag.
func LicenseTypeOfTag(tag string) (LicenseType, bool) {
	for _, t := range LicenseTypes() {
		if i, _ := t.info(); i.tag == tag {
			return t, true
		}
	}
	return "", false
}

// Tag reports the entitlement tag of t ("" for an unknown type).
func (t LicenseType) Tag() string { i, _ := t.info(); return i.tag }

// DisplayName reports the name shown for t, e.g. "Expressway Rich Media
// Session License".
func (t LicenseType) DisplayName() string { i, _ := t.info(); return i.display }

// Description reports the tag description of t.
func (t LicenseType) Description() string { i, _ := t.info(); return i.description }

// Entitlement makes an entitlement of count licenses of type t. With zero
// start and end it is PERPETUAL; otherwise it is a TERM from the start
// date to the end date (both days included, UTC).
func (t LicenseType) Entitlement(count int, start, end time.Time) Entitlement {
	e := Entitlement{Tag: t.Tag(), Count: count, Validity: Perpetual, DisplayName: t.DisplayName(), TagDescription: t.Description()}
	if !start.IsZero() || !end.IsZero() {
		e.Validity = Term
		e.Start, e.End = day(start), day(end)
	}
	return e
}
