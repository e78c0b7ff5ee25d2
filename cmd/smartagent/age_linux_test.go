package main

import (
	"fmt"
	"testing"
)

func TestStartTicks(t *testing.T) {
	const tail = " S 1 2 3 0 -1 4194560 120 0 0 0 1 2 0 0 20 0 7 0 %s 1234 56 18446744073709551615"
	for _, tc := range []struct {
		name, stat string
		want       int64
		ok         bool
	}{
		{"plain", "42 (smartagent)" + fmt.Sprintf(tail, "15213"), 15213, true},
		{"spaces and parentheses in the name", "42 (a) b (c)" + fmt.Sprintf(tail, "7"), 7, true},
		{"no name", "42 smartagent S 1", 0, false},
		{"too few fields", "42 (smartagent) S 1 2 3", 0, false},
		{"start time not a number", "42 (smartagent)" + fmt.Sprintf(tail, "x1"), 0, false},
		{"negative start time", "42 (smartagent)" + fmt.Sprintf(tail, "-5"), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := startTicks(tc.stat)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("startTicks(%q) = %d, %v; want %d, ok %v", tc.stat, got, err, tc.want, tc.ok)
			}
		})
	}
}

// TestProcessAge reads this test process's own age: it is known and does
// not go backwards.
func TestProcessAge(t *testing.T) {
	a1, err := processAge()
	if err != nil {
		t.Fatal(err)
	}
	a2, err := processAge()
	if err != nil {
		t.Fatal(err)
	}
	if a1 < 0 || a2 < a1 {
		t.Errorf("process ages %v then %v, want non-negative and not decreasing", a1, a2)
	}
}
