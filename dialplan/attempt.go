package dialplan

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"ailb/config"
	"ailb/esl"
	"ailb/media"
)

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
	// A retry's admission is not the slot's: whatever path leaves, the
	// latest one is reported (a no-op once it was), as Release does for
	// the first, or a half-open breaker waits for it for ever.
	defer func() { report(media.ErrNoOutcome) }()
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
