package platform

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func raisedIDs(t *testing.T, a *Alarms) []int {
	t.Helper()
	list, err := a.List()
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, al := range list {
		ids = append(ids, al.ID)
	}
	return ids
}

func TestUsersDefaultsAndChange(t *testing.T) {
	root := newTestRoot(t, "Expressway")
	clk := newTestClock()
	u := NewUsers(root, clk)
	al := NewAlarms(root, clk)

	for _, user := range []string{UserRoot, UserAdmin} {
		if err := u.Check(user, "TANDBERG"); err != nil {
			t.Errorf("default %s login: %v", user, err)
		}
		if err := u.Check(user, "tandberg"); !errors.Is(err, ErrWrongPassword) {
			t.Errorf("wrong %s password: err = %v, want ErrWrongPassword", user, err)
		}
		if def, err := u.UsingDefault(user); err != nil || !def {
			t.Errorf("UsingDefault(%s) = %v, %v; want true", user, def, err)
		}
	}
	if err := u.Check("guest", "TANDBERG"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("unknown user: err = %v", err)
	}

	if err := u.SyncAlarms(); err != nil {
		t.Fatal(err)
	}
	if got := raisedIDs(t, al); len(got) != 2 || got[0] != 40003 || got[1] != 40005 {
		t.Fatalf("alarms after boot = %v, want [40003 40005]", got)
	}

	clk.Advance(time.Hour)
	if err := u.SetPassword(UserRoot, "n3w-R00t-pass"); err != nil {
		t.Fatal(err)
	}
	if err := u.Check(UserRoot, "n3w-R00t-pass"); err != nil {
		t.Errorf("new root password refused: %v", err)
	}
	if err := u.Check(UserRoot, "TANDBERG"); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("old root password: err = %v, want ErrWrongPassword", err)
	}
	if err := u.Check(UserAdmin, "TANDBERG"); err != nil {
		t.Errorf("admin default changed by root's passwd: %v", err)
	}
	if got := raisedIDs(t, al); len(got) != 1 || got[0] != 40005 {
		t.Fatalf("alarms after root passwd = %v, want [40005]", got)
	}
	// A reboot re-syncs and must not bring 40003 back.
	if err := NewUsers(root, clk).SyncAlarms(); err != nil {
		t.Fatal(err)
	}
	if got := raisedIDs(t, al); len(got) != 1 || got[0] != 40005 {
		t.Fatalf("alarms after resync = %v, want [40005]", got)
	}

	// The file keeps only a hash, private to root.
	p := filepath.Join(root, PasswdPath)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "n3w-R00t-pass") {
		t.Errorf("%s holds the password in clear", p)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", p, fi.Mode().Perm())
	}

	if err := u.SetPassword(UserAdmin, "adm1n-secret"); err != nil {
		t.Fatal(err)
	}
	if got := raisedIDs(t, al); len(got) != 0 {
		t.Fatalf("alarms after both changed = %v, want none", got)
	}
}

func TestSetPasswordRefusals(t *testing.T) {
	root := newTestRoot(t, "VCS")
	u := NewUsers(root, newTestClock())
	for _, c := range []struct {
		name, user, pw string
		want           error
	}{
		{"short", UserRoot, "short", ErrWeakPassword},
		{"default", UserAdmin, "TANDBERG", ErrWeakPassword},
		{"control char", UserRoot, "abc\x01defgh", ErrWeakPassword},
		{"too long", UserRoot, string(make([]byte, 200)), ErrWeakPassword},
		{"unknown user", "bob", "longenough", ErrUnknownUser},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := u.SetPassword(c.user, c.pw); !errors.Is(err, c.want) {
				t.Errorf("SetPassword = %v, want %v", err, c.want)
			}
			if _, err := os.Stat(filepath.Join(root, PasswdPath)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused password wrote %s", PasswdPath)
			}
		})
	}
}

func TestUsersWithoutImageInfo(t *testing.T) {
	u := NewUsers(t.TempDir(), nil)
	if err := u.Check(UserRoot, "TANDBERG"); !errors.Is(err, ErrNoImageInfo) {
		t.Errorf("Check without image.json: err = %v, want ErrNoImageInfo", err)
	}
}

func TestAuthorizedKeys(t *testing.T) {
	root := newTestRoot(t, "VCS")
	u := NewUsers(root, nil)
	keys := []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample admin@laptop"}
	if err := u.SetAuthorizedKeys(UserAdmin, keys); err != nil {
		t.Fatal(err)
	}
	got, err := u.AuthorizedKeys(UserAdmin)
	if err != nil || len(got) != 1 || got[0] != keys[0] {
		t.Errorf("AuthorizedKeys = %v, %v", got, err)
	}
	if def, _ := u.UsingDefault(UserAdmin); !def {
		t.Errorf("setting keys changed the password state")
	}
}

// TestUsersConcurrentChanges changes both accounts from many goroutines at
// once; no change may be lost to another's read-modify-write.
func TestUsersConcurrentChanges(t *testing.T) {
	root := newTestRoot(t, "VCS")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := NewUsers(root, nil).SetPassword(UserRoot, "root-pass-final"); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if err := NewUsers(root, nil).SetAuthorizedKeys(UserAdmin, []string{"ssh-ed25519 AAAA key" + string(rune('0'+i))}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	u := NewUsers(root, nil)
	if err := u.Check(UserRoot, "root-pass-final"); err != nil {
		t.Errorf("root password lost: %v", err)
	}
	if keys, _ := u.AuthorizedKeys(UserAdmin); len(keys) != 1 {
		t.Errorf("admin keys lost: %v", keys)
	}
}

// TestCheckRefusesOverlongPasswords gives root a default hash of a
// password longer than any password may be and checks that Check refuses
// it without hashing it: an over-long password is wrong whatever the hash.
func TestCheckRefusesOverlongPasswords(t *testing.T) {
	tests := []struct {
		name     string
		password string
		ok       bool
	}{
		{"128 characters", strings.Repeat("p", MaxPasswordLen), true},
		{"128 two-byte characters", strings.Repeat("é", MaxPasswordLen), true},
		{"129 characters", strings.Repeat("p", MaxPasswordLen+1), false},
		{"129 two-byte characters", strings.Repeat("é", MaxPasswordLen+1), false},
		{"513 bytes of invalid UTF-8", strings.Repeat("\xff", 4*MaxPasswordLen+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			h, err := HashPassword(tt.password, "salt")
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteImageInfo(root, &ImageInfo{PasswordHashes: PasswordHashes{Root: h, Admin: h}}); err != nil {
				t.Fatal(err)
			}
			err = NewUsers(root, nil).Check(UserRoot, tt.password)
			if tt.ok && err != nil {
				t.Errorf("Check = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, ErrWrongPassword) {
				t.Errorf("Check = %v, want ErrWrongPassword", err)
			}
		})
	}
	// A 256 KiB password (what SSH carries) is refused the same way; before
	// the limit it cost a minute of CPU.
	if err := NewUsers(newTestRoot(t, "VCS"), nil).Check(UserRoot, strings.Repeat("p", 256<<10)); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("Check of a 256 KiB password = %v, want ErrWrongPassword", err)
	}
}

func TestUsersValidate(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		ok         bool
	}{
		{"no file", "", true},
		{"good", `{"users": {"admin": {"hash": "$6$rounds=5000$salt$ZMx0dZHh3cEp8vhPaOnu6fLuU5ttYxfwTDyRUxG7JyEoKNEOf6ZadM8qD6nYtWgCbUf3Q5z0y0xL4JvZg1Ty.1"}}}`, true},
		{"not JSON", `{"users":`, false},
		{"unknown account", `{"users": {"guest": {}}}`, false},
		{"bad hash", `{"users": {"root": {"hash": "plain"}}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.file != "" {
				if err := writeFile(filepath.Join(root, PasswdPath), []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := NewUsers(root, nil).Validate()
			if (err == nil) != tc.ok {
				t.Errorf("Validate = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
