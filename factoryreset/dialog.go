package factoryreset

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"vxway/platform"
)

// ErrCancelled: the administrator said NO at the final question, pressed
// Ctrl+C, or the input ended.
var ErrCancelled = errors.New("factory reset cancelled: nothing was changed")

// Banner opens the dialogue.
const Banner = `*****
Warning! This operation resets the unit to factory default settings!
*****

To cancel operation before final confirmation press Ctrl+C
`

// FinalQuestion is the last question before the reset is recorded.
const FinalQuestion = "Are you sure you want to continue [YES/NO]? "

// Dialogue asks the administrator questions on a terminal. Reading stops
// as soon as the context is done (Ctrl+C), even while waiting for a line.
type Dialogue struct {
	out   io.Writer
	lines chan lineOrErr
}

type lineOrErr struct {
	line string
	err  error
}

// NewDialogue reads answers from in and writes questions to out. It reads
// in from a goroutine that lives until in ends.
func NewDialogue(in io.Reader, out io.Writer) *Dialogue {
	d := &Dialogue{out: out, lines: make(chan lineOrErr)}
	go func() {
		r := bufio.NewReader(in)
		for {
			line, err := r.ReadString('\n')
			if line != "" || err == nil {
				d.lines <- lineOrErr{line: line}
			}
			if err != nil {
				d.lines <- lineOrErr{err: err}
				return
			}
		}
	}()
	return d
}

// yesNo asks question until the answer is YES or NO (any case, or Y/N).
func (d *Dialogue) yesNo(ctx context.Context, question string) (bool, error) {
	for {
		fmt.Fprintf(d.out, "%s [YES/NO]? ", question)
		var l lineOrErr
		select {
		case <-ctx.Done():
			fmt.Fprintln(d.out)
			return false, ErrCancelled
		case l = <-d.lines:
		}
		if l.err != nil {
			fmt.Fprintln(d.out)
			return false, ErrCancelled
		}
		switch strings.ToLower(strings.TrimSpace(l.line)) {
		case "yes", "y":
			return true, nil
		case "no", "n":
			return false, nil
		}
		fmt.Fprintln(d.out, "Please answer YES or NO.")
	}
}

// Ask shows the banner, asks the keep question of every item of the
// device's brand in order, then the final question, and returns the plan.
// NO at the final question, Ctrl+C (ctx done) or the end of the input
// return ErrCancelled.
func (d *Dialogue) Ask(ctx context.Context, brand platform.Brand) (Plan, error) {
	fmt.Fprint(d.out, Banner)
	var keep []Item
	for _, i := range ItemsFor(brand) {
		yes, err := d.yesNo(ctx, i.Prompt())
		if err != nil {
			return Plan{}, err
		}
		if yes {
			keep = append(keep, i)
		}
	}
	p, err := NewPlan(brand, keep...)
	if err != nil {
		return Plan{}, err
	}
	fmt.Fprintln(d.out)
	return p, d.final(ctx)
}

// Confirm shows the banner and the plan chosen by flags and asks the final
// question.
func (d *Dialogue) Confirm(ctx context.Context, p Plan) error {
	fmt.Fprint(d.out, Banner)
	fmt.Fprintln(d.out)
	fmt.Fprint(d.out, p.String())
	fmt.Fprintln(d.out)
	return d.final(ctx)
}

func (d *Dialogue) final(ctx context.Context) error {
	yes, err := d.yesNo(ctx, strings.TrimSuffix(FinalQuestion, " [YES/NO]? "))
	if err != nil {
		return err
	}
	if !yes {
		return ErrCancelled
	}
	return nil
}
