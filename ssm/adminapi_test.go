package ssm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// rawAPI sends body as it is to the admin API and returns the status and
// the error text of the answer.
func (m *testManager) rawAPI(method, path, body string) (int, string) {
	m.t.Helper()
	status, b := m.send(method, path, strings.NewReader(body))
	var out struct{ Error string }
	json.Unmarshal(b, &out)
	return status, out.Error
}

// TestAdminBodyOneObject: a body must be exactly one JSON object; trailing
// data is refused with a 400 that says so, and nothing is written.
func TestAdminBodyOneObject(t *testing.T) {
	m := startManager(t, ModeOnPrem, "")
	for _, tc := range []struct {
		name, body, want string
	}{
		{"second object", `{"name":"A1"}{"name":"A2"}`, "data after its JSON object"},
		{"trailing garbage", `{"name":"A1"} x`, "data after its JSON object"},
		{"trailing bracket", `{"name":"A1"}]`, "data after its JSON object"},
		{"empty", ``, "empty"},
		{"unknown field", `{"nom":"A1"}`, "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, msg := m.rawAPI("POST", "/api/v1/accounts", tc.body)
			if st != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
				t.Errorf("HTTP %d %q, want 400 saying %q", st, msg, tc.want)
			}
		})
	}
	var list struct{ Accounts []Account }
	if st := m.api("GET", "/api/v1/accounts", nil, &list); st != 200 || len(list.Accounts) != 0 {
		t.Errorf("refused bodies created accounts: %d %+v", st, list.Accounts)
	}
	if st, msg := m.rawAPI("POST", "/api/v1/accounts", "{\"name\":\"A1\"}\n \t\n"); st != 201 {
		t.Errorf("one object and white space: HTTP %d %q", st, msg)
	}
}

// TestAdminTokenExportControlDefault: a token created without
// export_controlled does not allow export-controlled functionality.
func TestAdminTokenExportControlDefault(t *testing.T) {
	m := startManager(t, ModeOnPrem, "")
	m.setup()
	for i, tc := range []struct {
		name string
		body map[string]any
		want bool
	}{
		{"left out", map[string]any{"va": "Default"}, false},
		{"null", map[string]any{"va": "Default", "export_controlled": nil}, false},
		{"false", map[string]any{"va": "Default", "export_controlled": false}, false},
		{"true", map[string]any{"va": "Default", "export_controlled": true}, true},
	} {
		serial := fmt.Sprintf("0000EC%02X", i)
		t.Run(tc.name, func(t *testing.T) {
			var out struct {
				Token string
				Info  TokenInfo
			}
			if st := m.api("POST", "/api/v1/tokens", tc.body, &out); st != 201 {
				t.Fatalf("HTTP %d", st)
			}
			if out.Info.ExportControlled != tc.want {
				t.Errorf("answer says export_controlled %v, want %v", out.Info.ExportControlled, tc.want)
			}
			res, err := m.device(serial).register(out.Token, false, "")
			if err != nil {
				t.Fatal(err)
			}
			if res.ExportControlled != tc.want {
				t.Errorf("registration says export_controlled %v, want %v", res.ExportControlled, tc.want)
			}
		})
	}
}
