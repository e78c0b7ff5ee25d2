package sysclient

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
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

func TestCheckUpgradeURL(t *testing.T) {
	for _, tt := range []struct{ url, say string }{
		{"http://10.0.2.2:8000/vxway-X14.3.0.vxu", ""},
		{"https://bundles.example/vxway.vxu", ""},
		{"", "the URL is missing"},
		{"http://h/" + strings.Repeat("a", MaxURL), "at most 2048 are accepted"},
		{"ftp://h/vxway.vxu", "not an http:// or https:// URL"},
		{"http:///vxway.vxu", "not an http:// or https:// URL"},
		{"ftp://admin:s3cret@h/vxway.vxu", "admin:xxxxx@h"},
	} {
		_, err := CheckUpgradeURL(tt.url)
		switch {
		case tt.say == "" && err != nil:
			t.Errorf("%q refused: %v", tt.url, err)
		case tt.say != "" && (err == nil || !strings.Contains(err.Error(), tt.say) || strings.Contains(err.Error(), "s3cret")):
			t.Errorf("%.40q: %v, want an error saying %q", tt.url, err, tt.say)
		}
	}
}
