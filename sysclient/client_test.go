package sysclient

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestEventErr(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    Event
		want error
	}{
		{"not permitted", Event{Error: "user id 7 may not", Code: CodeNotPermitted}, ErrNotPermitted},
		{"busy", Event{Error: "an upgrade is under way", Code: CodeBusy}, ErrBusy},
		{"bad request", Event{Error: "the URL is missing", Code: CodeBadRequest}, ErrBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.e.Err(); !errors.Is(err, tc.want) {
				t.Errorf("Err() = %v, want %v", err, tc.want)
			}
		})
	}
	if err := (Event{Error: "bundle truncated", Code: CodeFailed}).Err(); err == nil || err.Error() != "bundle truncated" {
		t.Errorf("a failure's error = %v, want its reason alone", err)
	}
	if err := (Event{Progress: "x"}).Err(); err != nil {
		t.Errorf("a progress event's error = %v", err)
	}
}

// TestDown: with nothing on the socket the caller learns that the service
// is down.
func TestDown(t *testing.T) {
	c := NewClient(filepath.Join(t.TempDir(), "system.sock"))
	if _, err := c.Upgrade(context.Background(), "http://h/b.vxu", nil); !errors.Is(err, ErrDown) {
		t.Errorf("Upgrade with no service: %v, want ErrDown", err)
	}
}
