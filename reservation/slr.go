package reservation

import (
	"bytes"
	"encoding/asn1"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// MaxSLRBytes is the largest SLR code accepted, the same as the longest
// line the xAPI shell takes. Larger input is refused before it is parsed.
const MaxSLRBytes = 64 << 10

// Limits of the SLR XML form.
const (
	maxXMLDepth     = 5 // specificPLR > authorizationCode > entitlements > entitlement > tag
	maxEntitlements = 64
	maxLeafBytes    = 256
	maxCount        = 1_000_000
)

// dateLayout is the manager's date form, e.g. 2021-May-11 UTC.
const dateLayout = "2006-Jan-02 UTC"

// Validity says whether an entitlement runs between dates or forever.
type Validity string

// The validities of the SLR code's licenseType element.
const (
	Term      Validity = "TERM"      // from Start to End, both days included
	Perpetual Validity = "PERPETUAL" // no dates
)

// Entitlement is one reserved license line of an SLR code.
type Entitlement struct {
	Tag            string // entitlement tag, see LicenseType.Tag
	Count          int
	Validity       Validity
	Start, End     time.Time // TERM only: first and last day (midnight UTC); zero for PERPETUAL
	DisplayName    string
	TagDescription string
}

// LicenseType reports the product license type of e, false for a tag
// this product does not know (shown as Invalid-tag).
func (e Entitlement) LicenseType() (LicenseType, bool) { return LicenseTypeOfTag(e.Tag) }

// Expired reports whether a TERM entitlement's last day is over at now.
func (e Entitlement) Expired(now time.Time) bool {
	return e.Validity == Term && !now.Before(e.End.AddDate(0, 0, 1))
}

// Started reports whether e's first day has come at now.
func (e Entitlement) Started(now time.Time) bool {
	return e.Validity == Perpetual || !now.Before(e.Start)
}

// ActiveAt reports whether e may be used at now.
func (e Entitlement) ActiveAt(now time.Time) bool { return e.Started(now) && !e.Expired(now) }

// Validate reports whether e can be put in an SLR code.
func (e Entitlement) Validate() error {
	if err := checkTag(e.Tag); err != nil {
		return err
	}
	if e.Count < 1 || e.Count > maxCount {
		return fmt.Errorf("%w: count %d of %s must be between 1 and %d", ErrMalformed, e.Count, e.Tag, maxCount)
	}
	switch e.Validity {
	case Perpetual:
		if !e.Start.IsZero() || !e.End.IsZero() {
			return fmt.Errorf("%w: PERPETUAL entitlement %s has dates", ErrMalformed, e.Tag)
		}
	case Term:
		if e.Start.IsZero() || e.End.IsZero() {
			return fmt.Errorf("%w: TERM entitlement %s needs a start and an end date", ErrMalformed, e.Tag)
		}
		if !e.Start.Equal(day(e.Start)) || !e.End.Equal(day(e.End)) {
			return fmt.Errorf("%w: dates of %s must be whole days (midnight UTC)", ErrMalformed, e.Tag)
		}
		if e.End.Before(e.Start) {
			return fmt.Errorf("%w: entitlement %s ends (%s) before it starts (%s)", ErrMalformed, e.Tag, e.End.Format(dateLayout), e.Start.Format(dateLayout))
		}
		if e.Start.Year() < 2000 || e.End.Year() > 9999 {
			return fmt.Errorf("%w: dates of %s must lie between the years 2000 and 9999", ErrMalformed, e.Tag)
		}
	default:
		return fmt.Errorf("%w: licenseType %q of %s: want TERM or PERPETUAL", ErrMalformed, e.Validity, e.Tag)
	}
	if err := checkText("displayName", e.DisplayName); err != nil {
		return err
	}
	return checkText("tagDescription", e.TagDescription)
}

func checkEntitlements(ents []Entitlement) error {
	if len(ents) == 0 {
		return fmt.Errorf("%w: an SLR code reserves at least one license", ErrMalformed)
	}
	if len(ents) > maxEntitlements {
		return fmt.Errorf("%w: %d entitlements, the limit is %d", ErrMalformed, len(ents), maxEntitlements)
	}
	seen := map[string]bool{}
	for _, e := range ents {
		if err := e.Validate(); err != nil {
			return err
		}
		if seen[e.Tag] {
			return fmt.Errorf("%w: entitlement %s appears twice", ErrMalformed, e.Tag)
		}
		seen[e.Tag] = true
	}
	return nil
}

// day truncates t to midnight UTC of its day.
func day(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func checkTag(tag string) error {
	if !strings.HasPrefix(tag, "regid.") || len(tag) > 200 {
		return fmt.Errorf("%w: entitlement tag %.200q must start with \"regid.\" and be at most 200 characters", ErrMalformed, tag)
	}
	for i := 0; i < len(tag); i++ {
		if c := tag[i]; !isAlnum(c) && !strings.ContainsRune("._,-", rune(c)) {
			return fmt.Errorf("%w: entitlement tag %q has a character %q that is not allowed", ErrMalformed, tag, c)
		}
	}
	return nil
}

func checkText(what, s string) error {
	if s == "" || len(s) > maxLeafBytes {
		return fmt.Errorf("%w: %s must have 1 to %d bytes", ErrMalformed, what, maxLeafBytes)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("%w: %s %q has a character that is not printable", ErrMalformed, what, s)
		}
	}
	return nil
}

// canonicalSLR is the byte form of the authorizationCode element the
// manager signs: fixed element order, no white space between elements,
// text escaped by encoding/xml. A device parses whatever layout it was
// given and rebuilds this form before it checks the signature.
func canonicalSLR(c *AuthorizationCode) []byte {
	var b bytes.Buffer
	flag := "N"
	if c.ExportControl {
		flag = "A"
	}
	b.WriteString("<authorizationCode>")
	leaf(&b, "flag", flag)
	leaf(&b, "version", slrVersion)
	leaf(&b, "piid", c.PIID)
	leaf(&b, "timestamp", strconv.FormatInt(c.Issued.UnixMilli(), 10))
	b.WriteString("<entitlements>")
	for _, e := range c.Entitlements {
		b.WriteString("<entitlement>")
		leaf(&b, "tag", e.Tag)
		leaf(&b, "count", strconv.Itoa(e.Count))
		leaf(&b, "startDate", formatDate(e.Start))
		leaf(&b, "endDate", formatDate(e.End))
		leaf(&b, "licenseType", string(e.Validity))
		leaf(&b, "displayName", e.DisplayName)
		leaf(&b, "tagDescription", e.TagDescription)
		b.WriteString("</entitlement>")
	}
	b.WriteString("</entitlements></authorizationCode>")
	return b.Bytes()
}

const slrVersion = "C"

func leaf(b *bytes.Buffer, name, text string) {
	b.WriteString("<" + name + ">")
	xml.EscapeText(b, []byte(text))
	b.WriteString("</" + name + ">")
}

func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(dateLayout)
}

// formatSLR writes the whole SLR code around the canonical
// authorizationCode body: signature (base64 of the DER ECDSA signature)
// and UDI.
func formatSLR(body []byte, r, s *big.Int, udi UDI) string {
	der, err := asn1.Marshal(ecdsaSig{R: r, S: s})
	if err != nil {
		// Marshal fails only for nil integers, which a verified or
		// freshly made signature never has.
		der = nil
	}
	var b bytes.Buffer
	b.WriteString("<specificPLR>")
	b.Write(body)
	leaf(&b, "signature", base64.StdEncoding.EncodeToString(der))
	leaf(&b, "udi", udi.String())
	b.WriteString("</specificPLR>")
	return b.String()
}

type ecdsaSig struct {
	R, S *big.Int
}

// node is one element of the SLR XML, as read.
type node struct {
	name     string
	text     strings.Builder
	children []*node
}

// parseSLR reads the SLR XML form. It is strict: no declarations, DTDs,
// entities (beyond the five XML predefines), comments, processing
// instructions, attributes or namespaces; elements nest at most
// maxXMLDepth deep; only the elements of the format appear, each once
// where once is expected.
func parseSLR(s string) (*AuthorizationCode, error) {
	if len(s) > MaxSLRBytes {
		return nil, fmt.Errorf("%w: SLR code is %d bytes, the limit is %d", ErrOversized, len(s), MaxSLRBytes)
	}
	if err := refuseMarkup(s); err != nil {
		return nil, err
	}
	root, err := readXML(s)
	if err != nil {
		return nil, err
	}
	if root.name != "specificPLR" {
		return nil, fmt.Errorf("%w: SLR code's top element is <%s>, want <specificPLR>", ErrMalformed, root.name)
	}
	top, err := fields(root, "authorizationCode", "signature", "udi")
	if err != nil {
		return nil, err
	}
	c := &AuthorizationCode{Kind: SLR}
	if err := readAuthorization(top["authorizationCode"], c); err != nil {
		return nil, err
	}
	u, err := ParseUDI(leafText(top["udi"]))
	if err != nil {
		return nil, fmt.Errorf("SLR code <udi>: %w", err)
	}
	if u.String() != leafText(top["udi"]) {
		return nil, fmt.Errorf("%w: SLR code <udi> is not written as %s", ErrMalformed, u)
	}
	c.UDI = u
	c.r, c.s, err = readSignature(leafText(top["signature"]))
	if err != nil {
		return nil, err
	}
	c.body = canonicalSLR(c)
	return c, nil
}

// refuseMarkup rejects, before any parsing, the XML constructs the format
// never uses and that XML attacks are built from.
func refuseMarkup(s string) error {
	u := strings.ToUpper(s)
	switch {
	case strings.Contains(u, "<!DOCTYPE"):
		return fmt.Errorf("%w: SLR code holds a <!DOCTYPE> declaration; document type definitions are not allowed", ErrMalformed)
	case strings.Contains(u, "<!ENTITY"):
		return fmt.Errorf("%w: SLR code holds an <!ENTITY> declaration; entities are not allowed", ErrMalformed)
	case strings.Contains(s, "<!"):
		return fmt.Errorf("%w: SLR code holds a comment, CDATA section or declaration (<!...); none are allowed", ErrMalformed)
	case strings.Contains(s, "<?"):
		return fmt.Errorf("%w: SLR code holds an XML declaration or processing instruction (<?...?>); none are allowed", ErrMalformed)
	}
	return nil
}

func readXML(s string) (*node, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	var root *node
	var stack []*node
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: SLR code is not well-formed XML: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, fmt.Errorf("%w: SLR code has more after </%s>", ErrMalformed, root.name)
			}
			if len(stack) >= maxXMLDepth {
				return nil, fmt.Errorf("%w: SLR code nests elements deeper than %d levels", ErrMalformed, maxXMLDepth)
			}
			if t.Name.Space != "" {
				return nil, fmt.Errorf("%w: SLR code element <%s:%s> has a namespace; none are allowed", ErrMalformed, t.Name.Space, t.Name.Local)
			}
			if len(t.Attr) > 0 {
				return nil, fmt.Errorf("%w: SLR code element <%s> has attributes; none are allowed", ErrMalformed, t.Name.Local)
			}
			n := &node{name: t.Name.Local}
			if len(stack) == 0 {
				root = n
			} else {
				p := stack[len(stack)-1]
				if len(p.children) >= maxEntitlements {
					return nil, fmt.Errorf("%w: SLR code element <%s> has more than %d children", ErrMalformed, p.name, maxEntitlements)
				}
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, fmt.Errorf("%w: SLR code has text outside <specificPLR>", ErrMalformed)
				}
				continue
			}
			n := stack[len(stack)-1]
			if n.text.Len()+len(t) > maxLeafBytes*4 {
				return nil, fmt.Errorf("%w: SLR code element <%s> holds too much text", ErrMalformed, n.name)
			}
			n.text.Write(t)
		default:
			return nil, fmt.Errorf("%w: SLR code holds XML other than elements and text", ErrMalformed)
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%w: SLR code has no <specificPLR> element", ErrMalformed)
	}
	return root, nil
}

// fields checks that n holds exactly the named child elements, each once
// and no text, and returns them by name.
func fields(n *node, names ...string) (map[string]*node, error) {
	if strings.TrimSpace(n.text.String()) != "" {
		return nil, fmt.Errorf("%w: SLR code element <%s> holds text besides its elements", ErrMalformed, n.name)
	}
	want := map[string]bool{}
	for _, nm := range names {
		want[nm] = true
	}
	got := map[string]*node{}
	for _, c := range n.children {
		if !want[c.name] {
			return nil, fmt.Errorf("%w: SLR code element <%s> is not allowed in <%s>; it holds %s", ErrMalformed, c.name, n.name, list(names))
		}
		if got[c.name] != nil {
			return nil, fmt.Errorf("%w: SLR code element <%s> appears twice in <%s>", ErrMalformed, c.name, n.name)
		}
		if isLeaf(c.name) && len(c.children) > 0 {
			return nil, fmt.Errorf("%w: SLR code element <%s> must hold only text", ErrMalformed, c.name)
		}
		got[c.name] = c
	}
	for _, nm := range names {
		if got[nm] == nil {
			return nil, fmt.Errorf("%w: SLR code element <%s> has no <%s>", ErrMalformed, n.name, nm)
		}
	}
	return got, nil
}

func isLeaf(name string) bool {
	switch name {
	case "specificPLR", "authorizationCode", "entitlements", "entitlement":
		return false
	}
	return true
}

func list(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("<" + n + ">")
	}
	return b.String()
}

func leafText(n *node) string { return strings.TrimSpace(n.text.String()) }

func readAuthorization(n *node, c *AuthorizationCode) error {
	f, err := fields(n, "flag", "version", "piid", "timestamp", "entitlements")
	if err != nil {
		return err
	}
	switch flag := leafText(f["flag"]); flag {
	case "A":
		c.ExportControl = true
	case "N":
	default:
		return fmt.Errorf("%w: SLR code <flag> %q: want A (export-controlled functionality allowed) or N (not allowed)", ErrMalformed, flag)
	}
	if v := leafText(f["version"]); v != slrVersion {
		return fmt.Errorf("%w: SLR code <version> %q is not supported; want %s", ErrMalformed, v, slrVersion)
	}
	c.PIID = leafText(f["piid"])
	if !isUUID(c.PIID) {
		return fmt.Errorf("%w: SLR code <piid> %q is not a lower-case UUID", ErrMalformed, c.PIID)
	}
	ts := leafText(f["timestamp"])
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ms <= 0 || ms > maxTimestamp || strconv.FormatInt(ms, 10) != ts {
		return fmt.Errorf("%w: SLR code <timestamp> %q is not a time in milliseconds", ErrMalformed, ts)
	}
	c.Issued = time.UnixMilli(ms).UTC()
	ents := f["entitlements"]
	if strings.TrimSpace(ents.text.String()) != "" {
		return fmt.Errorf("%w: SLR code element <entitlements> holds text besides its elements", ErrMalformed)
	}
	for i, en := range ents.children {
		if en.name != "entitlement" {
			return fmt.Errorf("%w: SLR code element <%s> is not allowed in <entitlements>; it holds <entitlement>", ErrMalformed, en.name)
		}
		e, err := readEntitlement(en)
		if err != nil {
			return fmt.Errorf("SLR code entitlement %d: %w", i+1, err)
		}
		c.Entitlements = append(c.Entitlements, e)
	}
	return checkEntitlements(c.Entitlements)
}

func readEntitlement(n *node) (Entitlement, error) {
	f, err := fields(n, "tag", "count", "startDate", "endDate", "licenseType", "displayName", "tagDescription")
	if err != nil {
		return Entitlement{}, err
	}
	e := Entitlement{
		Tag:            leafText(f["tag"]),
		Validity:       Validity(leafText(f["licenseType"])),
		DisplayName:    leafText(f["displayName"]),
		TagDescription: leafText(f["tagDescription"]),
	}
	cs := leafText(f["count"])
	e.Count, err = strconv.Atoi(cs)
	if err != nil || strconv.Itoa(e.Count) != cs {
		return Entitlement{}, fmt.Errorf("%w: <count> %q is not a whole number (digits only, no leading zeros)", ErrMalformed, cs)
	}
	if e.Start, err = parseDate("startDate", leafText(f["startDate"])); err != nil {
		return Entitlement{}, err
	}
	if e.End, err = parseDate("endDate", leafText(f["endDate"])); err != nil {
		return Entitlement{}, err
	}
	return e, e.Validate()
}

func parseDate(what, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil || t.Format(dateLayout) != s {
		return time.Time{}, fmt.Errorf("%w: <%s> %q is not a date like 2021-May-11 UTC", ErrMalformed, what, s)
	}
	return t, nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isLowerHex(s[i]) {
				return false
			}
		}
	}
	return true
}

// readSignature decodes the base64 DER ECDSA signature, accepting only
// its one canonical encoding.
func readSignature(b64 string) (r, s *big.Int, err error) {
	der, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(der) > 80 {
		return nil, nil, fmt.Errorf("%w: SLR code <signature> is not a base64 ECDSA signature", ErrMalformed)
	}
	var sig ecdsaSig
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) > 0 {
		return nil, nil, fmt.Errorf("%w: SLR code <signature> is not a DER ECDSA signature", ErrMalformed)
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 {
		return nil, nil, fmt.Errorf("%w: SLR code <signature> has a non-positive value", ErrMalformed)
	}
	again, err := asn1.Marshal(sig)
	if err != nil || !bytes.Equal(again, der) {
		return nil, nil, fmt.Errorf("%w: SLR code <signature> is not in canonical DER", ErrMalformed)
	}
	return sig.R, sig.S, nil
}
