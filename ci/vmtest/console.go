package vmtest

import (
	"bytes"
	"sync"
)

// console collects what the VM prints: the raw transcript, and a clean
// copy without ANSI escape sequences and carriage returns that markers are
// matched against.
type console struct {
	mu      sync.Mutex
	raw     bytes.Buffer
	clean   bytes.Buffer
	changed chan struct{} // closed and replaced on every write
	state   int           // escape-sequence parser state
	params  []byte        // parameters of the current CSI sequence
	// reply answers the terminal queries programs send, as a terminal
	// would: the cursor position request ESC[6n gets ESC[1;1R. Line
	// editors (gosh) wait for that answer and would eat typed input
	// otherwise.
	reply func(string)
}

func newConsole() *console {
	return &console{changed: make(chan struct{})}
}

const (
	stText = iota
	stEsc
	stCSI
	stOSC
)

func (c *console) Write(p []byte) (int, error) {
	var replies []string
	c.mu.Lock()
	c.raw.Write(p)
	for _, b := range p {
		switch c.state {
		case stText:
			switch b {
			case 0x1b:
				c.state = stEsc
			case '\r', 0:
			default:
				c.clean.WriteByte(b)
			}
		case stEsc:
			switch b {
			case '[':
				c.state = stCSI
				c.params = c.params[:0]
			case ']':
				c.state = stOSC
			default:
				c.state = stText
			}
		case stCSI:
			if b >= 0x40 && b <= 0x7e {
				c.state = stText
				if b == 'n' && string(c.params) == "6" {
					replies = append(replies, "\x1b[1;1R")
				}
			} else {
				c.params = append(c.params, b)
			}
		case stOSC:
			if b == 0x07 {
				c.state = stText
			} else if b == 0x1b {
				c.state = stEsc
			}
		}
	}
	close(c.changed)
	c.changed = make(chan struct{})
	reply := c.reply
	c.mu.Unlock()
	if reply != nil {
		for _, r := range replies {
			reply(r)
		}
	}
	return len(p), nil
}

// snapshot returns the clean text from offset and a channel closed on the
// next write.
func (c *console) snapshot(from int) (string, chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.clean.Bytes()
	if from > len(b) {
		from = len(b)
	}
	return string(b[from:]), c.changed
}

func (c *console) transcript() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clean.String()
}
