package platform_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vxway/clock"
	"vxway/platform"
	"vxway/platform/vendorkey"
	"vxway/testsupport"
)

// testVendor is the vendor signing key of this test binary; the device
// roots it makes trust it.
var testVendor = sync.OnceValue(func() vendorkey.Key {
	k, err := vendorkey.Generate()
	if err != nil {
		panic(err)
	}
	return k
})

// deviceRoot makes a device root of the brand with an SMBIOS UUID, and
// returns it with the identity the platform derives from it.
func deviceRoot(t *testing.T, brand string) (string, platform.Identity) {
	t.Helper()
	info := testsupport.ImageInfo(t, brand)
	info.OptionKeyPublicKeys = []string{testVendor().PublicHex()}
	root := testsupport.DeviceRoot(t, info)
	testsupport.WriteProductUUID(t, root)
	id, err := platform.LoadIdentity(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	return root, id
}

func mustSign(t *testing.T, serial, option string, count int) string {
	t.Helper()
	k, err := testVendor().Sign(serial, option, count)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// An image that trusts no vendor key installs no option key, and a key
// signed by another vendor key is refused.
func TestOptionKeyNeedsTrustedVendorKey(t *testing.T) {
	root, id := deviceRoot(t, "VCS")
	other, err := vendorkey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Sign(id.Serial, platform.OptionHSM, 0)
	if err != nil {
		t.Fatal(err)
	}
	keys := platform.NewOptionKeys(root, nil)
	if _, err := keys.Add(foreign); !errors.Is(err, platform.ErrBadOptionKey) {
		t.Errorf("a key of another vendor key: err = %v, want ErrBadOptionKey", err)
	}
	info, err := platform.LoadImageInfo(root)
	if err != nil {
		t.Fatal(err)
	}
	info.OptionKeyPublicKeys = nil
	if err := platform.WriteImageInfo(root, info); err != nil {
		t.Fatal(err)
	}
	_, err = keys.Add(mustSign(t, id.Serial, platform.OptionHSM, 0))
	if !errors.Is(err, platform.ErrNoVendorKey) || !strings.Contains(err.Error(), "[option_keys]") {
		t.Errorf("no trusted vendor key: err = %v, want ErrNoVendorKey naming appliance.toml [option_keys]", err)
	}
	if l, _ := keys.List(); len(l) != 0 {
		t.Errorf("refused keys were installed: %v", l)
	}
	info.OptionKeyPublicKeys = []string{"zz"}
	if err := platform.WriteImageInfo(root, info); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Add(mustSign(t, id.Serial, platform.OptionHSM, 0)); err == nil || !strings.Contains(err.Error(), "option_key_public_keys") {
		t.Errorf("malformed trusted key: err = %v", err)
	}
}

func TestOptionKeyParse(t *testing.T) {
	good := mustSign(t, "0B070519", "RichMediaSessions", 100)
	k, err := platform.ParseOptionKey(good, testVendor().Public())
	if err != nil {
		t.Fatal(err)
	}
	if k.Serial != "0B070519" || k.Option != "RichMediaSessions" || k.Count != 100 {
		t.Errorf("parsed %+v", k)
	}
	// Lower case and without dashes is the same key.
	if _, err := platform.ParseOptionKey(strings.ToLower(strings.ReplaceAll(good, "-", " ")), testVendor().Public()); err == nil {
		t.Errorf("the prefix must keep its dash")
	}
	relaxed := "vxok1-" + strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(good, "VXOK1-"), "-", ""))
	if _, err := platform.ParseOptionKey(relaxed, testVendor().Public()); err != nil {
		t.Errorf("relaxed spelling refused: %v", err)
	}

	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	forged, err := platform.SignOptionKey(otherPriv, platform.OptionKey{Serial: "0B070519", Option: "HSM"})
	if err != nil {
		t.Fatal(err)
	}
	body := strings.TrimPrefix(good, "VXOK1-")
	flip := []byte(body)
	if flip[3] == 'A' {
		flip[3] = 'B'
	} else {
		flip[3] = 'A'
	}
	for _, c := range []struct{ name, key string }{
		{"empty", ""},
		{"no prefix", body},
		{"other vendor", forged},
		{"one character changed", "VXOK1-" + string(flip)},
		{"truncated", good[:len(good)-5]},
		{"not base32", "VXOK1-!!!!"},
		{"huge", "VXOK1-" + strings.Repeat("A", 10000)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := platform.ParseOptionKey(c.key, testVendor().Public()); !errors.Is(err, platform.ErrBadOptionKey) {
				t.Errorf("err = %v, want ErrBadOptionKey", err)
			}
		})
	}
}

func TestOptionKeyInstallRules(t *testing.T) {
	root, id := deviceRoot(t, "VCS")
	clk := clock.NewFake(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	ok := platform.NewOptionKeys(root, clk)

	interop := mustSign(t, id.Serial, platform.OptionMSInterop, 0)
	rms := mustSign(t, id.Serial, "RichMediaSessions", 50)
	aas := mustSign(t, id.Serial, platform.OptionAdvancedAccountSecurity, 0)
	foreign := mustSign(t, "DEADBEEF", "RichMediaSessions", 50)

	if _, err := ok.Add(foreign); !errors.Is(err, platform.ErrForeignOptionKey) || !strings.Contains(err.Error(), id.Serial) {
		t.Errorf("foreign key err = %v, want ErrForeignOptionKey naming %s", err, id.Serial)
	}
	for _, k := range []string{interop, rms, aas} {
		clk.Advance(time.Minute)
		if _, err := ok.Add(k); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	if _, err := ok.Add(rms); !errors.Is(err, platform.ErrOptionKeyExists) {
		t.Errorf("duplicate err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, platform.PersistOptionKeyDir)); err != nil {
		t.Errorf("MS Interop key not on persist: %v", err)
	}
	for _, f := range []string{platform.OptionAdvancedAccountSecurity, platform.OptionHSM, platform.OptionMSInterop} {
		avail, why, err := ok.Feature(f)
		want := f != platform.OptionHSM
		if err != nil || avail != want {
			t.Errorf("VCS Feature(%s) = %v %q %v, want %v", f, avail, why, err, want)
		}
	}

	// Remove by index and by text.
	if _, err := ok.Remove("3"); err != nil {
		t.Fatal(err)
	}
	if _, err := ok.Remove(rms); err != nil {
		t.Fatal(err)
	}
	if _, err := ok.Remove(rms); !errors.Is(err, platform.ErrNoOptionKey) {
		t.Errorf("second remove err = %v", err)
	}
	if _, err := ok.Remove("7"); !errors.Is(err, platform.ErrNoOptionKey) {
		t.Errorf("bad index err = %v", err)
	}
	if _, err := ok.Add(rms); err != nil {
		t.Fatal(err)
	}

	// Convert to Expressway: keys locked, MS Interop kept and active,
	// the others inactive, AAS and HSM unavailable.
	if err := platform.SetBrand(root, platform.BrandExpressway, clk); err != nil {
		t.Fatal(err)
	}
	if _, err := ok.Add(mustSign(t, id.Serial, platform.OptionHSM, 0)); !errors.Is(err, platform.ErrOptionKeysLocked) {
		t.Errorf("add on Expressway err = %v", err)
	}
	if _, err := ok.Remove("1"); !errors.Is(err, platform.ErrOptionKeysLocked) {
		t.Errorf("remove on Expressway err = %v", err)
	}
	list, err := ok.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Option != platform.OptionMSInterop || !list[0].Active || list[1].Active {
		t.Errorf("keys after conversion: %+v", list)
	}
	for _, f := range []string{platform.OptionAdvancedAccountSecurity, platform.OptionHSM, platform.OptionMSInterop} {
		avail, why, _ := ok.Feature(f)
		if want := f == platform.OptionMSInterop; avail != want {
			t.Errorf("Expressway Feature(%s) = %v %q, want %v", f, avail, why, want)
		}
	}

	// A factory reset wipes data: the MS Interop key on persist remains.
	if err := os.RemoveAll(filepath.Join(root, "data")); err != nil {
		t.Fatal(err)
	}
	list, _ = ok.List()
	if len(list) != 1 || list[0].Option != platform.OptionMSInterop {
		t.Errorf("after wiping data: %+v", list)
	}
}

func TestOptionKeyRefusedOnExpressway(t *testing.T) {
	root, id := deviceRoot(t, "Expressway")
	_, err := platform.NewOptionKeys(root, nil).Add(mustSign(t, id.Serial, platform.OptionMSInterop, 0))
	if !errors.Is(err, platform.ErrOptionKeysLocked) {
		t.Errorf("err = %v, want ErrOptionKeysLocked", err)
	}
}

func FuzzParseOptionKey(f *testing.F) {
	priv := testVendor().Private()
	for _, k := range []platform.OptionKey{
		{Serial: "0B070519", Option: "MSInterop"},
		{Serial: "04515163", Option: "RoomSystems", Count: 65535, Nonce: 7},
	} {
		s, err := platform.SignOptionKey(priv, k)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
	}
	f.Add("VXOK1-")
	f.Add("VXOK1-AAAA-BBBB")
	f.Add("")
	pub := testVendor().Public()
	f.Fuzz(func(t *testing.T, s string) {
		k, err := platform.ParseOptionKey(s, pub)
		if err != nil {
			if !errors.Is(err, platform.ErrBadOptionKey) {
				t.Fatalf("error %v is not ErrBadOptionKey", err)
			}
			return
		}
		// Whatever verifies must re-sign to a key that parses the same.
		again, err := platform.SignOptionKey(priv, k)
		if err != nil {
			t.Fatalf("re-signing %+v: %v", k, err)
		}
		k2, err := platform.ParseOptionKey(again, pub)
		if err != nil || k2 != k {
			t.Fatalf("round trip %+v -> %+v, %v", k, k2, err)
		}
	})
}

func TestOptionKeyStoredSpellingParses(t *testing.T) {
	root, id := deviceRoot(t, "VCS")
	ok := platform.NewOptionKeys(root, nil)
	k := mustSign(t, id.Serial, "TURNRelays", 10)
	ik, err := ok.Add(" " + strings.ToLower(k) + " ")
	if err != nil {
		t.Fatal(err)
	}
	if ik.Key != k {
		t.Errorf("stored %q, want the issued spelling %q", ik.Key, k)
	}
	if _, err := platform.ParseOptionKey(ik.Key, testVendor().Public()); err != nil {
		t.Errorf("the stored key does not parse: %v", err)
	}
	if _, err := ok.Remove(strings.ReplaceAll(ik.Key, "-", "")); err == nil {
		t.Errorf("a key without its prefix dash removed something")
	}
	if _, err := ok.Remove(ik.Key); err != nil {
		t.Errorf("removing by the listed key: %v", err)
	}
}

// TestOptionKeySpellingsAreOneKey checks that the other base32 spellings
// of a key's last character (its spare bits set) are the same key: it
// installs once, and any spelling removes it.
func TestOptionKeySpellingsAreOneKey(t *testing.T) {
	root, id := deviceRoot(t, "VCS")
	ok := platform.NewOptionKeys(root, nil)
	k := mustSign(t, id.Serial, "RoomSystems", 20)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	last := strings.IndexByte(alphabet, k[len(k)-1])
	if last < 0 || last&3 != 0 {
		t.Fatalf("the issued key's last character %q has spare bits set", k[len(k)-1])
	}
	var variants []string
	for spare := 1; spare < 4; spare++ {
		variants = append(variants, k[:len(k)-1]+string(alphabet[last|spare]))
	}
	if _, err := ok.Add(k); err != nil {
		t.Fatal(err)
	}
	for _, v := range variants {
		t.Run(v[len(v)-8:], func(t *testing.T) {
			if _, err := platform.ParseOptionKey(v, testVendor().Public()); err != nil {
				t.Fatalf("the variant does not parse (the test is wrong): %v", err)
			}
			if _, err := ok.Add(v); !errors.Is(err, platform.ErrOptionKeyExists) {
				t.Errorf("Add of another spelling = %v, want ErrOptionKeyExists", err)
			}
		})
	}
	if list, _ := ok.List(); len(list) != 1 {
		t.Fatalf("%d keys installed, want 1: %+v", len(list), list)
	}
	if _, err := ok.Remove(variants[2]); err != nil {
		t.Errorf("Remove by another spelling: %v", err)
	}
	if list, _ := ok.List(); len(list) != 0 {
		t.Errorf("%d keys left after removing, want 0", len(list))
	}
}
