// Package websession holds what the device's web interface (package
// webui) and the license manager's portal (package ssm/portal) share about
// signed-in browsers: sessions kept in memory with an idle timeout and an
// absolute lifetime, the CSRF checks of state-changing forms, and the
// sign-in lockout that slows and then locks repeated failures per account
// and per source address. It links no device package, so the manager may
// import it.
package websession
