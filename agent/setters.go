package agent

import (
	"fmt"
	"strings"
	"time"

	"vxway/agentclient"
	"vxway/platform"
)

// The settings: Smart Licensing on, and the configuration leaves.

// Enable turns Smart Licensing on (xconfiguration License Smart Enabled:
// On). Smart Licensing comes with the Expressway brand: on a VCS, option
// keys are the only licensing mode, so the call is refused with
// agentclient.ErrServiceSelect and nothing changes (no evaluation anchor
// is started). On an Expressway it is already on for the platform and
// this only makes the agent catch up.
func (a *Agent) Enable() error {
	on, err := platform.SmartLicensingEnabled(a.root)
	if err != nil {
		return fmt.Errorf("reading the brand (Service Select): %w", err)
	}
	if !on {
		return fmt.Errorf("%w: on a VCS, option keys are the licensing mode and Smart Licensing cannot be turned on; it comes with converting the device to Expressway in Service Select: xconfiguration SystemUnit ServiceSelect Brand: Expressway", agentclient.ErrServiceSelect)
	}
	return a.turnOn()
}

// turnOn turns Smart Licensing on in the agent. It cannot be undone (only
// a factory reset does); the first time records the evaluation start on
// persist and makes the device identity key.
func (a *Agent) turnOn() error {
	a.mu.Lock()
	if a.st.Enabled {
		resumed := a.syncBrandLocked()
		a.mu.Unlock()
		if resumed {
			a.wake()
		}
		return nil
	}
	now := a.nowLocked()
	key, err := loadOrMakeKey(a.root)
	if err != nil {
		a.mu.Unlock()
		return err
	}
	a.key = key
	if !a.hasAnchor {
		a.anchor, a.hasAnchor = Anchor{Start: now, Latest: now}, true
		if err := saveAnchor(a.root, a.anchor); err != nil {
			a.mu.Unlock()
			return err
		}
		a.anchorSaved = now
	}
	a.st.Enabled = true
	err = a.saveLocked()
	a.mu.Unlock()
	a.logf("licensing: smart licensing enabled; evaluation started %s", a.anchor.Start.UTC().Format(time.RFC3339))
	a.wake()
	return err
}

// SyncEnabled follows the platform's brand (Service Select): it turns
// Smart Licensing on when the device is an Expressway and the agent has
// not seen it yet, and makes the kept settings and registration dormant
// while the device is a VCS, resuming them when it is an Expressway again.
func (a *Agent) SyncEnabled() {
	a.mu.Lock()
	changed := a.syncBrandLocked()
	on := a.st.Enabled
	a.mu.Unlock()
	if changed {
		a.wake()
	}
	if on {
		return
	}
	if enabled, err := platform.SmartLicensingEnabled(a.root); err == nil && enabled {
		if err := a.turnOn(); err != nil {
			a.logf("licensing: %v", err)
		}
	}
}

// syncBrandLocked sets dormant from the platform's brand and reports
// whether it changed. When the brand cannot be read it changes nothing.
func (a *Agent) syncBrandLocked() bool {
	on, err := platform.SmartLicensingEnabled(a.root)
	if err != nil {
		a.logf("licensing: reading the brand (Service Select): %v", err)
		return false
	}
	dormant := a.st.Enabled && !on
	if dormant == a.dormant {
		return false
	}
	a.dormant = dormant
	if dormant {
		a.logf("licensing: the device is a VCS: the kept Smart Licensing settings and registration are dormant (no exchange with the manager, no licensing alarm) until Service Select converts it to Expressway")
	} else {
		a.logf("licensing: the device is an Expressway again: the kept Smart Licensing settings and registration are in use")
	}
	return true
}

// errDormant refuses an exchange with the manager while the device is a
// VCS.
func errDormant() error {
	return fmt.Errorf("%w: the device is a VCS, so the kept Smart Licensing settings and registration are dormant and nothing is sent to the manager; convert it to Expressway with xconfiguration SystemUnit ServiceSelect Brand: Expressway to use them again", agentclient.ErrServiceSelect)
}

// SetConfig changes one configuration leaf (see Config.Apply), saving it
// atomically. Nothing changes on error. A change the manager must learn
// (the privacy flag) is sent by the state machine right after.
func (a *Agent) SetConfig(leaf, value string) (agentclient.Config, error) {
	cfg, err := a.setConfig(leaf, value)
	if err == nil {
		go a.wake()
	}
	return cfg, err
}

func (a *Agent) setConfig(leaf, value string) (agentclient.Config, error) {
	a.op.Lock()
	defer a.op.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	n, err := a.cfg.Apply(leaf, value, a.st.Registration != nil)
	if err != nil {
		return a.cfg.Redacted(), err
	}
	if err := saveConfig(a.root, n); err != nil {
		return a.cfg.Redacted(), err
	}
	a.cfg = n
	if !strings.EqualFold(leaf, agentclient.LeafProxyPassword) && !strings.EqualFold(leaf, "password") {
		a.logf("licensing: configuration %s set to %q", leaf, value)
	} else {
		a.logf("licensing: configuration %s changed", leaf)
	}
	return n.Redacted(), nil
}

// Config reports the configuration, the proxy password redacted.
func (a *Agent) Config() agentclient.Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg.Redacted()
}
