package image

import (
	"errors"
	"strings"
	"testing"
)

func TestRequireHost(t *testing.T) {
	present := HostPackage{Name: "present", Files: []string{"/", "/nonexistent"}}
	if err := RequireHost(present); err != nil {
		t.Errorf("RequireHost(present) = %v", err)
	}
	a := HostPackage{Name: "pkg-a", Files: []string{"/nonexistent/a"}}
	b := HostPackage{Name: "pkg-b", Files: []string{"/nonexistent/b"}}
	err := RequireHost(a, present, b)
	if !errors.Is(err, ErrHostPackage) {
		t.Fatalf("RequireHost = %v, want ErrHostPackage", err)
	}
	if !strings.Contains(err.Error(), "pkg-a, pkg-b") || !strings.Contains(err.Error(), "apt-get install -y pkg-a pkg-b") {
		t.Errorf("error %q does not name both packages and the install line", err)
	}
}
