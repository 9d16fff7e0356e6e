package media

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// StreamConfig describes one call's stream. Token, AssistantURL and Header
// may hold secrets: they never reach a log, an error or String().
type StreamConfig struct {
	// CallID is the path id, [A-Za-z0-9._-]{1,64}; Token the per-call
	// secret, [A-Za-z0-9._~-]{16,}. The path with its query must fit
	// mod_audio_fork's 127 bytes.
	CallID, Token string

	AssistantURL string      // rendered ws:// or wss:// URL, dialled when FreeSWITCH connects
	RedactedURL  string      // for logs; default: scheme://host/path
	Header       http.Header // extra upgrade headers (auth): never logged

	Protocol   string            // ProtocolRaw or ProtocolTwilio
	SampleRate int               // 8000 or 16000, as started in FreeSWITCH; Twilio needs 8000
	Params     map[string]string // Twilio customParameters (caller, destination, call id)
	AccountSID string            // Twilio accountSid; default "ailb". callSid is CallID.

	ConnectTimeout    time.Duration // FreeSWITCH to arrive, and then the assistant's handshake; default 10 s
	FirstAudioTimeout time.Duration // from the handshake to the assistant's first audio; 0: no limit
	SilenceTimeout    time.Duration // no audio from the assistant after it spoke; 0: no limit

	// OnEvent receives the stream's events in order, one at a time, from
	// the stream's goroutines. It must not block, nor call Close.
	OnEvent func(StreamEvent)
}

const (
	defaultConnectTimeout = 10 * time.Second
	maxForkPath           = 127 // mod_audio_fork keeps the path in 128 bytes
)

func (c *StreamConfig) check() error {
	if !validToken(c.CallID, isIDByte) {
		return errors.New("media: stream CallID: want [A-Za-z0-9._-]{1,64}")
	}
	if len(c.Token) < 16 || strings.IndexFunc(c.Token, func(r rune) bool { return r > 0x7F || !isTokenByte(byte(r)) }) >= 0 {
		return fmt.Errorf("media: stream %s: Token: want at least 16 of [A-Za-z0-9._~-]", c.CallID)
	}
	if n := len(c.Path()); n > maxForkPath {
		return fmt.Errorf("media: stream %s: path with token is %d bytes, mod_audio_fork takes %d", c.CallID, n, maxForkPath)
	}
	u, err := url.Parse(c.AssistantURL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Hostname() == "" {
		// The URL is not quoted: it may hold a token.
		return fmt.Errorf("media: stream %s: AssistantURL: want a ws:// or wss:// URL with a host", c.CallID)
	}
	if c.RedactedURL == "" {
		c.RedactedURL = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	}
	switch c.Protocol {
	case ProtocolRaw:
		if c.SampleRate != 8000 && c.SampleRate != 16000 {
			return fmt.Errorf("media: stream %s: SampleRate %d: want 8000 or 16000", c.CallID, c.SampleRate)
		}
	case ProtocolTwilio:
		if c.SampleRate != TwilioSampleRate {
			return fmt.Errorf("media: stream %s: SampleRate %d: Twilio streams are 8000 Hz (start the fork with 8k)", c.CallID, c.SampleRate)
		}
	default:
		return fmt.Errorf("media: stream %s: Protocol %q: want raw or twilio", c.CallID, truncate(c.Protocol, 16))
	}
	if c.ConnectTimeout < 0 || c.FirstAudioTimeout < 0 || c.SilenceTimeout < 0 {
		return fmt.Errorf("media: stream %s: timeouts must not be negative", c.CallID)
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = defaultConnectTimeout
	}
	if c.AccountSID == "" {
		c.AccountSID = "ailb"
	}
	if c.OnEvent == nil {
		c.OnEvent = func(StreamEvent) {}
	}
	return nil
}

func isIDByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

func isTokenByte(c byte) bool { return isIDByte(c) || c == '~' }

// Path is what FreeSWITCH requests: /calls/<id>?token=<token>. It holds
// the secret: pass it to FreeSWITCH, never to a log.
func (c *StreamConfig) Path() string { return "/calls/" + c.CallID + "?token=" + c.Token }

// dialTarget moves URL user info into a Basic auth header.
func (c *StreamConfig) dialTarget() (string, http.Header) {
	u, err := url.Parse(c.AssistantURL)
	if err != nil || u.User == nil {
		return c.AssistantURL, c.Header
	}
	hdr := c.Header.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	pw, _ := u.User.Password()
	r := http.Request{Header: hdr}
	r.SetBasicAuth(u.User.Username(), pw)
	u.User = nil
	return u.String(), hdr
}

// String describes the stream without its secrets.
func (c StreamConfig) String() string {
	return fmt.Sprintf("stream %s %s %d Hz -> %s", c.CallID, c.Protocol, c.SampleRate, c.RedactedURL)
}

// GoString keeps %#v from printing the secrets.
func (c StreamConfig) GoString() string { return c.String() }
