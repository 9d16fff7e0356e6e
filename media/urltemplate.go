package media

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// TemplateValues fill a URL template's placeholders.
type TemplateValues struct {
	Session   string // {session}: ailb's id for this attempt
	From      string // {from}: the caller
	To        string // {to}: the number called
	BotID     string // {bot_id}: the assistant's id at its provider
	AuthToken string // {auth_token}: a secret; only Render writes it
	CallUUID  string // {call_uuid}: FreeSWITCH's channel uuid
}

type placeholder uint8

const (
	phNone placeholder = iota
	phSession
	phFrom
	phTo
	phBotID
	phAuthToken
	phCallUUID
)

var placeholderNames = [...]string{
	phSession: "session", phFrom: "from", phTo: "to", phBotID: "bot_id",
	phAuthToken: "auth_token", phCallUUID: "call_uuid",
}

func (v *TemplateValues) get(p placeholder) string {
	switch p {
	case phSession:
		return v.Session
	case phFrom:
		return v.From
	case phTo:
		return v.To
	case phBotID:
		return v.BotID
	case phAuthToken:
		return v.AuthToken
	case phCallUUID:
		return v.CallUUID
	}
	return ""
}

// tplPart is a literal or a placeholder; parts of one path segment or one
// query value are rendered together.
type tplPart struct {
	lit string
	ph  placeholder
}

type tplQuery struct {
	key    string // literal, already valid
	eq     bool   // "key=value" rather than a bare "key"
	value  []tplPart
	secret bool // a literal value under a key that looks like a credential
}

// URLTemplate is a ws:// or wss:// URL with placeholders in its path
// segments and query values. Placeholders may not appear in the scheme,
// the host or a query key, so no value can redirect the connection.
type URLTemplate struct {
	scheme   string      // "ws" or "wss"
	userinfo string      // literal "user:pass", may be empty; never printed
	host     string      // host[:port]
	segments [][]tplPart // path segments after the leading '/'
	query    []tplQuery
	hasQuery bool // a '?' was written, even with nothing after it
}

// ParseURLTemplate parses and checks a template. Errors name the problem
// but never quote the template, which may hold a credential.
func ParseURLTemplate(s string) (*URLTemplate, error) {
	t, err := parseURLTemplate(s)
	if err != nil {
		return nil, fmt.Errorf("url template: %w", err)
	}
	return t, nil
}

func parseURLTemplate(s string) (*URLTemplate, error) {
	t := &URLTemplate{}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return nil, errors.New("missing scheme: want ws:// or wss://")
	}
	switch strings.ToLower(scheme) {
	case "ws", "wss":
		t.scheme = strings.ToLower(scheme)
	default:
		return nil, fmt.Errorf("scheme %q: want ws or wss", truncate(scheme, 16))
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c <= ' ' || c >= 0x7F {
			return nil, fmt.Errorf("byte %d: %q is not allowed in a URL", len(scheme)+3+i, c)
		}
	}
	if strings.ContainsRune(rest, '#') {
		return nil, errors.New("a fragment (#) is not allowed in a WebSocket URL")
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, rest := rest[:end], rest[end:]
	if strings.ContainsAny(authority, "{}") {
		return nil, errors.New("placeholders are not allowed in the host or user info")
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		t.userinfo, authority = authority[:i], authority[i+1:]
	}
	u, err := url.Parse("ws://" + authority)
	if err != nil || u.Host != authority || u.Hostname() == "" {
		return nil, errors.New("host: want host or host:port")
	}
	t.host = authority
	path, query, hasQuery := strings.Cut(rest, "?")
	t.hasQuery = hasQuery
	if path != "" {
		for _, seg := range strings.Split(path[1:], "/") {
			if seg == "." || seg == ".." {
				return nil, errors.New("path: dot segments are not allowed")
			}
			parts, err := parseParts(seg)
			if err != nil {
				return nil, fmt.Errorf("path: %w", err)
			}
			t.segments = append(t.segments, parts)
		}
	}
	if query != "" {
		for _, kv := range strings.Split(query, "&") {
			k, v, eq := strings.Cut(kv, "=")
			if strings.ContainsAny(k, "{}") {
				return nil, errors.New("query: placeholders are not allowed in a parameter name")
			}
			if k == "" {
				return nil, errors.New("query: empty parameter name")
			}
			parts, err := parseParts(v)
			if err != nil {
				return nil, fmt.Errorf("query %q: %w", truncate(k, 32), err)
			}
			t.query = append(t.query, tplQuery{key: k, eq: eq, value: parts, secret: secretKey(k) && hasLiteral(parts)})
		}
	}
	// The literals must already be valid: render with harmless values and
	// let the standard parsers judge.
	probe := TemplateValues{"s", "f", "t", "b", "a", "c"}
	r := t.render(&probe, false)
	pu, err := url.Parse(r)
	if err != nil {
		return nil, errors.New("malformed URL (check percent escapes)")
	}
	if _, err := url.ParseQuery(pu.RawQuery); err != nil {
		return nil, errors.New("malformed query (check percent escapes)")
	}
	if t.userinfo != "" {
		if _, err := url.Parse("ws://" + t.userinfo + "@h"); err != nil {
			return nil, errors.New("malformed user info")
		}
	}
	return t, nil
}

// parseParts splits literal text and {placeholders}.
func parseParts(s string) ([]tplPart, error) {
	var parts []tplPart
	for s != "" {
		open := strings.IndexByte(s, '{')
		if c := strings.IndexByte(s, '}'); c >= 0 && (open < 0 || c < open) {
			return nil, errors.New("'}' without '{'")
		}
		if open < 0 {
			parts = append(parts, tplPart{lit: s})
			break
		}
		if open > 0 {
			parts = append(parts, tplPart{lit: s[:open]})
		}
		closing := strings.IndexByte(s[open:], '}')
		if closing < 0 {
			return nil, errors.New("'{' without '}'")
		}
		name := s[open+1 : open+closing]
		ph := phNone
		for p, n := range placeholderNames {
			if n != "" && n == name {
				ph = placeholder(p)
			}
		}
		if ph == phNone {
			return nil, fmt.Errorf("unknown placeholder {%s} (known: {session} {from} {to} {bot_id} {auth_token} {call_uuid})", truncate(name, 32))
		}
		parts = append(parts, tplPart{ph: ph})
		s = s[open+closing+1:]
	}
	return parts, nil
}

func hasLiteral(parts []tplPart) bool {
	for _, p := range parts {
		if p.ph == phNone && p.lit != "" {
			return true
		}
	}
	return false
}

// secretKey reports query parameter names that usually carry credentials;
// their literal values are redacted like {auth_token}.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"token", "key", "secret", "pass", "pwd", "auth", "sig", "jwt", "cred"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// Render fills the template. Each value is escaped for where it stands:
// a path segment escapes '/', '?', '#' and a whole-segment "." or "..";
// a query value escapes '&', '=', '+' and '#'. No value can change the
// scheme, host, number of path segments or set of query parameters.
func (t *URLTemplate) Render(v TemplateValues) string { return t.render(&v, false) }

// Redacted renders the template for logs: {auth_token}, the user info and
// literal values of credential-like query parameters become REDACTED.
func (t *URLTemplate) Redacted(v TemplateValues) string { return t.render(&v, true) }

// String shows the template with its placeholders and without secrets.
func (t *URLTemplate) String() string { return t.render(nil, true) }

const redacted = "REDACTED"

// render writes the URL; with v nil placeholders are written as {name}.
func (t *URLTemplate) render(v *TemplateValues, redact bool) string {
	var b strings.Builder
	b.Grow(64)
	b.WriteString(t.scheme)
	b.WriteString("://")
	if t.userinfo != "" {
		if redact {
			b.WriteString(redacted)
		} else {
			b.WriteString(t.userinfo)
		}
		b.WriteByte('@')
	}
	b.WriteString(t.host)
	var seg strings.Builder
	for _, parts := range t.segments {
		seg.Reset()
		t.renderParts(&seg, parts, v, redact, url.PathEscape)
		s := seg.String()
		if s == "." || s == ".." {
			// Only values can make a dot segment (literal ones are
			// rejected): escaped, it stays a plain segment.
			s = strings.ReplaceAll(s, ".", "%2E")
		}
		b.WriteByte('/')
		b.WriteString(s)
	}
	if t.hasQuery {
		b.WriteByte('?')
	}
	for i, q := range t.query {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(q.key)
		if !q.eq {
			continue
		}
		b.WriteByte('=')
		if redact && q.secret {
			b.WriteString(redacted)
			continue
		}
		t.renderParts(&b, q.value, v, redact, url.QueryEscape)
	}
	return b.String()
}

func (t *URLTemplate) renderParts(b *strings.Builder, parts []tplPart, v *TemplateValues, redact bool, esc func(string) string) {
	for _, p := range parts {
		switch {
		case p.ph == phNone:
			b.WriteString(p.lit)
		case v == nil:
			b.WriteString("{" + placeholderNames[p.ph] + "}")
		case redact && p.ph == phAuthToken:
			b.WriteString(redacted)
		default:
			b.WriteString(esc(v.get(p.ph)))
		}
	}
}

// truncate shortens text quoted in errors.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
