// Package xapi is the device's administrator API in the product's TAPI
// style: it parses xcommand, xconfiguration and xstatus lines, routes them to
// the component that owns the path, and writes the answer as `*s`, `*c` and
// `*r` lines ending in `OK`, or in a reason line and `ERROR`.
//
// Components register handlers on a Tree by path prefix; the admin shell and
// the one-shot xcommand / xconfiguration / xstatus programs dispatch to it.
package xapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the verb of a request.
type Kind int

// The three verbs.
const (
	Command Kind = iota + 1
	Configuration
	Status
)

// String reports the verb as the user types it.
func (k Kind) String() string {
	switch k {
	case Command:
		return "xcommand"
	case Configuration:
		return "xconfiguration"
	case Status:
		return "xstatus"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind maps a verb (any case, with or without the leading x) to a Kind.
func ParseKind(s string) (Kind, bool) {
	switch strings.ToLower(strings.TrimPrefix(strings.ToLower(s), "x")) {
	case "command":
		return Command, true
	case "configuration", "config":
		return Configuration, true
	case "status":
		return Status, true
	}
	return 0, false
}

// Arg is one argument of a request. Name is empty for a positional value,
// as in `Reservation Install "<code>"`.
type Arg struct {
	Name  string
	Value string
}

// Request is one parsed line.
type Request struct {
	Kind Kind
	// Path is the node addressed, e.g. License Smart Register.
	Path []string
	// Args are the arguments in the order given. For xconfiguration the
	// value being set is the single argument named after the last path
	// element (`Mode: Direct` gives Path [... Transport] and
	// Args [{Mode Direct}]); no args means "show".
	Args []Arg
}

// Arg reports the value of the named argument (case-insensitive) and
// whether it was given.
func (r *Request) Arg(name string) (string, bool) {
	for _, a := range r.Args {
		if strings.EqualFold(a.Name, name) {
			return a.Value, true
		}
	}
	return "", false
}

// Positional reports the values given without a name, in order.
func (r *Request) Positional() []string {
	var out []string
	for _, a := range r.Args {
		if a.Name == "" {
			out = append(out, a.Value)
		}
	}
	return out
}

// String renders the request as a line the shell would accept.
func (r *Request) String() string {
	var b strings.Builder
	b.WriteString(r.Kind.String())
	for _, p := range r.Path {
		b.WriteByte(' ')
		b.WriteString(p)
	}
	for _, a := range r.Args {
		b.WriteByte(' ')
		if a.Name != "" {
			b.WriteString(a.Name)
			b.WriteString(": ")
		}
		b.WriteString(Quote(a.Value))
	}
	return b.String()
}

// Limits on what a request may hold, so that a pasted 10 MB blob is refused
// before it reaches a component.
const (
	MaxLineBytes = 64 << 10
	MaxArgs      = 32
	MaxPathDepth = 16
)

// ErrSyntax marks a line that cannot be parsed.
var ErrSyntax = errors.New("syntax error")

// SplitLine splits a shell line into words, honouring double quotes (with
// \" and \\ escapes inside them) so that quoted values keep their spaces.
func SplitLine(line string) ([]string, error) {
	if len(line) > MaxLineBytes {
		return nil, fmt.Errorf("%w: line is %d bytes, the limit is %d", ErrSyntax, len(line), MaxLineBytes)
	}
	var words []string
	var cur strings.Builder
	inWord, inQuote := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\'):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			inQuote = !inQuote
			inWord = true
		case !inQuote && (c == ' ' || c == '\t' || c == '\r' || c == '\n'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("%w: a double quote is not closed", ErrSyntax)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// Parse builds a request from the words after the verb, as the shell split
// them: path words first, then `Name: value` pairs or bare values. A word
// ending in a colon (or holding one, as in `Token:abc`) starts an argument.
func Parse(kind Kind, words []string) (*Request, error) {
	req := &Request{Kind: kind}
	total := 0
	for _, w := range words {
		total += len(w) + 1
	}
	if total > MaxLineBytes {
		return nil, fmt.Errorf("%w: request is %d bytes, the limit is %d", ErrSyntax, total, MaxLineBytes)
	}
	i := 0
	for ; i < len(words); i++ {
		w := words[i]
		if strings.Contains(w, ":") || !isPathWord(w) {
			break
		}
		req.Path = append(req.Path, w)
	}
	for i < len(words) {
		w := words[i]
		name, value, hasColon := strings.Cut(w, ":")
		switch {
		case hasColon && isPathWord(name) && name != "":
			i++
			if value == "" {
				if i >= len(words) {
					return nil, fmt.Errorf("%w: %s: has no value; write %s: <value>", ErrSyntax, name, name)
				}
				value = words[i]
				i++
			}
			req.Args = append(req.Args, Arg{Name: name, Value: value})
		default:
			req.Args = append(req.Args, Arg{Value: w})
			i++
		}
		if len(req.Args) > MaxArgs {
			return nil, fmt.Errorf("%w: more than %d arguments; a value with spaces (such as an SLR authorization code) must be put in double quotes", ErrSyntax, MaxArgs)
		}
	}
	if len(req.Path) > MaxPathDepth {
		return nil, fmt.Errorf("%w: path deeper than %d", ErrSyntax, MaxPathDepth)
	}
	if kind == Configuration && len(req.Args) > 0 {
		if len(req.Args) != 1 || req.Args[0].Name == "" {
			return nil, fmt.Errorf("%w: xconfiguration sets one value: xconfiguration <path> <Leaf>: <value>", ErrSyntax)
		}
	}
	return req, nil
}

// ParseLine parses a whole shell line that starts with the verb.
func ParseLine(line string) (*Request, error) {
	words, err := SplitLine(line)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("%w: empty line", ErrSyntax)
	}
	kind, ok := ParseKind(words[0])
	if !ok {
		return nil, fmt.Errorf("%w: unknown verb %q; use xcommand, xconfiguration or xstatus", ErrSyntax, words[0])
	}
	return Parse(kind, words[1:])
}

func isPathWord(w string) bool {
	if w == "" {
		return false
	}
	for _, r := range w {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '_' && r != '.' {
			return false
		}
	}
	return true
}

// Quote renders a value the way TAPI prints strings: in double quotes, with
// quotes and backslashes escaped. It is the one place text reaches the
// admin's terminal through, and values often come from the network (a
// manager's reason, a certificate's names in a TLS error), so nothing in
// the result can move the cursor, change colours or retitle the window:
// every control character is escaped (\n, \r, \t, \e, or \xNN for the
// other C0 bytes and DEL; \u0080 to \u009f for the C1 controls), as are the
// Unicode line separators and bidirectional overrides (\uNNNN), and each
// byte of invalid UTF-8 shows as \xNN.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
			i++
			continue
		}
		i += size
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == 0x1b:
			b.WriteString(`\e`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f, hiddenControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// hiddenControl reports the Unicode characters that are not C0 or C1
// controls but still change how a terminal shows the text around them:
// the line and paragraph separators and the bidirectional marks,
// embeddings, overrides and isolates.
func hiddenControl(r rune) bool {
	switch {
	case r == 0x2028, r == 0x2029: // line, paragraph separator
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c: // LRM, RLM, ALM
		return true
	case r >= 0x202a && r <= 0x202e: // embeddings and overrides
		return true
	case r >= 0x2066 && r <= 0x2069: // isolates
		return true
	}
	return false
}

// Writer writes one answer. Methods record the first write error; Err
// reports it.
type Writer struct {
	w   io.Writer
	err error
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

func (w *Writer) line(s string) {
	if w.err != nil {
		return
	}
	_, w.err = io.WriteString(w.w, s+"\n")
}

// Status writes `*s <path>: "<value>"`.
func (w *Writer) Status(path, value string) { w.line("*s " + path + ": " + Quote(value)) }

// StatusInt writes `*s <path>: <n>`, numbers being unquoted in TAPI.
func (w *Writer) StatusInt(path string, n int64) { w.line(fmt.Sprintf("*s %s: %d", path, n)) }

// Config writes `*c xConfiguration <path>: <value>`; value is quoted when it
// is not a single plain word.
func (w *Writer) Config(path, value string) {
	v := value
	if !isPathWord(value) {
		v = Quote(value)
	}
	w.line("*c xConfiguration " + path + ": " + v)
}

// Result writes `*r <path>: "<value>"`.
func (w *Writer) Result(path, value string) { w.line("*r " + path + ": " + Quote(value)) }

// OK ends a successful answer.
func (w *Writer) OK() { w.line("OK") }

// Fail ends a failed answer: a reason line, then ERROR.
func (w *Writer) Fail(reason string) {
	w.line("*r Reason: " + Quote(reason))
	w.line("ERROR")
}

// Err reports the first write error.
func (w *Writer) Err() error { return w.err }

// Handler answers one request. It writes its `*s`/`*c`/`*r` lines and
// returns nil for OK or an error whose text is the reason shown to the
// user; the Tree writes the final OK / ERROR. Rel is the request's path
// below the prefix the handler was registered at.
type Handler func(ctx context.Context, req *Request, rel []string, out *Writer) error

// Tree routes requests to handlers by verb and path prefix.
type Tree struct {
	routes []route
}

type route struct {
	kind   Kind
	prefix []string
	h      Handler
}

// Handle registers h for requests of kind whose path starts with prefix
// (space-separated words, case-insensitive). The longest prefix wins.
func (t *Tree) Handle(kind Kind, prefix string, h Handler) {
	t.routes = append(t.routes, route{kind: kind, prefix: strings.Fields(prefix), h: h})
}

// ErrNotFound marks a path no component owns.
var ErrNotFound = errors.New("no such path")

// Serve answers req on out: with no path, an xstatus or xconfiguration
// request goes to every handler of that verb in prefix order (the whole
// status or configuration); otherwise to the longest matching prefix.
// It reports the handler's error after writing it as the reason.
func (t *Tree) Serve(ctx context.Context, req *Request, out *Writer) error {
	if len(req.Path) == 0 && req.Kind != Command && len(req.Args) == 0 {
		var all []route
		for _, r := range t.routes {
			if r.kind == req.Kind {
				all = append(all, r)
			}
		}
		sort.SliceStable(all, func(i, j int) bool {
			return strings.Join(all[i].prefix, " ") < strings.Join(all[j].prefix, " ")
		})
		for _, r := range all {
			if err := r.h(ctx, &Request{Kind: req.Kind, Path: r.prefix}, nil, out); err != nil {
				out.Fail(err.Error())
				return err
			}
		}
		out.OK()
		return out.Err()
	}
	var best *route
	for i := range t.routes {
		r := &t.routes[i]
		if r.kind != req.Kind || !hasPrefix(req.Path, r.prefix) {
			continue
		}
		if best == nil || len(r.prefix) > len(best.prefix) {
			best = r
		}
	}
	if best == nil {
		err := fmt.Errorf("%w: %s %s; try %s alone to list what exists", ErrNotFound, req.Kind, strings.Join(req.Path, " "), req.Kind)
		out.Fail(err.Error())
		return err
	}
	if err := best.h(ctx, req, req.Path[len(best.prefix):], out); err != nil {
		out.Fail(err.Error())
		return err
	}
	out.OK()
	return out.Err()
}

func hasPrefix(path, prefix []string) bool {
	if len(prefix) > len(path) {
		return false
	}
	for i := range prefix {
		if !strings.EqualFold(path[i], prefix[i]) {
			return false
		}
	}
	return true
}

// PathIs reports whether rel equals the given words, case-insensitively.
// Handlers use it to match the leaf they were asked for.
func PathIs(rel []string, words ...string) bool {
	return len(rel) == len(words) && hasPrefix(rel, words)
}
