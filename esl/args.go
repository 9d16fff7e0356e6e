package esl

import "strings"

// ArgEscape makes s one argument of a FreeSWITCH API command (uuid_setvar
// and the like), which switch_separate_string splits on spaces after
// pairing single quotes and reading backslash escapes. Every space, quote
// and backslash is escaped, so the value arrives exactly as given. s must
// hold no CR, LF or NUL (see CheckValue).
func ArgEscape(s string) string {
	if !strings.ContainsAny(s, " '\"\\") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ':
			b.WriteString(`\s`)
		case '\'', '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
