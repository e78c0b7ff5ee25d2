package ssm

import "testing"

// TestTokensNeverStartWithDash: a token pasted after a command must not
// be taken for an option (about one random base64url string in 64 starts
// with '-').
func TestTokensNeverStartWithDash(t *testing.T) {
	for range 5000 {
		tok, err := newTokenString()
		if err != nil {
			t.Fatal(err)
		}
		if tok[0] == '-' {
			t.Fatalf("token %q starts with '-'", tok)
		}
		if len(tok) != 48 {
			t.Fatalf("token %q is %d characters, want 48", tok, len(tok))
		}
	}
}
