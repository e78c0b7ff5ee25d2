package vmtest

import (
	"testing"
)

func TestConsoleCleansAndAnswers(t *testing.T) {
	c := newConsole()
	var replies []string
	c.reply = func(s string) { replies = append(replies, s) }
	// Split across writes, as a pipe delivers it.
	for _, chunk := range []string{"Pass", "word: \r\n\x1b]10;?\x1b\\\x1b[6", "n\x1b[?25l> \r\r\n\x1b[0D\x1b[2Kecho hi\r\n", "hi\r\n"} {
		if _, err := c.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := c.transcript(), "Password: \n> \necho hi\nhi\n"; got != want {
		t.Errorf("clean text = %q, want %q", got, want)
	}
	if len(replies) != 1 || replies[0] != "\x1b[1;1R" {
		t.Errorf("replies = %q, want one cursor position report", replies)
	}
}

func TestStripEcho(t *testing.T) {
	tests := []struct{ out, typed, want string }{
		{"> ls; echo VX''END1:$?\nbin\netc\n", "VX''END1", "bin\netc"},
		{"> l\n> ls; echo VX''END1\n> ls; echo VX''END1:$?\nbin\n", "VX''END1", "bin"},
		{"no echo\n", "VX''END1", "no echo"},
	}
	for _, tt := range tests {
		if got := stripEcho(tt.out, tt.typed); got != tt.want {
			t.Errorf("stripEcho(%q) = %q, want %q", tt.out, got, tt.want)
		}
	}
}
