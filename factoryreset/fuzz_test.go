package factoryreset

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"vxway/platform"
)

// FuzzRequest feeds arbitrary request files to the parser Resume uses: it
// must never panic, and a request it accepts must describe its plan again
// unchanged.
func FuzzRequest(f *testing.F) {
	p, _ := NewPlan(platform.BrandVCS, BrandType, OptionKeys)
	good, _ := json.Marshal(NewRequest(p, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)))
	f.Add(good)
	f.Add([]byte(`{"version":1,"brand":"Expressway","keep":["option-keys"]}`))
	f.Add([]byte(`{"version":1,"brand":"vcs","keep":["licensing","licensing","nope"]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		if json.Unmarshal(b, &r) != nil {
			return
		}
		plan, err := r.Plan()
		if err != nil {
			return
		}
		_ = plan.String()
		again, err := NewRequest(plan, r.Requested).Plan()
		if err != nil || again.Brand != plan.Brand || !slices.Equal(again.Keep, plan.Keep) {
			t.Errorf("plan %+v does not round-trip: %+v, %v", plan, again, err)
		}
	})
}
