package webui

import (
	"time"

	"vxway/platform"
	"vxway/websession"
)

// SessionCookie is the name of the session cookie.
const SessionCookie = "vxsession"

// Session timeouts of the device: the idle timeout is the device's
// setting (xconfiguration SystemUnit SessionTimeout, 30 minutes by
// default); Options can fix both.
const (
	DefaultIdleTimeout = platform.DefaultSessionTimeout * time.Minute
	DefaultMaxLifetime = 8 * time.Hour
)

// CSRFField is the hidden form field holding the CSRF token.
const CSRFField = websession.CSRFField

// loginCookie holds the token of the sign-in form, before any session
// exists (a double-submit token: a cross-site page can neither read the
// cookie nor set it).
const loginCookie = "vxlogin"

// LockoutPolicy slows and locks sign-in after failures (see
// websession.LockoutPolicy).
type LockoutPolicy = websession.LockoutPolicy

// DefaultLockout is the device's sign-in lockout.
var DefaultLockout = websession.DefaultLockout

// The session store, sessions and lockout are websession's, shared with
// the license manager's portal.
type (
	session = websession.Session
	flash   = websession.Flash
)
