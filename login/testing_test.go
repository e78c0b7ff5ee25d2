package login

import (
	"testing"

	"vxway/platform"
	"vxway/testsupport"
)

// newUsers makes a root whose image facts give root the password
// rootpass1 and admin adminpass1, and returns the platform's users store.
func newUsers(t *testing.T) *platform.Users {
	t.Helper()
	info := &platform.ImageInfo{Hostname: "vx1", PasswordHashes: testsupport.PasswordHashes(t, "rootpass1", "adminpass1")}
	return platform.NewUsers(testsupport.DeviceRoot(t, info), nil)
}

// testAccounts gives both accounts /bin/sh, so the tests see which account
// logged in from $USER.
func testAccounts() []Account {
	return []Account{
		{Name: "root", Shell: "/bin/sh", Home: "/"},
		{Name: "admin", Shell: "/bin/sh", Home: "/"},
	}
}
