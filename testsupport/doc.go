// Package testsupport holds the helpers that the tests of several vxway
// packages share, so that each exists once: a goroutine-safe buffer for
// logs and consoles, a terminal transcript that waits for text, polling for
// an outcome, fake device roots laid out the way the image, init and the
// kernel leave them, and the check behind the test that every package of
// the module has a doc comment.
//
// Only tests import it. Its waits are bounds on a hung program, never
// timings that a test asserts.
package testsupport
