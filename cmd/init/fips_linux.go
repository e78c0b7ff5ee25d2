package main

import "vxway/platform"

// applyFIPS reads the FIPS 140 setting once per boot (a change takes
// effect at the next boot) and records what this boot applies: the
// services init starts run with Go's FIPS 140-3 module enforced
// (platform.FIPSEnv); the SSH and HTTPS servers, inside init, offer only
// approved algorithms. Init itself was started before data was mounted,
// so it cannot run under the module: GODEBUG is read once, when a Go
// program starts.
func (d *device) applyFIPS() {
	cfg, err := platform.LoadFIPSConfig(d.root)
	if err != nil {
		d.logf("FIPS 140: %v; FIPS 140 mode is off for this boot", err)
	}
	d.fips = err == nil && cfg.Mode
	st := platform.FIPSStatus{Mode: d.fips}
	if d.fips {
		for _, s := range d.services() {
			st.Services = append(st.Services, s.Name)
		}
		st.Restricted = []string{"ssh", "https"}
		d.logf("FIPS 140 mode: %v run with %s; SSH and HTTPS offer approved algorithms only", st.Services, platform.FIPSEnv)
	}
	if err := platform.SaveFIPSStatus(d.root, st); err != nil {
		d.logf("FIPS 140: %v", err)
	}
}
