package dialplan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"ailb/esl"
	"ailb/media"
	"ailb/routing"

	"github.com/percipia/eslgo/command"
	"go.uber.org/zap"
)

// Flow runs calls. It implements esl.Handler.
type Flow struct {
	snap   atomic.Pointer[Snapshot]
	log    *zap.Logger
	rec    Recorder
	calls  registry
	recent recent
	// newID returns an opaque call id (random by default).
	newID func() string
	now   func() time.Time
}

var _ esl.Handler = (*Flow)(nil)

// New returns a Flow serving calls from s.
func New(s *Snapshot, log *zap.Logger, rec Recorder) *Flow {
	if rec == nil {
		rec = NopRecorder{}
	}
	f := &Flow{log: log, rec: rec, newID: randomID, now: time.Now}
	f.snap.Store(s)
	return f
}

// Swap installs a new snapshot for the calls that start from now on.
func (f *Flow) Swap(s *Snapshot) { f.snap.Store(s) }

// Snapshot is the configuration new calls use.
func (f *Flow) Snapshot() *Snapshot { return f.snap.Load() }

// Recent returns an assistant's last attempt results, newest first.
func (f *Flow) Recent(assistant string) []Result { return f.recent.list(assistant) }

// randomID is 32 hex characters of crypto randomness (ids, tokens).
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Events the flow needs; myevents' other events are unsubscribed, because
// each costs FreeSWITCH a serialisation of ~160 variables and a write.
var unusedEvents = []string{
	"CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_CREATE", "CHANNEL_DATA",
	"CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_ORIGINATE", "CHANNEL_UUID",
	"CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
	"CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK", "DETECTED_SPEECH",
	"DTMF", "NOTALK", "TALK",
}

// errCallerGone ends the flow: the caller hung up (or was hung up).
var errCallerGone = errors.New("caller gone")

// maxDepth bounds IVR -> pool -> fallback -> IVR chains.
const maxDepth = 4

// attempt is one try of an assistant, for the call's log line.
type attempt struct {
	Assistant string
	Result    string
	Cause     string
	Duration  time.Duration
}

// call is one call's state, owned by its ServeCall goroutine.
type call struct {
	f     *Flow
	snap  *Snapshot
	s     *esl.Session
	log   *zap.Logger
	start time.Time

	id        string
	token     string // per-call secret: X-AILB-Token, the state API
	info      media.CallInfo
	hashFacts routing.HashFacts
	route     string
	tried     routing.Tried
	attempts  []attempt
	outcome   string
	fallback  string
	setup     *esl.Pending   // linger/myevents/... replies, checked after the first command
	pending   []*esl.Pending // replies of posted variable updates
	failedAt  time.Time      // last assistant failure, for the failover histogram
	answered  bool           // the caller's channel is answered (by a bridge or the IVR)
	depth     int
	// Streaming: attempts so far, modules set up, hold prompt playing.
	streams     int
	streamReady map[string]bool
	holding     bool
}

// ServeCall implements esl.Handler.
func (f *Flow) ServeCall(ctx context.Context, s *esl.Session) {
	snap := f.snap.Load()
	c := &call{f: f, snap: snap, s: s, log: s.Log(), start: f.now(), id: f.newID(), token: f.newID()}
	f.calls.add(c.id, liveCall{token: c.token, s: s})
	defer f.calls.remove(c.id)
	ctx, cancel := context.WithTimeout(ctx, snap.MaxCall)
	defer cancel()

	d := s.Data()
	if mode, ctl := d.Get("Socket-Mode"), d.Get("Control"); mode != "async" || ctl != "full" {
		// Without async, events stop while apps run; without full there is
		// no linger, api or event filtering. Hand the call back untouched.
		c.log.Error("FreeSWITCH socket application must be `socket <addr> async full`; handing the call back to the dialplan",
			zap.String("socket_mode", mode), zap.String("control", ctl))
		c.outcome, c.fallback = OutcomeFallback, "dialplan"
		c.logEnd()
		return
	}
	facts := routing.Facts{
		Destination: d.Get("Caller-Destination-Number"),
		Caller:      d.Get("Caller-Caller-ID-Number"),
		Context:     d.Get("Caller-Context"),
		Var:         d.Var,
	}
	rule := snap.Routes.Match(facts)
	c.hashFacts = routing.HashFacts{Caller: facts.Caller, Destination: facts.Destination, Var: facts.Var}
	c.route = rule.Name
	c.info = media.CallInfo{CallID: c.id, Token: c.token, From: facts.Caller, To: facts.Destination, Route: rule.Name}
	if rule.Target.Kind == routing.ToPool {
		c.info.Pool = rule.Target.Name
	}

	err := c.begin()
	if err == nil {
		err = c.runRoute(ctx, rule)
	}
	c.end(err)
}

// runRoute holds a slot of the route's concurrency cap for the whole call;
// a call over the cap gets the route's overflow action.
func (c *call) runRoute(ctx context.Context, rule *routing.Rule) error {
	if rule.MaxCalls > 0 {
		key := "route:" + rule.Name
		if !c.snap.Store.Acquire(ctx, key, c.id, rule.MaxCalls) {
			c.log.Info("route at max_calls; overflow", zap.String("route", rule.Name), zap.Int("max_calls", rule.MaxCalls))
			c.outcome = OutcomeFallback
			if a := c.snap.Overflow[rule.Name]; a != nil {
				handled, err := c.action(ctx, nil, a)
				if err != nil || handled {
					return err
				}
			}
			// No overflow action took it: back to FreeSWITCH's dialplan.
			c.fallback = "overflow"
			c.post(media.Var{Name: "ailb_fallback", Value: c.fallback})
			return nil
		}
		defer c.snap.Store.Release(context.Background(), key, c.id)
	}
	return c.run(ctx, rule.Target)
}

// begin queues the session setup to go out with the first command (the
// bridge, usually): linger for the last events after hangup, myevents
// minus what the flow never reads, and the A-leg variables. One write
// carries the setup and the bridge. All but the call's own variables
// were built with the snapshot.
func (c *call) begin() error {
	vars := [3]media.Var{{Name: "ailb_call_id", Value: c.id}, {Name: "ailb_route", Value: c.route}}
	n := 2
	if c.info.Pool != "" {
		vars[n] = media.Var{Name: "ailb_pool", Value: c.info.Pool}
		n++
	}
	st := &c.snap.setup
	p, err := c.s.Defer(st.linger, st.myEvents, st.nixEvents, setVars(c.s.UUID(), st.vars, vars[:n]...))
	c.setup = p
	return err
}

// setup is what begin sends on every call of a snapshot, built once.
type setup struct {
	linger, myEvents, nixEvents esl.Command
	// vars are the variables every call sets, joined for setVars.
	vars string
}

func newSetup(linger int, streams bool) setup {
	vars := media.ALegVars
	if streams {
		// mod_audio_fork plays the assistant only over frames the channel
		// writes; a parked channel writes none unless this is set before
		// it is answered (by a bridge, a menu or the stream itself).
		vars = append(slices.Clip(vars), media.Var{Name: "send_silence_when_idle", Value: "-1"})
	}
	var b strings.Builder
	for _, v := range vars {
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		writeVar(&b, v)
	}
	return setup{
		linger:    message(command.Linger{Enabled: true, Seconds: time.Duration(linger)}.BuildMessage()),
		myEvents:  message(command.MyEvents{Format: "plain"}.BuildMessage()),
		nixEvents: message(command.Event{Ignore: true, Format: "plain", Listen: unusedEvents}.BuildMessage()),
		vars:      b.String(),
	}
}

// message is a command built before the calls that send it.
type message string

// BuildMessage implements esl.Command.
func (m message) BuildMessage() string { return string(m) }

// checkSetup reads the setup replies once they are in (after the first
// command that waited for its own reply, so this does not block).
func (c *call) checkSetup(ctx context.Context) error {
	if c.setup == nil || !c.setup.Sent() {
		return nil
	}
	rs, err := c.setup.Wait(ctx)
	c.setup = nil
	if err != nil {
		return err
	}
	for i, what := range []string{"linger", "myevents", "nixevent", "uuid_setvar_multi"} {
		if !rs[i].OK() {
			c.log.Error("FreeSWITCH refused a setup command", zap.String("command", what), zap.String("reply", rs[i].Result()))
		}
	}
	return nil
}

// setVars sets channel variables in one api call: head (variables
// already joined, or "") then vars. Values are ours (validated names,
// causes, call ids) and never contain ';'.
func setVars(uuid, head string, vars ...media.Var) esl.Command {
	const api = "api uuid_setvar_multi "
	n := len(api) + len(uuid) + 1 + len(head)
	for _, v := range vars {
		n += len(v.Name) + len(v.Value) + 2
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(api)
	b.WriteString(uuid)
	b.WriteByte(' ')
	b.WriteString(head)
	for i, v := range vars {
		if i > 0 || head != "" {
			b.WriteByte(';')
		}
		writeVar(&b, v)
	}
	return message(b.String())
}

// writeVar writes name=value, a ';' in the value (which would start
// another variable) as ','.
func writeVar(b *strings.Builder, v media.Var) {
	b.WriteString(v.Name)
	b.WriteByte('=')
	for val := v.Value; ; {
		i := strings.IndexByte(val, ';')
		if i < 0 {
			b.WriteString(val)
			return
		}
		b.WriteString(val[:i])
		b.WriteByte(',')
		val = val[i+1:]
	}
}

// post sets channel variables with the next command that goes out (they
// record progress; nothing waits for them), so it adds neither a write nor
// a round trip. The replies are collected once a later command has been
// answered (FreeSWITCH answers in order).
func (c *call) post(vars ...media.Var) {
	if p, err := c.s.Defer(setVars(c.s.UUID(), "", vars...)); err == nil {
		c.pending = append(c.pending, p)
	}
}

// collect reads the replies of earlier posts that went out and logs
// refusals; those still deferred stay for a later collect.
func (c *call) collect(ctx context.Context) error {
	if err := c.checkSetup(ctx); err != nil {
		return err
	}
	keep := c.pending[:0]
	for _, p := range c.pending {
		if !p.Sent() {
			keep = append(keep, p)
			continue
		}
		rs, err := p.Wait(ctx)
		if err != nil {
			c.pending = nil
			return err
		}
		if !rs[0].OK() {
			c.log.Warn("uuid_setvar_multi refused", zap.String("reply", rs[0].Result()))
		}
	}
	c.pending = keep
	return nil
}

func (c *call) run(ctx context.Context, t routing.Target) error {
	switch t.Kind {
	case routing.ToPool:
		return c.runPool(ctx, c.snap.Pools[t.Name])
	case routing.ToAssistant:
		handled, err := c.tryAssistant(ctx, nil, t.Name)
		if err == nil && !handled {
			c.outcome, c.fallback = OutcomeFallback, "dialplan"
		}
		return err
	case routing.ToExtension:
		c.outcome = OutcomeDirect
		return c.transfer(ctx, t.Extension, t.Context)
	case routing.ToIVR:
		c.outcome = OutcomeDirect
		_, err := c.runMenu(ctx, c.snap.Menus[t.Name])
		return err
	default:
		c.outcome = OutcomeDirect
		return c.hangup(ctx, t.Cause)
	}
}

// runPool tries members until one takes the call, then the fallback.
func (c *call) runPool(ctx context.Context, p *Pool) error {
	if c.info.Pool != p.Name {
		c.info.Pool = p.Name
		c.post(media.Var{Name: "ailb_pool", Value: p.Name})
	}
	for {
		lease, err := p.PickFor(ctx, c.id, &c.tried, c.hashFacts)
		if err != nil {
			break // nobody available: straight to the fallback
		}
		handled, err := c.connect(ctx, p, lease.Member.Name, lease)
		if err != nil || handled {
			return err
		}
		if !p.FollowThrough {
			break
		}
	}
	return c.runFallback(ctx, p)
}

func newLegUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// end settles the call's outcome and writes its log line. The session
// then exits: after a hangup, or handing a channel that is still up back to
// FreeSWITCH's dialplan.
func (c *call) end(err error) {
	if c.setup != nil || len(c.pending) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = c.collect(ctx)
		cancel()
	}
	switch {
	case errors.Is(err, errCallerGone):
		if c.outcome == "" {
			c.outcome = OutcomeAbandoned
		}
	case err != nil && c.s.HangupEvent() != nil:
		if c.outcome == "" {
			c.outcome = OutcomeAbandoned
		}
	case err != nil:
		// The session broke (FreeSWITCH gone, protocol error, max call
		// duration): whatever FreeSWITCH does next is its dialplan.
		c.log.Warn("call flow ended by an error; FreeSWITCH continues its dialplan", zap.Error(err))
		if c.outcome == "" {
			c.outcome, c.fallback = OutcomeFallback, "dialplan"
		}
	case c.outcome == "":
		c.outcome, c.fallback = OutcomeFallback, "dialplan"
	}
	c.logEnd()
}

func (c *call) logEnd() {
	c.f.rec.CallEnded(c.route, c.outcome)
	ce := c.log.Check(zap.InfoLevel, "call")
	if ce == nil {
		return // the level is above info: build nothing
	}
	fields := []zap.Field{
		zap.String("call_id", c.id),
		zap.String("route", c.route),
		zap.String("pool", c.info.Pool),
		zap.String("from", c.info.From),
		zap.String("to", c.info.To),
		zap.Array("attempts", attemptList(c.attempts)),
		zap.String("outcome", c.outcome),
		zap.Duration("duration", c.f.now().Sub(c.start)),
	}
	if c.fallback != "" {
		fields = append(fields, zap.String("fallback", c.fallback))
	}
	if h := c.s.HangupEvent(); h != nil {
		fields = append(fields, zap.String("hangup_cause", h.Get("Hangup-Cause")))
	}
	ce.Write(fields...)
}
