package esl

import (
	"strings"
	"testing"
)

// cleanup is FreeSWITCH's cleanup_separated_string (switch_utils.c) for a
// space delimiter, written from its source: leading spaces skipped,
// backslash escapes read (\' \" \\ \<delim> and \n \r \t \s), paired single
// quotes removed, trailing spaces trimmed.
func cleanup(s string) string {
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	var out []byte
	end := 0
	inside := false
	for ; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			e := s[i+1]
			un := map[byte]byte{'n': '\n', 'r': '\r', 't': '\t', 's': ' '}
			if u, ok := un[e]; ok {
				out = append(out, u)
				end = len(out)
				i++
				continue
			}
			if e == '\'' || e == '"' || e == ' ' || e == '\\' {
				out = append(out, e)
				end = len(out)
				i++
				continue
			}
		}
		if c == '\'' && (inside || strings.IndexByte(s[i+1:], '\'') >= 0) {
			inside = !inside
			if inside {
				end = len(out)
			}
			continue
		}
		out = append(out, c)
		if c != ' ' || inside {
			end = len(out)
		}
	}
	return string(out[:end])
}

func TestArgEscape(t *testing.T) {
	tests := []struct{ give, want string }{
		{"1234", "1234"},
		{"O'Brien", `O\'Brien`},
		{"two words", `two\swords`},
		{` say "hi" `, `\ssay\s\"hi\"\s`},
		{`C:\temp\n`, `C:\\temp\\n`},
	}
	for _, tt := range tests {
		got := ArgEscape(tt.give)
		if got != tt.want {
			t.Errorf("ArgEscape(%q) = %q want %q", tt.give, got, tt.want)
		}
		if back := cleanup(got); back != tt.give {
			t.Errorf("FreeSWITCH would read %q as %q", got, back)
		}
	}
}

func FuzzArgEscape(f *testing.F) {
	f.Add("it's a \"test\" \\ of   spaces ")
	f.Fuzz(func(t *testing.T, s string) {
		if CheckValue(s) != nil {
			return
		}
		e := ArgEscape(s)
		if strings.ContainsAny(e, " '\"") && !escapedOnly(e) {
			t.Fatalf("%q: unescaped separator in %q", s, e)
		}
		if back := cleanup(e); back != s {
			t.Fatalf("%q escaped to %q reads back as %q", s, e, back)
		}
	})
}

// escapedOnly reports that every space or quote in e follows a backslash.
func escapedOnly(e string) bool {
	for i := 0; i < len(e); i++ {
		switch e[i] {
		case '\\':
			i++
		case ' ', '\'', '"':
			return false
		}
	}
	return true
}
