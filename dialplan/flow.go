package dialplan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"ailb/config"
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

type attempt struct {
	Assistant string        `json:"assistant"`
	Result    string        `json:"result"`
	Cause     string        `json:"cause,omitempty"`
	Duration  time.Duration `json:"duration"`
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
			c.fallback = "dialplan"
			c.post(media.Var{Name: "ailb_fallback", Value: "overflow"})
			return nil
		}
		defer c.snap.Store.Release(context.Background(), key, c.id)
	}
	return c.run(ctx, rule.Target)
}

// begin posts the session setup without waiting: linger for the last
// events after hangup, myevents minus what the flow never reads, and the
// A-leg variables. The first bridge follows in the next write.
func (c *call) begin() error {
	vars := append([]media.Var(nil), media.ALegVars...)
	vars = append(vars,
		media.Var{Name: "ailb_call_id", Value: c.id},
		media.Var{Name: "ailb_route", Value: c.route},
	)
	if c.info.Pool != "" {
		vars = append(vars, media.Var{Name: "ailb_pool", Value: c.info.Pool})
	}
	p, err := c.s.Post(
		command.Linger{Enabled: true, Seconds: time.Duration(c.snap.Linger)},
		command.MyEvents{Format: "plain"},
		command.Event{Ignore: true, Format: "plain", Listen: unusedEvents},
		setVars(c.s.UUID(), vars),
	)
	c.setup = p
	return err
}

// checkSetup reads the setup replies once they are in (after the first
// command that waited for its own reply, so this does not block).
func (c *call) checkSetup(ctx context.Context) error {
	if c.setup == nil {
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

// setVars sets channel variables in one api call. Values are ours
// (validated names, causes, call ids) and never contain ';'.
func setVars(uuid string, vars []media.Var) esl.Command {
	var b strings.Builder
	b.WriteString(uuid)
	b.WriteByte(' ')
	for i, v := range vars {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(v.Name)
		b.WriteByte('=')
		b.WriteString(strings.ReplaceAll(v.Value, ";", ","))
	}
	return command.API{Command: "uuid_setvar_multi", Arguments: b.String()}
}

// post sets channel variables without waiting for the reply; the
// replies are collected once a later command has been answered (FreeSWITCH
// answers in order), so this never adds a round trip.
func (c *call) post(vars ...media.Var) {
	if p, err := c.s.Post(setVars(c.s.UUID(), vars)); err == nil {
		c.pending = append(c.pending, p)
	}
}

// collect reads the replies of earlier posts and logs refusals.
func (c *call) collect(ctx context.Context) error {
	if c.setup != nil {
		if err := c.checkSetup(ctx); err != nil {
			return err
		}
	}
	for _, p := range c.pending {
		rs, err := p.Wait(ctx)
		if err != nil {
			c.pending = nil
			return err
		}
		if !rs[0].OK() {
			c.log.Warn("uuid_setvar_multi refused", zap.String("reply", rs[0].Result()))
		}
	}
	c.pending = c.pending[:0]
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

// tryAssistant makes one attempt on a named assistant (a route to one
// assistant, an assistant fallback or an IVR option). It is skipped when
// the assistant was already tried on this call, its breaker refuses, or it
// is at max_calls.
func (c *call) tryAssistant(ctx context.Context, pool *Pool, name string) (bool, error) {
	a := c.snap.Assistants[name]
	if a == nil || c.tried.Has(name) {
		return false, nil
	}
	sl, ok := c.acquire(ctx, name, a.MaxCalls)
	if !ok {
		return false, nil
	}
	return c.connect(ctx, pool, name, sl)
}

// slot is a member's permission for one attempt: routing.Lease, or the
// same for an assistant reached outside a pool.
type slot interface {
	Report(error)
	Release()
}

type directSlot struct {
	once    atomic.Bool
	done    func(error)
	release func()
}

func (d *directSlot) Report(err error) {
	if d.done != nil {
		d.done(err)
		d.done = nil
	}
}

func (d *directSlot) Release() {
	if d.once.CompareAndSwap(false, true) {
		d.Report(media.ErrNoOutcome)
		d.release()
	}
}

func (c *call) acquire(ctx context.Context, name string, limit int) (slot, bool) {
	var done func(error)
	if g := c.snap.Gate; g != nil {
		ok := g.Ready(name)
		if ok {
			done, ok = g.Admit(name)
		}
		if !ok {
			c.f.rec.Attempt("", name, "skipped_open")
			return nil, false
		}
	}
	st := c.snap.Store
	if !st.Acquire(ctx, name, c.id, limit) {
		if done != nil {
			done(media.ErrNoOutcome)
		}
		return nil, false
	}
	return &directSlot{done: done, release: func() { st.Release(context.Background(), name, c.id) }}, true
}

// connect bridges the caller to one assistant. It reports handled when
// the call needs nothing more from this flow (the assistant took it, or
// the caller is gone); a failure of the assistant returns false. A
// transient failure (503) is tried again on the same assistant, with
// backoff, while its breaker allows and the caller has not waited longer
// than retry.max_silence.
func (c *call) connect(ctx context.Context, p *Pool, name string, sl slot) (bool, error) {
	defer sl.Release()
	a := c.snap.Assistants[name]
	poolName := ""
	if p != nil {
		poolName = p.Name
	}
	c.tried.Add(name)
	c.post(
		media.Var{Name: "ailb_assistant", Value: name},
		media.Var{Name: "ailb_attempts", Value: strconv.Itoa(len(c.tried.Names()))},
		media.Var{Name: "ailb_tried", Value: strings.Join(c.tried.Names(), ",")},
	)
	report := sl.Report
	var firstFailure time.Time
	for retry := 0; ; retry++ {
		t0 := c.f.now()
		if len(c.attempts) == 0 {
			c.f.rec.Setup(t0.Sub(c.start))
		} else if !c.failedAt.IsZero() {
			c.f.rec.Failover(t0.Sub(c.failedAt))
		}
		var conv conversation
		var err error
		if a.WS != nil {
			conv, err = c.streamOnce(ctx, a)
		} else {
			conv, err = c.dialOnce(ctx, a)
		}
		var f *media.Failure
		switch {
		case errors.As(err, &f):
			report(f)
			c.recordAttempt(poolName, name, f.Result(), f.Cause, t0)
			switch {
			case f.Dropped:
				c.f.rec.AIFailure("with_drop")
				c.outcome = OutcomeDropped
				return true, errCallerGone
			case f.Kind == media.CallerGone:
				return true, errCallerGone
			}
			c.f.rec.AIFailure("with_failover")
			c.failedAt = c.f.now()
			if p != nil {
				p.Observe(name, 0, true)
			}
			c.post(media.Var{Name: "ailb_last_failure", Value: f.Cause})
			c.log.Debug("assistant failed", zap.String("assistant", name), zap.String("result", f.Result()), zap.String("cause", f.Cause))
			if firstFailure.IsZero() {
				firstFailure = c.failedAt
			}
			if next, ok := c.retryAfter(ctx, a, f, retry, firstFailure); ok {
				report = next
				continue
			}
			return false, nil
		case err != nil:
			c.attempts = append(c.attempts, attempt{Assistant: name, Result: "error", Duration: c.f.now().Sub(t0)})
			return true, err
		}
		if p != nil {
			p.Observe(name, c.f.now().Sub(t0), false)
		}
		return true, c.converse(ctx, p, name, conv, t0, report)
	}
}

// conversation is an assistant that took the call.
type conversation interface {
	// wait follows the conversation until it ends.
	wait(ctx context.Context) (convEnd, error)
	// settled reports whether the attempt's outcome was already reported
	// (SIP: at answer; streams report when the conversation ends).
	settled() bool
}

// convEnd says how a conversation ended.
type convEnd struct {
	byCaller bool
	failure  *media.Failure // the assistant failed mid-conversation
	handoff  *media.Handoff // the assistant handed the caller on
}

// sipConv is an answered bridge.
type sipConv struct {
	s   *esl.Session
	leg *media.Leg
}

func (v sipConv) settled() bool { return true }

func (v sipConv) wait(ctx context.Context) (convEnd, error) {
	end, err := v.leg.Wait(ctx, v.s)
	return convEnd{byCaller: end.ByCaller}, err
}

// dialOnce sends one bridge to the assistant and waits for its outcome.
func (c *call) dialOnce(ctx context.Context, a *Assistant) (conversation, error) {
	if err := c.unhold(ctx); err != nil {
		return nil, err
	}
	bleg := newLegUUID()
	dial := a.SIP.DialString(c.info, bleg)
	leg, err := media.Dial(ctx, c.s, dial, a.SIP.AnswerTimeout, bleg)
	if cerr := c.collect(ctx); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return sipConv{s: c.s, leg: leg}, nil
}

// retryAfter decides whether a failure is tried again on the same
// assistant and, if so, waits the backoff and takes a new admission from
// its breaker.
func (c *call) retryAfter(ctx context.Context, a *Assistant, f *media.Failure, retry int, first time.Time) (func(error), bool) {
	r := a.Retry
	if !f.Transient() || retry >= r.Attempts || len(r.Backoff) == 0 {
		return nil, false
	}
	wait := r.Backoff[min(retry, len(r.Backoff)-1)].D()
	if c.f.now().Sub(first)+wait > r.MaxSilence.D() {
		return nil, false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, false
	case <-t.C:
	}
	report := func(error) {}
	if g := c.snap.Gate; g != nil {
		done, ok := g.Admit(a.Name)
		if !ok {
			return nil, false
		}
		report = done
	}
	c.log.Debug("retrying a transient failure on the same assistant", zap.String("assistant", a.Name), zap.Int("retry", retry+1))
	return report, true
}

func (c *call) recordAttempt(pool, name, result, cause string, t0 time.Time) {
	c.attempts = append(c.attempts, attempt{Assistant: name, Result: result, Cause: cause, Duration: c.f.now().Sub(t0)})
	c.f.rec.Attempt(pool, name, result)
	c.f.recent.add(name, Result{At: c.f.now(), Pool: pool, Result: result, Cause: cause})
}

// converse follows an answered call until the assistant or the caller
// leaves, then runs what comes next: the pool's after step, its fallback
// when the assistant failed mid-conversation, or the assistant's hand-off.
func (c *call) converse(ctx context.Context, p *Pool, name string, conv conversation, t0 time.Time, report func(error)) error {
	poolName := ""
	var after *config.Action
	if p != nil {
		poolName, after = p.Name, p.After
	}
	if conv.settled() {
		report(nil)
	}
	c.answered = true
	c.recordAttempt(poolName, name, "answered", "", t0)
	if len(c.attempts) == 1 {
		c.outcome = OutcomeAI
	} else if c.outcome == "" {
		c.outcome = OutcomeFailoverAI
	}
	c.f.rec.Connected(poolName, name, 1)
	end, err := conv.wait(ctx)
	c.f.rec.Connected(poolName, name, -1)
	if !conv.settled() {
		if end.failure != nil {
			report(end.failure)
		} else {
			report(nil)
		}
	}
	switch {
	case err != nil:
		return err
	case end.byCaller:
		return errCallerGone
	case end.failure != nil:
		// The caller heard the assistant: other members would start over.
		// The fallback takes them, with what was collected.
		f := end.failure
		c.recordAttempt(poolName, name, f.Result(), f.Cause, t0)
		c.f.rec.AIFailure("with_failover")
		c.failedAt = c.f.now()
		c.post(media.Var{Name: "ailb_last_failure", Value: f.Cause})
		c.log.Info("assistant failed mid-conversation; fallback", zap.String("assistant", name), zap.String("cause", f.Cause))
		c.outcome = OutcomeFallback
		if p == nil {
			c.fallback = "dialplan"
			return nil
		}
		return c.runFallback(ctx, p)
	case end.handoff != nil:
		return c.handoff(ctx, p, end.handoff)
	}
	return c.afterAI(ctx, after)
}

func newLegUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// end hangs up or hands back as the flow decided, and writes the call's
// log line.
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
	c.log.Info("call", fields...)
}
