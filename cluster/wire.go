package cluster

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode"
)

// The peer messages: one JSON object per line, at most maxMessage bytes,
// unknown fields refused. A request carries a sequence number its answer
// repeats.

// maxMessage caps one message line, newline included.
const maxMessage = 16 << 10

// maxLoans caps the loans a message names, and the loans one borrower
// may hold from one lender.
const maxLoans = 128

// maxCount caps the licenses one loan or one request counts.
const maxCount = 1_000_000

// Operations.
const (
	opBorrow = "borrow" // lend Count licenses of Type (or fewer)
	opRenew  = "renew"  // renew Loans (the heartbeat: Loans may be empty)
	opReturn = "return" // Loans go back, each with the Count returned
	opAnswer = "answer"
)

// errMessage is wrapped by every refusal of a malformed message.
var errMessage = errors.New("malformed peer message")

// message is every peer message.
type message struct {
	Seq   uint64     `json:"seq"`
	Op    string     `json:"op"`
	Type  string     `json:"type,omitempty"`
	Count int        `json:"count,omitempty"`
	Loans []wireLoan `json:"loans,omitempty"`
	// LeaseMS is the lender's lease, in answers.
	LeaseMS int64 `json:"lease_ms,omitempty"`
	// Refused is set in an answer to a request the peer would not
	// carry out (its reason stays in the peer's log).
	Refused bool `json:"refused,omitempty"`
}

// wireLoan is one loan: its id, license type and count.
type wireLoan struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Count int    `json:"count"`
}

// hello is the first message each way: the sender's node name and its
// proof of the cluster secret (link.go).
type hello struct {
	Version int    `json:"v"`
	Node    string `json:"node"`
	// Instance is a random id the sender draws at start: two nodes
	// that announce the same name (cloned VMs with one serial) still
	// differ by it, so a lender never mixes their loans.
	Instance string `json:"instance,omitempty"`
	Proof    string `json:"proof"`
}

// protocolVersion is hello's Version.
const protocolVersion = 1

// readLine reads one line of at most max bytes (newline included).
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(line)+len(frag) > max {
			return nil, fmt.Errorf("%w: longer than %d bytes", errMessage, max)
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return nil, fmt.Errorf("%w: cut short", errMessage)
		default:
			return nil, err
		}
	}
}

// decodeStrict decodes one JSON value from b, refusing unknown fields
// and trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", errMessage, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the message", errMessage)
	}
	return nil
}

// decodeMessage parses and checks one message line: the operation is
// known, types are among types, counts and loans are in range.
func decodeMessage(b []byte, types []string) (message, error) {
	var m message
	if err := decodeStrict(b, &m); err != nil {
		return message{}, err
	}
	known := func(t string) bool {
		for _, k := range types {
			if t == k {
				return true
			}
		}
		return false
	}
	switch m.Op {
	case opBorrow:
		if !known(m.Type) {
			return message{}, fmt.Errorf("%w: unknown license type %q", errMessage, m.Type)
		}
		if m.Count < 1 || m.Count > maxCount {
			return message{}, fmt.Errorf("%w: count %d", errMessage, m.Count)
		}
	case opRenew, opReturn, opAnswer:
		if m.Type != "" && !known(m.Type) {
			return message{}, fmt.Errorf("%w: unknown license type %q", errMessage, m.Type)
		}
	default:
		return message{}, fmt.Errorf("%w: unknown operation %q", errMessage, m.Op)
	}
	if len(m.Loans) > maxLoans {
		return message{}, fmt.Errorf("%w: %d loans", errMessage, len(m.Loans))
	}
	for _, l := range m.Loans {
		if !validID(l.ID) {
			return message{}, fmt.Errorf("%w: loan id %q", errMessage, l.ID)
		}
		if l.Type != "" && !known(l.Type) {
			return message{}, fmt.Errorf("%w: unknown license type %q", errMessage, l.Type)
		}
		if l.Count < 0 || l.Count > maxCount {
			return message{}, fmt.Errorf("%w: loan count %d", errMessage, l.Count)
		}
	}
	if m.LeaseMS < 0 || m.LeaseMS > MaxLease.Milliseconds() {
		return message{}, fmt.Errorf("%w: lease %d ms", errMessage, m.LeaseMS)
	}
	if m.Count < 0 || m.Count > maxCount {
		return message{}, fmt.Errorf("%w: count %d", errMessage, m.Count)
	}
	return m, nil
}

// decodeHello parses and checks a hello line.
func decodeHello(b []byte) (hello, error) {
	var h hello
	if err := decodeStrict(b, &h); err != nil {
		return hello{}, err
	}
	if h.Version != protocolVersion {
		return hello{}, fmt.Errorf("%w: protocol version %d; this node speaks %d", errMessage, h.Version, protocolVersion)
	}
	if err := checkNodeName(h.Node); err != nil {
		return hello{}, err
	}
	if h.Instance != "" && !validID(h.Instance) {
		return hello{}, fmt.Errorf("%w: instance is not %d hex digits", errMessage, idLen)
	}
	if p, err := hex.DecodeString(h.Proof); err != nil || len(p) != proofLen {
		return hello{}, fmt.Errorf("%w: proof is not %d hex bytes", errMessage, proofLen)
	}
	return h, nil
}

// checkNodeName accepts 1 to 64 printable characters.
func checkNodeName(s string) error {
	if s == "" || len(s) > maxNameLen {
		return fmt.Errorf("%w: node name of %d bytes", errMessage, len(s))
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: node name holds a control character", errMessage)
		}
	}
	return nil
}

// idLen is a loan id's length: 16 hex digits.
const idLen = 16

func validID(s string) bool {
	if len(s) != idLen {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// encodeLine is v as one JSON line.
func encodeLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding a peer message: %w", err)
	}
	if len(b)+1 > maxMessage {
		return nil, fmt.Errorf("encoding a peer message: %d bytes is over the %d-byte cap", len(b)+1, maxMessage)
	}
	return append(b, '\n'), nil
}
