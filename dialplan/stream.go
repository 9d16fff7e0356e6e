package dialplan

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/percipia/eslgo/command"
	"go.uber.org/zap"

	"ailb/esl"
	"ailb/media"
)

// forkBug names ailb's media bug on the channel (one fork at a time).
const forkBug = "ailb"

// streamOnce starts one WebSocket attempt: FreeSWITCH's audio-fork module
// streams the caller to the relay (or, in direct mode, to the assistant).
// It returns once the assistant has spoken (relay) or FreeSWITCH connected
// (direct), or with a *media.Failure.
func (c *call) streamOnce(ctx context.Context, a *Assistant) (conversation, error) {
	ws := a.WS
	if err := c.prepareStreaming(ctx, ws.Module); err != nil {
		return nil, err
	}
	c.streams++
	session := c.id + "-" + strconv.Itoa(c.streams)
	values := media.TemplateValues{Session: session, From: c.info.From, To: c.info.To, BotID: ws.BotID, AuthToken: ws.Token, CallUUID: c.s.UUID()}
	conv := &wsConv{c: c, a: a, session: session}
	target := ws.URL.Render(values)
	if !ws.Direct {
		if c.snap.Relay == nil || c.snap.RelayURL == "" {
			return nil, &media.Failure{Kind: media.StreamError, Cause: "relay_disabled"}
		}
		st, err := c.snap.Relay.Register(media.StreamConfig{
			CallID: session, Token: randomID(), AssistantURL: target, RedactedURL: ws.URL.Redacted(values),
			Header: ws.Header, Protocol: ws.Protocol, SampleRate: ws.Rate,
			Params:         map[string]string{"from": c.info.From, "to": c.info.To, "call_id": c.id, "route": c.route},
			ConnectTimeout: ws.ConnectTimeout, FirstAudioTimeout: ws.FirstAudio, SilenceTimeout: ws.Silence,
			OnEvent: func(ev media.StreamEvent) { c.s.Inject(streamEvent{session: session, ev: ev}) },
		})
		if err != nil {
			c.log.Error("relay refused the stream", zap.Error(err))
			return nil, &media.Failure{Kind: media.StreamError, Cause: "relay_refused"}
		}
		conv.st = st
		target = c.snap.RelayURL + st.Path()
	}
	rs, err := c.s.Send(ctx, forkStart(c.s.UUID(), ws, target, c.metadata(session)))
	if cerr := c.collect(ctx); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil && !rs[0].OK() {
		c.log.Error("FreeSWITCH refused to start the audio stream", zap.String("module", ws.Module), zap.String("reply", rs[0].Result()))
		err = &media.Failure{Kind: media.StreamError, Cause: "fork_refused"}
	}
	if err != nil {
		conv.stop(ctx, "start failed")
		return nil, err
	}
	conv.forking = true
	if err := conv.waitUntilSpoken(ctx); err != nil {
		conv.stop(ctx, "failed")
		if f, ok := errors.AsType[*media.Failure](err); !ok || f.Kind != media.CallerGone {
			c.hold(ctx)
		}
		return nil, err
	}
	// The assistant is heard from now on: the hold prompt gives way.
	if err := c.unhold(ctx); err != nil {
		return nil, err
	}
	return conv, nil
}

// prepareStreaming does once per call what streaming needs: the module's
// events and DTMF, and an answered channel. A hold prompt already playing
// goes on until the assistant speaks. (send_silence_when_idle, which
// mod_audio_fork needs to play anything back, was set before any answer:
// see begin.)
func (c *call) prepareStreaming(ctx context.Context, module string) error {
	if c.streamReady[module] {
		return nil
	}
	if c.streamReady == nil {
		c.streamReady = map[string]bool{}
	}
	prefix := "mod_" + module + "::"
	subs := []string{"DTMF", "CUSTOM", prefix + "connect", prefix + "disconnect", prefix + "error"}
	if module == "audio_fork" {
		subs = append(subs, prefix+"connect_failed")
	}
	p, err := c.s.Defer(command.Event{Format: "plain", Listen: subs})
	if err != nil {
		return err
	}
	c.pending = append(c.pending, p)
	if err := c.answer(ctx); err != nil {
		return err
	}
	c.streamReady[module] = true
	return c.collect(ctx)
}

// forkStart is the api command that starts the stream.
func forkStart(uuid string, ws *WSAssistant, url, meta string) esl.Command {
	rate := "16k"
	if ws.Rate == 8000 {
		rate = "8k"
	}
	if ws.Module == "audio_stream" {
		return command.API{Command: "uuid_audio_stream", Arguments: strings.Join([]string{uuid, "start", url, "mono", rate, meta}, " ")}
	}
	bidi := "true"
	return command.API{Command: "uuid_audio_fork", Arguments: strings.Join([]string{
		uuid, "start", url, "mono", rate, forkBug, meta, bidi, bidi, strconv.Itoa(ws.Rate)}, " ")}
}

// forkStop is the api command that stops it.
func forkStop(uuid, module string) esl.Command {
	if module == "audio_stream" {
		return command.API{Command: "uuid_audio_stream", Arguments: uuid + " stop"}
	}
	return command.API{Command: "uuid_audio_fork", Arguments: uuid + " stop " + forkBug}
}

// metadata is the first text frame the module sends: JSON in one token.
// Arguments are split on spaces and read for quotes and backslashes, so
// every byte but [A-Za-z0-9_.:@+-] is written as a \u escape.
func (c *call) metadata(session string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, kv := range [][2]string{{"call_id", c.id}, {"session", session}, {"from", c.info.From}, {"to", c.info.To}} {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + kv[0] + `":"`)
		for _, r := range kv[1] {
			switch {
			case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.:@+-", r)):
				b.WriteRune(r)
			case r > 0xFFFF:
				r1, r2 := utf16Pair(r)
				fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			default:
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xD800 + (r>>10)&0x3FF, 0xDC00 + r&0x3FF
}

// streamEvent is a relay event injected into the call's event queue,
// tagged with the attempt it belongs to.
type streamEvent struct {
	session string
	ev      media.StreamEvent
}

// wsConv is a streaming attempt: before the assistant speaks, then the
// conversation.
type wsConv struct {
	c       *call
	a       *Assistant
	session string
	st      *media.Stream // nil in direct mode
	forking bool          // FreeSWITCH's fork is running
	handoff *media.Handoff
}

func (v *wsConv) settled() bool { return false }

var everything = func(*esl.Event) bool { return true }

// next returns the call's next event, bounded by deadline (zero: none).
func (v *wsConv) next(ctx context.Context, deadline time.Time) (*esl.Event, error) {
	var d time.Duration
	if !deadline.IsZero() {
		if d = time.Until(deadline); d <= 0 {
			return nil, esl.ErrTimeout
		}
	}
	return v.c.s.Wait(ctx, d, everything)
}

// mine returns the relay event if ev is one of this attempt's.
func (v *wsConv) mine(ev *esl.Event) (media.StreamEvent, bool) {
	se, ok := ev.Local.(streamEvent)
	if !ok || se.session != v.session {
		return media.StreamEvent{}, false
	}
	return se.ev, true
}

// module matches a CUSTOM event of this stream's module.
func (v *wsConv) module(ev *esl.Event, what string) bool {
	return ev.Is(esl.Custom) && ev.Subclass() == "mod_"+v.a.WS.Module+"::"+what
}

func streamFailure(cause string) *media.Failure {
	return &media.Failure{Kind: media.StreamError, Cause: cause}
}

// waitUntilSpoken waits for the assistant's first audio (relay) or for
// FreeSWITCH to connect to it (direct), within the attempt's timeouts.
func (v *wsConv) waitUntilSpoken(ctx context.Context) error {
	ws := v.a.WS
	limit := ws.ConnectTimeout + ws.FirstAudio + time.Second
	if ws.Direct {
		limit = ws.ConnectTimeout + time.Second
	}
	deadline := time.Now().Add(limit)
	for {
		ev, err := v.next(ctx, deadline)
		var he *esl.HangupError
		switch {
		case errors.As(err, &he):
			return &media.Failure{Kind: media.CallerGone, Cause: he.Cause}
		case errors.Is(err, esl.ErrTimeout):
			if ws.Direct {
				return streamFailure(media.ReasonConnectTimeout)
			}
			return streamFailure(media.ReasonNoAudio)
		case err != nil:
			return err
		}
		if se, ok := v.mine(ev); ok {
			switch se.Kind {
			case media.EventFirstAudio:
				return nil
			case media.EventFailed:
				return se.Failure
			case media.EventAssistantEnded:
				return streamFailure("ended_silent")
			case media.EventFreeSWITCHClosed:
				// The caller hung up, most likely: CHANNEL_HANGUP follows.
				deadline = time.Now().Add(time.Second)
			case media.EventState:
				v.c.applyState(ctx, se.State)
			case media.EventHandoff:
				v.handoff = se.Handoff
				return nil
			}
			continue
		}
		switch {
		case v.module(ev, "connect_failed"), v.module(ev, "error"):
			return streamFailure(media.ReasonConnectRefused)
		case ws.Direct && v.module(ev, "connect"):
			return nil
		case ws.Direct && v.module(ev, "disconnect"):
			return streamFailure(media.ReasonAbnormalClose)
		case ev.Is(esl.DTMF) && v.st != nil:
			v.st.SendDTMF(ev.Get("DTMF-Digit"))
		}
	}
}

// wait follows the conversation until it ends.
func (v *wsConv) wait(ctx context.Context) (convEnd, error) {
	if v.handoff != nil {
		v.stop(ctx, "handoff")
		return convEnd{handoff: v.handoff}, nil
	}
	var closedAt time.Time
	for {
		var deadline time.Time
		if !closedAt.IsZero() {
			deadline = closedAt.Add(2 * time.Second)
		}
		ev, err := v.next(ctx, deadline)
		var he *esl.HangupError
		switch {
		case errors.As(err, &he):
			v.stop(ctx, "caller hung up")
			return convEnd{byCaller: true}, nil
		case errors.Is(err, esl.ErrTimeout):
			// FreeSWITCH closed the stream and the caller is still there.
			v.stop(ctx, "freeswitch closed")
			v.c.hold(ctx)
			return convEnd{failure: streamFailure("freeswitch_closed")}, nil
		case err != nil:
			v.stop(ctx, "error")
			return convEnd{}, err
		}
		if se, ok := v.mine(ev); ok {
			switch se.Kind {
			case media.EventState:
				v.c.applyState(ctx, se.State)
			case media.EventHandoff:
				v.stop(ctx, "handoff")
				return convEnd{handoff: se.Handoff}, nil
			case media.EventFailed:
				v.stop(ctx, "failed")
				v.c.hold(ctx)
				return convEnd{failure: se.Failure}, nil
			case media.EventAssistantEnded:
				v.stop(ctx, "assistant ended")
				return convEnd{}, nil
			case media.EventFreeSWITCHClosed:
				closedAt = time.Now()
			case media.EventControlError:
				v.c.log.Warn("assistant sent an invalid control message", zap.Error(se.Err))
			}
			continue
		}
		switch {
		case ev.Is(esl.DTMF) && v.st != nil:
			v.st.SendDTMF(ev.Get("DTMF-Digit"))
		case v.a.WS.Direct && (v.module(ev, "disconnect") || v.module(ev, "error")):
			v.stop(ctx, "disconnected")
			v.c.hold(ctx)
			return convEnd{failure: streamFailure(media.ReasonAbnormalClose)}, nil
		}
	}
}

// stop ends the attempt on both sides: FreeSWITCH keeps a fork attached
// after its socket closed, so it is stopped explicitly, unless the
// channel is gone (FreeSWITCH closed the fork with it).
func (v *wsConv) stop(ctx context.Context, reason string) {
	if v.forking {
		v.forking = false
		if v.c.s.HangupEvent() == nil {
			if _, err := v.c.s.Send(ctx, forkStop(v.c.s.UUID(), v.a.WS.Module)); err != nil {
				v.c.log.Debug("stopping the audio fork", zap.Error(err))
			}
		}
	}
	if v.st != nil {
		v.st.Close(reason)
	}
}

// applyState stores what the assistant collected on the channel.
func (c *call) applyState(ctx context.Context, vars map[string]string) {
	if err := setChannelVars(ctx, c.s, vars); err != nil {
		c.log.Warn("assistant state not stored", zap.Error(err))
	}
}

// hold plays the hold prompt to an answered caller while the flow decides
// what comes next; unhold stops it before anything else is queued.
func (c *call) hold(ctx context.Context) {
	if c.holding || !c.answered || c.snap.HoldPrompt == "" {
		return
	}
	if _, err := c.s.Start(ctx, "playback", c.snap.HoldPrompt); err == nil {
		c.holding = true
	}
}

func (c *call) unhold(ctx context.Context) error {
	if !c.holding {
		return nil
	}
	c.holding = false
	_, err := c.s.Send(ctx, command.API{Command: "uuid_break", Arguments: c.s.UUID() + " all"})
	return err
}

// handoff moves the caller where the assistant asked, with its state.
func (c *call) handoff(ctx context.Context, p *Pool, h *media.Handoff) error {
	if len(h.State) > 0 {
		c.applyState(ctx, h.State)
	}
	c.fallback = "handoff:" + string(h.Kind)
	c.post(media.Var{Name: "ailb_fallback", Value: c.fallback})
	switch h.Kind {
	case media.HandoffIVR:
		if m := c.snap.Menus[h.Menu]; m != nil {
			_, err := c.runMenu(ctx, m)
			return err
		}
		c.log.Warn("assistant handed off to an unknown menu; using the fallback", zap.String("menu", h.Menu))
	case media.HandoffExtension:
		dpContext := h.Context
		if dpContext == "" {
			dpContext = c.s.Data().Get("Caller-Context")
		}
		return c.transfer(ctx, h.Extension, dpContext)
	}
	if p == nil {
		c.fallback = "dialplan"
		return nil
	}
	return c.runFallback(ctx, p)
}
