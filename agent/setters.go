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
		a.mu.Unlock()
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

// SyncEnabled turns Smart Licensing on when the platform says the device
// is an Expressway (Service Select) and the agent has not seen it yet.
func (a *Agent) SyncEnabled() {
	a.mu.Lock()
	on := a.st.Enabled
	a.mu.Unlock()
	if on {
		return
	}
	if enabled, err := platform.SmartLicensingEnabled(a.root); err == nil && enabled {
		if err := a.turnOn(); err != nil {
			a.logf("licensing: %v", err)
		}
	}
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
