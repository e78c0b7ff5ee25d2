// Package tomlline finds the line on which each key of a TOML document is
// set, so that a validator can say "line N: key: problem". BurntSushi/toml
// keeps key positions to itself; appliance.toml (appconfig) and the
// provisioning seed (firstboot) both report problems through this scanner.
package tomlline

import (
	"strings"
)

// Lines maps each key of a TOML document that parsed cleanly to the line
// (from 1) where it is set or its table starts, by dotted full name:
// "version", "network", "network.dns_servers", "users.admin". A dotted key
// also records each of its prefixes ("a.b.c = 1" gives "a" and "a.b" too);
// the first line wins. Quoted key parts are unquoted, spaces around dots
// dropped, and values that span lines (arrays, multi-line strings) are
// skipped over, so a key-like line inside them is not recorded. The result
// for a document that does not parse as TOML is unspecified.
func Lines(doc string) map[string]int {
	lines := map[string]int{}
	set := func(k string, n int) {
		if _, ok := lines[k]; !ok {
			lines[k] = n
		}
	}
	table := ""
	depth := 0  // open [ of a multi-line array
	multi := "" // closing delimiter of a multi-line string
	for i, raw := range strings.Split(doc, "\n") {
		n := i + 1
		line := raw
		if multi != "" {
			idx := strings.Index(line, multi)
			if idx < 0 {
				continue
			}
			multi = ""
			line = line[idx+3:]
		}
		if depth > 0 {
			depth, multi = scanValue(line, depth)
			continue
		}
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' {
			continue
		}
		if t[0] == '[' {
			name := strings.TrimPrefix(t, "[[")
			name = strings.TrimPrefix(name, "[")
			if end := strings.Index(name, "]"); end >= 0 {
				name = name[:end]
			}
			table = normKey(name)
			parts := strings.Split(table, ".")
			for j := range parts {
				set(strings.Join(parts[:j+1], "."), n)
			}
			continue
		}
		eq := indexOutsideQuotes(t, '=')
		if eq < 0 {
			continue
		}
		key := normKey(t[:eq])
		full := key
		if table != "" {
			full = table + "." + key
		}
		parts := strings.Split(full, ".")
		for j := range parts {
			set(strings.Join(parts[:j+1], "."), n)
		}
		depth, multi = scanValue(t[eq+1:], 0)
	}
	return lines
}

// normKey turns a TOML key as written (spaces around dots, quoted parts)
// into its dotted form.
func normKey(k string) string {
	var parts []string
	for _, p := range splitOutsideQuotes(k, '.') {
		p = strings.TrimSpace(p)
		if len(p) >= 2 && (p[0] == '"' && p[len(p)-1] == '"' || p[0] == '\'' && p[len(p)-1] == '\'') {
			p = p[1 : len(p)-1]
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ".")
}

func indexOutsideQuotes(s string, c byte) int {
	var q byte
	for i := 0; i < len(s); i++ {
		switch {
		case q != 0 && s[i] == '\\' && q == '"':
			i++
		case q != 0 && s[i] == q:
			q = 0
		case q == 0 && (s[i] == '"' || s[i] == '\''):
			q = s[i]
		case q == 0 && s[i] == c:
			return i
		}
	}
	return -1
}

func splitOutsideQuotes(s string, c byte) []string {
	var out []string
	for {
		i := indexOutsideQuotes(s, c)
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}

// scanValue follows a value's text from the given array depth and reports
// the depth at its end and the delimiter of a multi-line string left open.
func scanValue(s string, depth int) (int, string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '#':
			return depth, ""
		case strings.HasPrefix(s[i:], `"""`) || strings.HasPrefix(s[i:], `'''`):
			delim := s[i : i+3]
			end := strings.Index(s[i+3:], delim)
			if end < 0 {
				return depth, delim
			}
			i += 3 + end + 2
		case c == '"' || c == '\'':
			for i++; i < len(s) && s[i] != c; i++ {
				if c == '"' && s[i] == '\\' {
					i++
				}
			}
		case c == '[':
			depth++
		case c == ']':
			depth--
		}
	}
	return depth, ""
}
