package main

import (
	"fmt"
	"strings"
	"time"
)

// stopwatch records how long each boot step took, for the boot steps line.
type stopwatch struct {
	now  func() time.Duration
	last time.Duration
	laps []string
}

// lap ends the step named name.
func (s *stopwatch) lap(name string) {
	t := s.now()
	s.laps = append(s.laps, fmt.Sprintf("%s %dms", name, (t-s.last).Milliseconds()))
	s.last = t
}

func (s *stopwatch) String() string { return strings.Join(s.laps, ", ") }
