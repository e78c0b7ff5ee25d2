package ssm

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/url"
	"strings"
	"testing"

	"vxway/licproto"
)

// TestReregisterNeedsRegisteredKey: a customer of another smart account,
// holding a good token of its own, tries to take a registered device's
// product instance by registering its UDI with a fresh key. The manager
// refuses without naming the device's virtual account, and the device
// keeps working. Requests from an unknown UDI and from a known UDI with
// a wrong key are answered alike.
func TestReregisterNeedsRegisteredKey(t *testing.T) {
	m := startManager(t, ModeOnPrem, "")
	m.setup()
	for _, c := range []struct {
		path string
		body any
	}{
		{"/api/v1/accounts", map[string]any{"name": "Mallory"}},
		{"/api/v1/virtual-accounts", map[string]any{"account": "Mallory", "name": "Loot"}},
	} {
		if st := m.api("POST", c.path, c.body, nil); st != 201 {
			t.Fatalf("POST %s: %d", c.path, st)
		}
	}
	victim := m.device("0000B001")
	_, err := victim.register(m.token("Default", 30, 0, true), false, "vcs")
	must(t, err)
	_, err = victim.authorize(map[licproto.LicenseType]int{licproto.RMS: 3})
	must(t, err)

	attackerTok := m.token("Loot", 30, 0, true)
	attacker := m.device("0000B001") // the victim's UDI, a fresh key
	for _, rereg := range []bool{true, false} {
		_, err := attacker.register(attackerTok, rereg, "evil")
		if !errors.Is(err, licproto.ErrAlreadyRegistered) {
			t.Errorf("register of another's UDI with a fresh key, reregister %v: %v, want already_registered", rereg, err)
		} else if strings.Contains(err.Error(), "Default") || strings.Contains(err.Error(), "Acme") {
			t.Errorf("the refusal names the victim's account: %v", err)
		}
	}
	// A token that is not good is refused as such, before anything about
	// the instance is looked at.
	if st := m.api("POST", "/api/v1/tokens/revoke", map[string]any{"token": attackerTok}, nil); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	if _, err := attacker.register(attackerTok, true, ""); !errors.Is(err, licproto.ErrTokenRevoked) {
		t.Errorf("revoked token for a registered UDI: %v, want token_revoked", err)
	}

	var in Instance
	m.api("GET", "/api/v1/instance?udi="+url.QueryEscape(victim.udi), nil, &in)
	if in.VirtualAccount != "Default" || in.SmartAccount != "Acme" {
		t.Errorf("the victim's instance moved: %+v", in)
	}
	if res, err := victim.authorize(map[licproto.LicenseType]int{licproto.RMS: 3}); err != nil || res.State != licproto.StateAuthorized {
		t.Errorf("the victim after the attempts: %+v %v", res, err)
	}
	for _, e := range m.events("Loot") {
		t.Errorf("event in the attacker's account: %+v", e)
	}

	// A stranger probing UDIs: a wrong key for a registered UDI and any
	// key for an unknown one get the same answer.
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	probe := func(udi string) error {
		c := *victim.c
		_, err := c.Do(context.Background(), licproto.TypeAuthorize, udi, stranger, &licproto.AuthorizePayload{}, nil)
		return err
	}
	known, unknown := probe(victim.udi), probe(m.device("0000B0FF").udi)
	var ke, ue *licproto.Error
	if !errors.As(known, &ke) || !errors.As(unknown, &ue) {
		t.Fatalf("probes: %v / %v", known, unknown)
	}
	if ke.Code != ue.Code || strings.ReplaceAll(ke.Message, "0000B001", "X") != strings.ReplaceAll(ue.Message, "0000B0FF", "X") {
		t.Errorf("a registered UDI and an unknown one are answered differently:\n %v\n %v", known, unknown)
	}

	// The device itself moves with its own key.
	res, err := victim.register(m.token("Lab", 30, 0, false), true, "vcs")
	must(t, err)
	if res.VirtualAccount != "Lab" {
		t.Errorf("reregistration with the registered key: %+v", res)
	}
}
