package factoryreset

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"vxway/platform"
)

func TestDialogueAsk(t *testing.T) {
	expressway := ItemsFor(platform.BrandExpressway)
	tests := []struct {
		name    string
		brand   platform.Brand
		input   string
		want    []Item
		wantErr error
		prompts int
	}{
		{"seed example", platform.BrandExpressway, "yes\nno\nno\nyes\nyes\nyes\nyes\nyes\nyes\nyes\n",
			[]Item{BrandType, IP, Management, SSHKeys, Certificates, Passwords, Logs}, nil, 9},
		{"all yes any case", platform.BrandExpressway, strings.Repeat("Yes\n", 9) + "YES\n", expressway, nil, 9},
		{"short answers", platform.BrandExpressway, "n\ny\nn\nn\nn\nn\nn\nn\nn\ny\n", []Item{Licensing}, nil, 9},
		{"asks again after a bad answer", platform.BrandExpressway, "maybe\n\nno\n" + strings.Repeat("no\n", 8) + "yes\n", nil, nil, 11},
		{"no at the final question", platform.BrandExpressway, strings.Repeat("yes\n", 9) + "no\n", nil, ErrCancelled, 9},
		{"input ends", platform.BrandExpressway, "yes\nyes\n", nil, ErrCancelled, 3},
		{"vcs asks about option keys", platform.BrandVCS, strings.Repeat("no\n", 9) + "yes\nyes\n", []Item{OptionKeys}, nil, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			d := NewDialogue(strings.NewReader(tt.input), &out)
			p, err := d.Ask(context.Background(), tt.brand)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Ask = %v, want %v\n%s", err, tt.wantErr, out.String())
			}
			text := out.String()
			if !strings.HasPrefix(text, Banner) {
				t.Errorf("output does not start with the banner:\n%s", text)
			}
			if got := strings.Count(text, "[YES/NO]? ") - strings.Count(text, FinalQuestion); got != tt.prompts {
				t.Errorf("%d keep questions asked, want %d:\n%s", got, tt.prompts, text)
			}
			// Questions come in prompt order.
			last := -1
			for _, i := range ItemsFor(tt.brand) {
				k := strings.Index(text, i.Prompt()+" [YES/NO]? ")
				if k < 0 {
					if tt.wantErr == nil {
						t.Errorf("%q not asked", i.Prompt())
					}
					continue
				}
				if k < last {
					t.Errorf("%q asked out of order", i.Prompt())
				}
				last = k
			}
			if tt.wantErr != nil {
				return
			}
			if !strings.Contains(text, "\n"+FinalQuestion) {
				t.Errorf("final question missing:\n%s", text)
			}
			if strings.Index(text, "press Ctrl+C") > strings.Index(text, FinalQuestion) {
				t.Error("Ctrl+C banner after the final question")
			}
			if !slices.Equal(p.Keep, tt.want) {
				t.Errorf("kept %v, want %v", p.Keep, tt.want)
			}
		})
	}
}

// TestDialogueCtrlC cancels while the dialogue waits for an answer.
func TestDialogueCtrlC(t *testing.T) {
	in, w := io.Pipe()
	defer w.Close()
	var out strings.Builder
	d := NewDialogue(in, &out)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := d.Ask(ctx, platform.BrandExpressway)
		done <- err
	}()
	if _, err := io.WriteString(w, "yes\n"); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, ErrCancelled) {
			t.Errorf("Ask = %v, want ErrCancelled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Ask did not return after cancel")
	}
}

func TestDialogueConfirm(t *testing.T) {
	p, err := NewPlan(platform.BrandExpressway, Licensing)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		input string
		want  error
	}{{"yes\n", nil}, {"no\n", ErrCancelled}, {"", ErrCancelled}} {
		var out strings.Builder
		err := NewDialogue(strings.NewReader(tt.input), &out).Confirm(context.Background(), p)
		if !errors.Is(err, tt.want) {
			t.Errorf("Confirm with %q = %v, want %v", tt.input, err, tt.want)
		}
		if !strings.Contains(out.String(), p.String()) || strings.Contains(out.String(), Licensing.Prompt()) {
			t.Errorf("Confirm shows the prompts or not the plan:\n%s", out.String())
		}
	}
}
