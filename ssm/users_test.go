package ssm

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"vxway/licproto"
)

func TestUsers(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		seed(t, s)
		must(t, s.CreateAccount(ctx, "Other", t0))
		must(t, s.CreateVA(ctx, "Other", "Elsewhere", t0))

		t.Run("refused", func(t *testing.T) {
			for _, tc := range []struct {
				name, user    string
				role          Role
				account, va   string
				want          error
				wantSubstring string
			}{
				{"bad role", "x", "root", "", "", ErrInvalid, "not one of"},
				{"bad name", "a b", RoleManagerAdmin, "", "", ErrInvalid, "letters, digits"},
				{"empty name", "", RoleManagerAdmin, "", "", ErrInvalid, "empty"},
				{"admin with account", "x", RoleManagerAdmin, "Acme", "", ErrInvalid, "leave out"},
				{"account admin without account", "x", RoleAccountAdmin, "", "", ErrInvalid, "needs --account"},
				{"account admin of nothing", "x", RoleAccountAdmin, "Nope", "", ErrNotFound, `smart account "Nope"`},
				{"va user without va", "x", RoleVAUser, "", "", ErrInvalid, "needs --va"},
				{"va user of nothing", "x", RoleVAUser, "", "Nope", ErrNotFound, `virtual account "Nope"`},
				{"va user, wrong account", "x", RoleVAUser, "Other", "Lab", ErrInvalid, `is in smart account "Acme"`},
			} {
				t.Run(tc.name, func(t *testing.T) {
					_, _, err := s.AddUser(ctx, tc.user, tc.role, tc.account, tc.va, t0)
					if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.wantSubstring) {
						t.Fatalf("got %v, want %v saying %q", err, tc.want, tc.wantSubstring)
					}
				})
			}
			if list, err := s.Users(ctx); err != nil || len(list) != 0 {
				t.Fatalf("refused users were stored: %v %v", list, err)
			}
		})

		pw, u, err := s.AddUser(ctx, "carol", RoleVAUser, "", "Lab", t0)
		must(t, err)
		if u.Account != "Acme" || u.VA != "Lab" || !u.MustChange || len(pw) != 16 {
			t.Fatalf("added %+v with password %q", u, pw)
		}
		if _, _, err := s.AddUser(ctx, "carol", RoleManagerAdmin, "", "", t0); !errors.Is(err, ErrExists) {
			t.Fatalf("second carol: %v", err)
		}

		t.Run("sign-in", func(t *testing.T) {
			if _, err := s.Authenticate(ctx, "carol", pw+"x"); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("wrong password: %v", err)
			}
			if _, err := s.Authenticate(ctx, "nobody", pw); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("unknown user: %v", err)
			}
			if _, err := s.Authenticate(ctx, "carol", strings.Repeat("a", MaxPasswordLen+1)); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("overlong password: %v", err)
			}
			got, err := s.Authenticate(ctx, "carol", pw)
			if err != nil || got.Name != "carol" {
				t.Fatalf("right password: %v %v", got, err)
			}
		})

		t.Run("stored hash", func(t *testing.T) {
			_, hashes, err := s.users(ctx, `u.name = ?`, "carol")
			must(t, err)
			if !strings.HasPrefix(hashes[0], "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(hashes[0], pw) {
				t.Fatalf("stored password hash %q", hashes[0])
			}
		})

		t.Run("change password", func(t *testing.T) {
			before, _ := s.User(ctx, "carol")
			if _, err := s.ChangePassword(ctx, "carol", "wrong", "a-good-long-one", t0); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("wrong current: %v", err)
			}
			if _, err := s.ChangePassword(ctx, "carol", pw, "short", t0); !errors.Is(err, ErrInvalid) {
				t.Fatalf("short: %v", err)
			}
			if after, _ := s.User(ctx, "carol"); after.Stamp != before.Stamp || !after.MustChange {
				t.Fatal("a refused change changed the password")
			}
			nu, err := s.ChangePassword(ctx, "carol", pw, "a-good-long-one", t0)
			must(t, err)
			if nu.MustChange || nu.Stamp == before.Stamp {
				t.Fatalf("after the change: %+v (stamp before %s)", nu, before.Stamp)
			}
			if _, err := s.Authenticate(ctx, "carol", pw); !errors.Is(err, ErrBadCredentials) {
				t.Fatal("the one-time password still works")
			}
			np, err := s.ResetPassword(ctx, "carol", t0)
			must(t, err)
			if got, err := s.Authenticate(ctx, "carol", np); err != nil || !got.MustChange {
				t.Fatalf("after a reset: %+v %v", got, err)
			}
		})

		t.Run("api tokens", func(t *testing.T) {
			tok, info, err := s.CreateUserToken(ctx, "carol", t0)
			must(t, err)
			if !strings.HasPrefix(tok, "ssmu_") || strings.Contains(info.Hint, tok) {
				t.Fatalf("token %q hint %q", tok, info.Hint)
			}
			got, err := s.UserByToken(ctx, tok)
			if err != nil || got.Name != "carol" || got.VA != "Lab" {
				t.Fatalf("by token: %+v %v", got, err)
			}
			if _, err := s.UserByToken(ctx, tok+"x"); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("wrong token: %v", err)
			}
			n, err := s.RevokeUserTokens(ctx, "carol")
			if err != nil || n != 1 {
				t.Fatalf("revoked %d: %v", n, err)
			}
			if _, err := s.UserByToken(ctx, tok); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("revoked token: %v", err)
			}
		})

		t.Run("delete", func(t *testing.T) {
			tok, _, err := s.CreateUserToken(ctx, "carol", t0)
			must(t, err)
			must(t, s.DeleteUser(ctx, "carol"))
			if _, err := s.UserByToken(ctx, tok); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("token of a deleted user: %v", err)
			}
			if err := s.DeleteUser(ctx, "carol"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("deleting again: %v", err)
			}
		})
	})
}

func TestScope(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		seed(t, s)
		must(t, s.CreateAccount(ctx, "Other", t0))
		must(t, s.CreateVA(ctx, "Other", "Elsewhere", t0))
		_, admin, err := s.AddUser(ctx, "root", RoleManagerAdmin, "", "", t0)
		must(t, err)
		_, acme, err := s.AddUser(ctx, "acme", RoleAccountAdmin, "Acme", "", t0)
		must(t, err)
		_, lab, err := s.AddUser(ctx, "lab", RoleVAUser, "", "Lab", t0)
		must(t, err)
		for _, tc := range []struct {
			u    *User
			va   string
			want bool
		}{
			{admin, "Default", true}, {admin, "Elsewhere", true},
			{acme, "Default", true}, {acme, "Lab", true}, {acme, "Elsewhere", false},
			{lab, "Lab", true}, {lab, "Default", false}, {lab, "Elsewhere", false},
		} {
			t.Run(tc.u.Name+"/"+tc.va, func(t *testing.T) {
				err := s.ScopeVA(ctx, tc.u, tc.va)
				if (err == nil) != tc.want {
					t.Fatalf("ScopeVA: %v, want allowed %v", err, tc.want)
				}
				if err != nil {
					// Refused exactly like a virtual account that does
					// not exist.
					missing := s.ScopeVA(ctx, tc.u, "No such")
					if !errors.Is(err, ErrNotFound) || strings.ReplaceAll(err.Error(), tc.va, "X") != strings.ReplaceAll(missing.Error(), "No such", "X") {
						t.Fatalf("refusal %q differs from a missing account's %q", err, missing)
					}
				}
			})
		}
		accts, err := s.VisibleAccounts(ctx, lab)
		must(t, err)
		if len(accts) != 1 || accts[0].Name != "Acme" || len(accts[0].VirtualAccounts) != 1 || accts[0].VirtualAccounts[0] != "Lab" {
			t.Fatalf("a va-user sees %+v", accts)
		}
		accts, err = s.VisibleAccounts(ctx, acme)
		must(t, err)
		if len(accts) != 1 || accts[0].Name != "Acme" {
			t.Fatalf("an account-admin sees %+v", accts)
		}
	})
}

func TestTransferLicenses(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		seed(t, s)
		must(t, s.CreateAccount(ctx, "Other", t0))
		must(t, s.CreateVA(ctx, "Other", "Elsewhere", t0))
		for _, tc := range []struct {
			name, from, to string
			typ            licproto.LicenseType
			n              int
			want           error
			says           string
		}{
			{"too many", "Default", "Lab", licproto.RMS, 11, ErrInvalid, "10 rms licenses available"},
			{"zero", "Default", "Lab", licproto.RMS, 0, ErrInvalid, "outside"},
			{"bad type", "Default", "Lab", "gold", 1, ErrInvalid, "not one of"},
			{"same", "Default", "Default", licproto.RMS, 1, ErrInvalid, "already in"},
			{"other smart account", "Default", "Elsewhere", licproto.RMS, 1, ErrInvalid, "different smart accounts"},
			{"missing", "Default", "Nope", licproto.RMS, 1, ErrNotFound, `"Nope"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := s.TransferLicenses(ctx, tc.from, tc.to, tc.typ, tc.n, t0)
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("got %v, want %v saying %q", err, tc.want, tc.says)
				}
			})
		}
		must(t, s.TransferLicenses(ctx, "Default", "Lab", licproto.RMS, 4, t0))
		def, _ := s.Licenses(ctx, "Default")
		lab, _ := s.Licenses(ctx, "Lab")
		if def[0].Purchased != 6 || lab[0].Purchased != 4 {
			t.Fatalf("after moving 4 rms: Default %+v, Lab %+v", def[0], lab[0])
		}
		ev, _ := s.Events(ctx, "Lab", 0)
		if len(ev) != 1 || ev[0].Kind != EventLicensesTransferred || ev[0].Detail != "4 rms transferred from Default" {
			t.Fatalf("Lab events %+v", ev)
		}
	})
}

// TestTextFromFormsRefused: a token description or an account name that
// is not UTF-8, or holds a C1 control character (U+0080..U+009F, which a
// terminal may take as an escape when ssm token list prints it), is
// refused as invalid on both databases, and nothing is stored. Form
// fields, unlike JSON strings, reach the store undecoded.
func TestTextFromFormsRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		seed(t, s)
		for _, bad := range []string{"caf\xe9", "x\u009b2J", "\xff"} {
			t.Run(strconv.Quote(bad), func(t *testing.T) {
				if _, _, err := s.CreateToken(ctx, "Default", TokenOptions{Description: bad}, t0); !errors.Is(err, ErrInvalid) {
					t.Errorf("token description %q: %v, want ErrInvalid", bad, err)
				}
				if err := s.CreateAccount(ctx, bad, t0); !errors.Is(err, ErrInvalid) {
					t.Errorf("account name %q: %v, want ErrInvalid", bad, err)
				}
				if err := s.CreateVA(ctx, "Acme", bad, t0); !errors.Is(err, ErrInvalid) {
					t.Errorf("virtual account name %q: %v, want ErrInvalid", bad, err)
				}
			})
		}
		if list, _ := s.Tokens(ctx, "Default"); len(list) != 0 {
			t.Errorf("refused tokens stored: %v", list)
		}
		if list, _ := s.Accounts(ctx); len(list) != 1 || len(list[0].VirtualAccounts) != 2 {
			t.Errorf("refused accounts stored: %v", list)
		}
		if _, _, err := s.CreateToken(ctx, "Default", TokenOptions{Description: "Café Zürich lab"}, t0); err != nil {
			t.Errorf("a UTF-8 description: %v", err)
		}
	})
}
