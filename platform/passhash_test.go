package platform

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Vectors from the SHA-crypt specification and from `openssl passwd -6`.
var sha512CryptVectors = []struct {
	name, setting, password, want string
}{
	{"spec default rounds", "$6$saltstring", "Hello world!",
		"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
	{"spec rounds 10000 long salt", "$6$rounds=10000$saltstringsaltstring", "Hello world!",
		"$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
	{"spec explicit 5000", "$6$rounds=5000$toolongsaltstring", "This is just a test",
		"$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"},
	{"spec long password", "$6$rounds=1400$anotherlongsaltstring", "a very much longer text to encrypt.  This one even stretches over morethan one line.",
		"$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"},
	{"spec short salt", "$6$rounds=77777$short", "we have a short salt string but not a short password",
		"$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0"},
	{"spec rounds below minimum", "$6$rounds=10$roundstoolow", "the minimum number is still observed",
		"$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX."},
	{"openssl saltsalt", "$6$saltsalt", "secret",
		"$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"},
	{"openssl 200 byte password", "$6$x", strings.Repeat("p", 200),
		"$6$x$Og8CwFCqQEkk0AZKXcsGHxCrNdwWqPnBwzvpO.h9xWfJXjNFlo2FZkccTuWPbdWRKUjj/Lo7ipawFgT7NlA1A1"},
	{"glibc empty password", "$6$abc", "",
		"$6$abc$mJP3a6FyA8uCnzRtlnNypPwjnvpi5TP9qOrInzrfDmwxUQG38PkpCPdqfTb8JQfAngapMxeim4AZ..hSdRRzD."},
}

func TestSHA512CryptVectors(t *testing.T) {
	for _, v := range sha512CryptVectors {
		t.Run(v.name, func(t *testing.T) {
			got, err := cryptWithSetting(v.password, v.setting)
			if err != nil {
				t.Fatal(err)
			}
			if got != v.want {
				t.Errorf("crypt(%q, %q)\n got %s\nwant %s", v.password, v.setting, got, v.want)
			}
			if !CheckPassword(v.want, v.password) {
				t.Errorf("CheckPassword(%s, %q) = false", v.want, v.password)
			}
			if CheckPassword(v.want, v.password+"x") {
				t.Errorf("CheckPassword accepted a wrong password")
			}
		})
	}
}

func TestHashPassword(t *testing.T) {
	got, err := HashPassword("secret", "saltsalt")
	if err != nil {
		t.Fatal(err)
	}
	const want = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"
	if got != want {
		t.Errorf("HashPassword = %s, want %s", got, want)
	}

	r1, err := HashPassword("TANDBERG", "")
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := HashPassword("TANDBERG", "")
	if r1 == r2 {
		t.Errorf("two random salts gave the same hash %s", r1)
	}
	if !CheckPassword(r1, "TANDBERG") || CheckPassword(r1, "tandberg") {
		t.Errorf("random-salt hash %s does not check correctly", r1)
	}

	for _, bad := range []string{"has$dollar", "sp ace", "seventeen-chars-x", "ümlaut"} {
		if _, err := HashPassword("pw", bad); !errors.Is(err, ErrBadSalt) {
			t.Errorf("HashPassword(salt %q) err = %v, want ErrBadSalt", bad, err)
		}
	}
}

// TestHashPasswordOpenSSL checks our hashes against an independent tool.
func TestHashPasswordOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed; the fixed vectors still cover the algorithm")
	}
	for _, c := range []struct{ pw, salt string }{
		{"TANDBERG", "vxwayroot"}, {"x", "a"}, {"ünïcødé pässwörd", "./09AZaz"}, {strings.Repeat("long", 40), "sixteencharsalt."},
	} {
		out, err := exec.Command(openssl, "passwd", "-6", "-salt", c.salt, c.pw).Output()
		if err != nil {
			t.Fatalf("openssl passwd: %v", err)
		}
		got, err := HashPassword(c.pw, c.salt)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSpace(string(out)); got != want {
			t.Errorf("HashPassword(%q, %q) = %s, openssl says %s", c.pw, c.salt, got, want)
		}
	}
}

func TestCheckPasswordBcrypt(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("TANDBERG"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	hb := string(h)
	for _, c := range []struct {
		name, hash, pw string
		want           bool
	}{
		{"2a right", "$2a$" + hb[4:], "TANDBERG", true},
		{"2b right", "$2b$" + hb[4:], "TANDBERG", true},
		{"2y right", "$2y$" + hb[4:], "TANDBERG", true},
		{"2b wrong", "$2b$" + hb[4:], "tandberg", false},
		{"unknown scheme", "$1$abc$def", "TANDBERG", false},
		{"plain text is never a hash", "TANDBERG", "TANDBERG", false},
		{"empty hash", "", "", false},
		{"truncated sha512", "$6$saltsalt$TVLl", "secret", false},
		{"bad rounds", "$6$rounds=x$s$abc", "secret", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := CheckPassword(c.hash, c.pw); got != c.want {
				t.Errorf("CheckPassword(%q, %q) = %v, want %v", c.hash, c.pw, got, c.want)
			}
		})
	}
}

func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("TANDBERG", "saltsalt"); err != nil {
			b.Fatal(err)
		}
	}
}

// bcryptCost13 is bcrypt("TANDBERG") at cost 13, made once (it takes
// seconds).
const bcryptCost13 = "$2a$13$CWMFkvK3sKsr3wmUrUWYHua1L43g.rjOF7mH.Ur9xed2XjAhVf7.K"

func TestValidateHashCosts(t *testing.T) {
	rounds200k, err := cryptWithSetting("TANDBERG", "$6$rounds=200000$saltsalt")
	if err != nil {
		t.Fatal(err)
	}
	rounds100k, err := cryptWithSetting("TANDBERG", "$6$rounds=100000$saltsalt")
	if err != nil {
		t.Fatal(err)
	}
	cost12, err := bcrypt.GenerateFromPassword([]byte("TANDBERG"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	// A cost-31 hash (never made: it would take days); its cost field is
	// all ValidateHash reads.
	cost31 := "$2b$31$" + string(cost12)[7:]
	def, err := HashPassword("TANDBERG", "saltsalt")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, hash string
		ok         bool
		wantInErr  string
	}{
		{"default rounds", def, true, ""},
		{"100000 rounds", rounds100k, true, ""},
		{"200000 rounds", rounds200k, false, "200000 rounds"},
		{"a billion rounds", "$6$rounds=999999999$saltsalt$" + strings.Repeat("a", 86), false, "999999999 rounds"},
		{"bcrypt min cost", string(cost12), true, ""},
		{"bcrypt cost 13", bcryptCost13, false, "cost 13"},
		{"bcrypt cost 31", cost31, false, "cost 31"},
		{"md5-crypt", "$1$abc$def", false, "not a sha512-crypt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateHash(tt.hash)
			if tt.ok {
				if err != nil {
					t.Errorf("ValidateHash = %v, want nil", err)
				}
				if !CheckPassword(tt.hash, "TANDBERG") {
					t.Errorf("CheckPassword refuses the right password")
				}
				return
			}
			if !errors.Is(err, ErrBadHash) || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("ValidateHash = %v, want ErrBadHash naming %q", err, tt.wantInErr)
			}
		})
	}
	// Over the limits the right password matches nothing: a stored hash
	// cannot make a login spend more than the limit.
	for _, h := range []string{rounds200k, bcryptCost13} {
		if CheckPassword(h, "TANDBERG") {
			t.Errorf("CheckPassword(%.20s..., right password) = true, want false over the cost limit", h)
		}
	}
}
