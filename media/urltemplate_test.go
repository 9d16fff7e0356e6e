package media

import (
	"net/url"
	"strings"
	"testing"
)

func TestParseURLTemplateErrors(t *testing.T) {
	tests := []struct {
		give string
		want string // substring of the error; "" means valid
	}{
		{give: "wss://ai.example.com/v1/{bot_id}/stream?session={session}&token={auth_token}"},
		{give: "ws://127.0.0.1:8090/calls/{call_uuid}"},
		{give: "WSS://user:pw@ai.example.com"},
		{give: "wss://[::1]:443/x?flag&from={from}&to=+{to}"},
		{give: "https://ai.example.com/", want: `scheme "https": want ws or wss`},
		{give: "ai.example.com/stream", want: "missing scheme"},
		{give: "wss://ai.example.com/{foo}", want: "unknown placeholder {foo}"},
		{give: "wss://ai.example.com/?a={Session}", want: "unknown placeholder {Session}"},
		{give: "wss://{bot_id}.example.com/", want: "not allowed in the host"},
		{give: "wss://{auth_token}@example.com/", want: "not allowed in the host"},
		{give: "wss://example.com/?{from}=1", want: "not allowed in a parameter name"},
		{give: "wss://example.com/x{session", want: "'{' without '}'"},
		{give: "wss://example.com/x}", want: "'}' without '{'"},
		{give: "wss://example.com/a b", want: "not allowed in a URL"},
		{give: "wss://example.com/#frag", want: "fragment"},
		{give: "wss://example.com:port/", want: "host"},
		{give: "wss:///path", want: "host"},
		{give: "wss://example.com/%zz", want: "malformed URL"},
		{give: "wss://example.com/?a=%zz", want: "malformed query"},
		{give: "wss://example.com/../admin", want: "dot segments"},
		{give: "wss://example.com/?&a=1", want: "empty parameter name"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			_, err := ParseURLTemplate(tt.give)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("no error, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseURLTemplateErrorsHideSecrets(t *testing.T) {
	for _, give := range []string{
		"wss://user:s3cret@example.com/{nope}",
		"wss://example.com/?key=s3cret&x={nope}",
		"wss://example.com/s3cret/%zz",
	} {
		_, err := ParseURLTemplate(give)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("error %v for %q leaks the secret", err, give)
		}
	}
}

var testValues = TemplateValues{
	Session:   "s-1",
	From:      "+1 (555) 010/0?x=1&y#",
	To:        "1020",
	BotID:     "..",
	AuthToken: "tok/en&x=1",
	CallUUID:  "8399095e-1e1d-4305-a9d2-eeba61e30370",
}

func TestURLTemplateRender(t *testing.T) {
	tests := []struct {
		give, want, redacted string
	}{
		{
			give:     "wss://ai.example.com/v1/{bot_id}/stream?session={session}&token={auth_token}",
			want:     "wss://ai.example.com/v1/%2E%2E/stream?session=s-1&token=tok%2Fen%26x%3D1",
			redacted: "wss://ai.example.com/v1/%2E%2E/stream?session=s-1&token=REDACTED",
		},
		{
			give:     "ws://h:1/c/{from}/{call_uuid}",
			want:     "ws://h:1/c/+1%20%28555%29%20010%2F0%3Fx=1&y%23/8399095e-1e1d-4305-a9d2-eeba61e30370",
			redacted: "ws://h:1/c/+1%20%28555%29%20010%2F0%3Fx=1&y%23/8399095e-1e1d-4305-a9d2-eeba61e30370",
		},
		{
			give:     "wss://user:pw@h/?from={from}&to=tel:{to}&flag&api_key=abc&lang=en",
			want:     "wss://user:pw@h/?from=%2B1+%28555%29+010%2F0%3Fx%3D1%26y%23&to=tel:1020&flag&api_key=abc&lang=en",
			redacted: "wss://REDACTED@h/?from=%2B1+%28555%29+010%2F0%3Fx%3D1%26y%23&to=tel:1020&flag&api_key=REDACTED&lang=en",
		},
		{
			give:     "wss://h/{auth_token}?",
			want:     "wss://h/tok%2Fen&x=1?",
			redacted: "wss://h/REDACTED?",
		},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			tpl, err := ParseURLTemplate(tt.give)
			if err != nil {
				t.Fatal(err)
			}
			if got := tpl.Render(testValues); got != tt.want {
				t.Errorf("Render\n got %s\nwant %s", got, tt.want)
			}
			if got := tpl.Redacted(testValues); got != tt.redacted {
				t.Errorf("Redacted\n got %s\nwant %s", got, tt.redacted)
			}
		})
	}
}

func TestURLTemplateString(t *testing.T) {
	tpl, err := ParseURLTemplate("wss://u:pw@h/v1/{bot_id}?token={auth_token}&secret=abc&x=1")
	if err != nil {
		t.Fatal(err)
	}
	want := "wss://REDACTED@h/v1/{bot_id}?token={auth_token}&secret=REDACTED&x=1"
	if got := tpl.String(); got != want {
		t.Fatalf("String() = %s, want %s", got, want)
	}
}

// templateShape is what no value may change.
type templateShape struct {
	scheme, user, host string
	segments           int
	keys               string
}

func shapeOf(t *testing.T, raw string) (templateShape, *url.URL) {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("rendered URL does not parse: %v", err)
	}
	var keys []string
	if u.RawQuery != "" {
		for _, kv := range strings.Split(u.RawQuery, "&") {
			k, _, _ := strings.Cut(kv, "=")
			keys = append(keys, k)
		}
	}
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		if seg == "." || seg == ".." {
			t.Fatalf("dot segment in %q", u.EscapedPath())
		}
	}
	return templateShape{
		scheme: u.Scheme, user: u.User.String(), host: u.Host,
		segments: strings.Count(u.EscapedPath(), "/"), keys: strings.Join(keys, "&"),
	}, u
}

func FuzzURLTemplateEscaping(f *testing.F) {
	const tpl = "wss://u:p@ai.example.com:8443/v1/{bot_id}/x-{session}/{from}{to}?token={auth_token}&from={from}&c=id:{call_uuid}&flag"
	f.Add("b", "s", "+15550100", "1020", "tok", "uuid")
	f.Add("..", ".", "a/b?c#d", "&x=1", "%2F%zz", "é\x00\n")
	f.Add("", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, bot, session, from, to, token, uuid string) {
		tp, err := ParseURLTemplate(tpl)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := shapeOf(t, tp.Render(TemplateValues{"s", "f", "t", "b", "a", "c"}))
		v := TemplateValues{Session: session, From: from, To: to, BotID: bot, AuthToken: token, CallUUID: uuid}
		got, u := shapeOf(t, tp.Render(v))
		if got != want {
			t.Fatalf("values changed the URL's shape: %+v, want %+v", got, want)
		}
		// Every value arrives intact where it was put.
		segs := strings.Split(u.EscapedPath(), "/")
		checkSeg := func(i int, want string) {
			s, err := url.PathUnescape(segs[i])
			if err != nil || s != want {
				t.Fatalf("segment %d = %q (%v), want %q", i, s, err, want)
			}
		}
		checkSeg(2, bot)
		checkSeg(3, "x-"+session)
		checkSeg(4, from+to)
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			t.Fatal(err)
		}
		if q.Get("token") != token || q.Get("from") != from || q.Get("c") != "id:"+uuid {
			t.Fatalf("query values changed: %v", q)
		}
		if r := tp.Redacted(v); !strings.Contains(r, "?token=REDACTED&") || !strings.HasPrefix(r, "wss://REDACTED@") {
			t.Fatalf("Redacted shows a secret: %s", r)
		}
	})
}

func FuzzParseURLTemplate(f *testing.F) {
	f.Add("wss://h/{session}?a={auth_token}")
	f.Add("ws://u@h:1/%41{to}/?x&y=")
	f.Add("wss://h/{")
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := ParseURLTemplate(s)
		if err != nil {
			return
		}
		r := tp.Render(testValues)
		u, err := url.Parse(r)
		if err != nil {
			t.Fatalf("accepted %q renders %q which does not parse: %v", s, r, err)
		}
		if u.Scheme != "ws" && u.Scheme != "wss" || u.Hostname() == "" {
			t.Fatalf("accepted %q renders %q", s, r)
		}
		if strings.Contains(tp.Redacted(testValues), "tok%2Fen") {
			t.Fatalf("Redacted of %q shows the token", s)
		}
	})
}
