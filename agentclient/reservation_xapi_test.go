package agentclient

import (
	"errors"
	"strings"
	"testing"

	"vxway/reservation"
	"vxway/xapi"
)

func TestCodeArg(t *testing.T) {
	slr := `<specificPLR><authorizationCode><flag>N</flag></authorizationCode><udi>UDI_PID:Expressway; UDI_SN:0A1B2C3D; UDI_VID:1.0;</udi></specificPLR>`
	plr := "CA11do-VKcqvB-2QiuqZ"
	for _, tc := range []struct {
		name, line, want, err string
	}{
		{"quoted SLR", `xcommand License Smart Reservation Install "` + slr + `"`, slr, ""},
		{"quoted PLR", `xcommand License Smart Reservation Install "` + plr + `"`, plr, ""},
		{"unquoted PLR", `xcommand License Smart Reservation Install ` + plr, plr, ""},
		{"named", `xcommand License Smart Reservation Install Code: "` + slr + `"`, slr, ""},
		{"unquoted SLR", `xcommand License Smart Reservation Install ` + slr, "", "put the code in double quotes"},
		{"two values", `xcommand License Smart Reservation Install "a" "b"`, "", "2 separate words"},
		{"missing", `xcommand License Smart Reservation Install`, "", "code is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := xapi.ParseLine(tc.line)
			if err != nil {
				t.Fatal(err)
			}
			got, err := codeArg(req, req.Path[4:], "Install")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, reservation.ErrMalformed) {
					t.Fatalf("got %q, %v; want an error saying %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
