package fssim

import "strings"

// urlUnsafe is SWITCH_URL_UNSAFE (switch_utils.h): the bytes switch_url_encode
// escapes besides control and non-ASCII bytes.
const urlUnsafe = "\r\n #%&+:;<=>?@[\\]^`{|}\""

const hexUpper = "0123456789ABCDEF"

// appendURLEncode appends s encoded like switch_url_encode without double
// encoding: an existing "%XX" (uppercase hex) escape is kept as it is.
func appendURLEncode(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b == '%' && i+2 < len(s) && isUpperHex(s[i+1]) && isUpperHex(s[i+2]) {
			dst = append(dst, b)
			continue
		}
		if b < ' ' || b > '~' || strings.IndexByte(urlUnsafe, b) >= 0 {
			dst = append(dst, '%', hexUpper[b>>4], hexUpper[b&15])
			continue
		}
		dst = append(dst, b)
	}
	return dst
}

func isUpperHex(b byte) bool {
	return (b >= '0' && b <= '9') || (b >= 'A' && b <= 'F')
}

// urlEncode is appendURLEncode into a new string (not for the per-event path).
func urlEncode(s string) string {
	return string(appendURLEncode(make([]byte, 0, len(s)+8), s))
}

// urlDecode undoes appendURLEncode; malformed escapes stay as they are.
func urlDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func isHex(b byte) bool {
	return isUpperHex(b) || (b >= 'a' && b <= 'f')
}

func unhex(b byte) byte {
	switch {
	case b >= '0' && b <= '9':
		return b - '0'
	case b >= 'a' && b <= 'f':
		return b - 'a' + 10
	default:
		return b - 'A' + 10
	}
}

// atoi behaves like C atoi: leading spaces, an optional sign, digits, and 0
// when nothing parses.
func atoi(s string) int {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	n := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<40 {
			break
		}
	}
	if neg {
		return -n
	}
	return n
}

// switchTrue is switch_true: "yes", "on", "true", "t", "enabled", "active",
// "allow" or a non-zero number.
func switchTrue(s string) bool {
	switch strings.ToLower(s) {
	case "yes", "on", "true", "t", "enabled", "active", "allow":
		return true
	}
	return s != "" && s[0] >= '0' && s[0] <= '9' && atoi(s) != 0
}

// separateString is switch_separate_string: split on delim (a space delimiter
// collapses runs of spaces), honour single quotes and backslash escapes, and
// accept a leading "^^X" that switches the delimiter to X. At most max
// fields; the last one keeps the rest of the input.
func separateString(s string, delim byte, max int) []string {
	if s == "" || max <= 0 {
		return nil
	}
	if len(s) > 3 && s[0] == '^' && s[1] == '^' {
		delim = s[2]
		s = s[3:]
	}
	var fields []string
	if delim == ' ' {
		fields = splitBlank(s, max)
	} else {
		fields = splitDelim(s, delim, max)
	}
	for i, f := range fields {
		if delim == ' ' {
			fields[i] = cleanupSeparated(f, 0)
		} else {
			fields[i] = cleanupSeparated(f, delim)
		}
	}
	return fields
}

func splitDelim(s string, delim byte, max int) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		if len(out) == max-1 {
			break
		}
		switch {
		case s[i] == '\\':
			i++
		case s[i] == '\'' && (quoted || strings.IndexByte(s[i+1:], '\'') >= 0):
			quoted = !quoted
		case s[i] == delim && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func splitBlank(s string, max int) []string {
	var out []string
	i := 0
	for i < len(s) && len(out) < max {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			if len(out) == 0 {
				out = append(out, "")
			}
			break
		}
		if len(out) == max-1 {
			out = append(out, s[i:])
			break
		}
		start, quoted := i, false
		for i < len(s) {
			if s[i] == '\\' {
				i += 2
				continue
			}
			if s[i] == '\'' {
				quoted = !quoted
			} else if s[i] == ' ' && !quoted {
				break
			}
			i++
		}
		out = append(out, s[start:min(i, len(s))])
	}
	return out
}

// cleanupSeparated strips quotes, escapes and surrounding spaces the way
// cleanup_separated_string does.
func cleanupSeparated(s string, delim byte) string {
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	var b strings.Builder
	end := 0
	quoted := false
	for ; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			e := s[i+1]
			u := unescapeChar(e)
			if e == '\'' || e == '"' || (delim != 0 && e == delim) || e == '\\' || u != e {
				b.WriteByte(u)
				i++
				end = b.Len()
				continue
			}
		}
		if c == '\'' && (quoted || strings.IndexByte(s[i+1:], '\'') >= 0) {
			quoted = !quoted
			if quoted {
				end = b.Len()
			}
			continue
		}
		b.WriteByte(c)
		if c != ' ' || quoted {
			end = b.Len()
		}
	}
	return b.String()[:end]
}

func unescapeChar(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 's':
		return ' '
	}
	return c
}

// expandVars replaces ${name} with the channel variable (or caller profile
// field), as switch_channel_expand_variables does for plain variables; API
// expansions ${api(args)} and $${globals} expand to nothing.
func expandVars(s string, get func(string) (string, bool)) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		if s[i] != '$' || i+1 >= len(s) || s[i+1] != '{' {
			b.WriteByte(s[i])
			continue
		}
		depth, j := 1, i+2
		for ; j < len(s) && depth > 0; j++ {
			switch s[j] {
			case '{':
				depth++
			case '}':
				depth--
			}
		}
		if depth > 0 {
			b.WriteString(s[i:])
			break
		}
		name := expandVars(s[i+2:j-1], get)
		if strings.ContainsAny(name, "( ") {
			i = j - 1
			continue
		}
		if v, ok := get(name); ok {
			b.WriteString(v)
		}
		i = j - 1
	}
	return b.String()
}
