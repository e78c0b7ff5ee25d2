package bundle

// CompareVersions orders two software versions such as X14.2.0-vxway and
// X14.10.1-vxway: runs of digits compare as numbers, other runs as text.
// It returns -1, 0 or +1.
func CompareVersions(a, b string) int {
	for a != "" && b != "" {
		ra, resta := run(a)
		rb, restb := run(b)
		if c := compareRun(ra, rb); c != 0 {
			return c
		}
		a, b = resta, restb
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// run splits off the leading run of digits or of non-digits.
func run(s string) (string, string) {
	d := isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == d {
		i++
	}
	return s[:i], s[i:]
}

func compareRun(a, b string) int {
	if isDigit(a[0]) && isDigit(b[0]) {
		for len(a) > 1 && a[0] == '0' {
			a = a[1:]
		}
		for len(b) > 1 && b[0] == '0' {
			b = b[1:]
		}
		if len(a) != len(b) {
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
