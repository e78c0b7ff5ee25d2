// Package xshell is the administrator's xAPI shell: it builds the device's
// xAPI tree from every component and serves xcommand, xconfiguration and
// xstatus lines on it, either one request per program run (the one-shot
// xcommand / xconfiguration / xstatus programs) or line by line in the
// interactive shell that the admin account logs in to.
package xshell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"vxway/xapi"
)

// Prompt is what the interactive shell prints before reading a line.
const Prompt = "xshell> "

// ErrFailed marks a request answered with ERROR.
var ErrFailed = errors.New("request failed")

// RunArgs serves one request given as program arguments, the way a shell
// already split them (`xstatus SystemUnit Uptime`). It reports ErrFailed
// (wrapping the reason) when the answer is ERROR.
func RunArgs(ctx context.Context, tree *xapi.Tree, kind xapi.Kind, args []string, out io.Writer) error {
	w := xapi.NewWriter(out)
	req, err := xapi.Parse(kind, args)
	if err != nil {
		w.Fail(err.Error())
		return errors.Join(fmt.Errorf("%w: %w", ErrFailed, err), w.Err())
	}
	return serve(ctx, tree, req, w)
}

// RunLine serves one shell line that starts with its verb.
func RunLine(ctx context.Context, tree *xapi.Tree, line string, out io.Writer) error {
	w := xapi.NewWriter(out)
	req, err := xapi.ParseLine(line)
	if err != nil {
		w.Fail(err.Error())
		return errors.Join(fmt.Errorf("%w: %w", ErrFailed, err), w.Err())
	}
	return serve(ctx, tree, req, w)
}

func serve(ctx context.Context, tree *xapi.Tree, req *xapi.Request, w *xapi.Writer) error {
	if req.Kind == xapi.Command && len(req.Path) == 0 {
		err := fmt.Errorf("%w: xcommand needs the command's path, as in xcommand OptionKey Add Key: \"<key>\"; type help in xshell for more", xapi.ErrNotFound)
		w.Fail(err.Error())
		return errors.Join(fmt.Errorf("%w: %w", ErrFailed, err), w.Err())
	}
	if err := tree.Serve(ctx, req, w); err != nil {
		return errors.Join(fmt.Errorf("%w: %w", ErrFailed, err), w.Err())
	}
	return w.Err()
}

// Shell is an interactive session.
type Shell struct {
	Tree *xapi.Tree
	In   io.Reader
	Out  io.Writer
	// Prompt is printed before each line; empty means none.
	Prompt string

	failed int
}

// Failed reports how many requests of the session answered ERROR.
func (s *Shell) Failed() int { return s.failed }

// Run reads lines until exit, quit or end of input (Ctrl-D) and answers
// each. A failed request does not end the session.
func (s *Shell) Run(ctx context.Context) error {
	r := bufio.NewReader(s.In)
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if s.Prompt != "" {
			if _, err := io.WriteString(s.Out, s.Prompt); err != nil {
				return err
			}
		}
		line, tooLong, err := readLine(r, xapi.MaxLineBytes)
		if errors.Is(err, io.EOF) && line == "" {
			if s.Prompt == "" {
				return nil
			}
			// End the prompt's line, as Ctrl-D leaves the cursor on it.
			_, werr := io.WriteString(s.Out, "\n")
			return werr
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading input: %w", err)
		}
		if tooLong {
			s.failed++
			w := xapi.NewWriter(s.Out)
			w.Fail(fmt.Sprintf("line longer than %d bytes ignored", xapi.MaxLineBytes))
			continue
		}
		done, werr := s.line(ctx, strings.TrimSpace(line))
		if werr != nil {
			return werr
		}
		if done || errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// line answers one line and reports whether the session ends.
func (s *Shell) line(ctx context.Context, line string) (bool, error) {
	words := strings.Fields(line)
	if len(words) == 0 || strings.HasPrefix(line, "#") {
		return false, nil
	}
	switch strings.ToLower(words[0]) {
	case "exit", "quit", "bye", "logout":
		return true, nil
	case "help", "?":
		_, err := io.WriteString(s.Out, Help)
		return false, err
	}
	if _, ok := xapi.ParseKind(words[0]); !ok {
		s.failed++
		w := xapi.NewWriter(s.Out)
		w.Fail(fmt.Sprintf("unknown command %q; type help for the commands", words[0]))
		return false, w.Err()
	}
	err := RunLine(ctx, s.Tree, line, s.Out)
	if errors.Is(err, ErrFailed) {
		s.failed++
		return false, nil
	}
	return false, err
}

// readLine reads up to a newline; a line over limit bytes is consumed whole
// and reported as too long.
func readLine(r *bufio.Reader, limit int) (string, bool, error) {
	var b strings.Builder
	tooLong := false
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if b.Len()+len(chunk) > limit+1 {
				tooLong = true
				b.Reset()
			} else {
				b.Write(chunk)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return strings.TrimRight(b.String(), "\r\n"), tooLong, err
	}
}

// Help is the text of the help command.
const Help = `Commands (answers end in OK, or in a *r Reason line and ERROR):
  xstatus [<path>]                      show status; alone, all of it
  xconfiguration [<path>]               show configuration
  xconfiguration <path> <Leaf>: <value> change a setting
  xcommand <path> [<Name>: <value> ...] run a command
  help                                  this text
  exit, quit, Ctrl-D                    leave the shell
Values with spaces go in double quotes. Examples:
  xstatus SystemUnit
  xstatus Alarm
  xstatus OptionKey
  xconfiguration SystemUnit ServiceSelect Brand: Expressway
  xconfiguration SystemUnit ServiceSelect Type: Expressway-E
  xconfiguration SystemUnit Hostname: expe01
  xcommand OptionKey Add Key: "VXOK1-..."
  xcommand OptionKey Remove Index: 1
`
