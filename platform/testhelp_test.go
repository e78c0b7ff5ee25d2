package platform

import (
	"errors"
	"strings"
	"testing"
	"time"

	"vxway/clock"
	"vxway/xapi"
	"vxway/xapi/xapitest"
)

var testStart = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// newTestRoot makes a device root holding an image.json whose default
// password is TANDBERG for both accounts, as the sample build config has.
func newTestRoot(t *testing.T, brand string) string {
	t.Helper()
	root := t.TempDir()
	h, err := HashPassword("TANDBERG", "vxwaydefault")
	if err != nil {
		t.Fatal(err)
	}
	info := &ImageInfo{
		SoftwareVersion: "X14.2.0",
		BuildTime:       testStart,
		Hostname:        "expe01",
		Brand:           brand,
		Type:            string(TypeC),
		PasswordHashes:  PasswordHashes{Root: h, Admin: h},
		Licensing:       ImageLicensing{DirectURL: "https://127.0.0.1:8443/its/service/oddce/services/DDCEService"},
	}
	if err := WriteImageInfo(root, info); err != nil {
		t.Fatal(err)
	}
	return root
}

func newTestClock() *clock.Fake { return clock.NewFake(testStart) }

// lineCase is one xAPI line, the error it must give (nil: none) and a
// part of its answer.
type lineCase struct {
	line string
	want error
	out  string
}

// serveLines serves each case's line into tree in order, each as a
// subtest.
func serveLines(t *testing.T, tree *xapi.Tree, cases []lineCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.line, func(t *testing.T) {
			out, err := xapitest.Serve(t, tree, tc.line)
			if !errors.Is(err, tc.want) || !strings.Contains(out, tc.out) {
				t.Errorf("%v, want %v:\n%s", err, tc.want, out)
			}
		})
	}
}
