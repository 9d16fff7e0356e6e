package dialplan

import (
	"context"
	"errors"
	"time"

	"ailb/config"
	"ailb/esl"
	"ailb/media"

	"go.uber.org/zap"
)

// appTimeout bounds apps that finish at once (answer, transfer, hangup).
const appTimeout = 5 * time.Second

// runFallback runs the pool's fallback steps in order until one takes the
// call. When none does, the call goes back to FreeSWITCH's dialplan (the
// action after `socket`): the caller is never left without a next step.
func (c *call) runFallback(ctx context.Context, p *Pool) error {
	if c.depth >= maxDepth {
		c.log.Warn("fallback chain too deep; handing the call back to the dialplan", zap.Int("depth", c.depth))
		c.outcome, c.fallback = OutcomeFallback, "dialplan"
		return nil
	}
	c.depth++
	defer func() { c.depth-- }()
	for _, a := range p.Fallback {
		handled, err := c.action(ctx, p, a)
		if err != nil {
			return err
		}
		if handled {
			if c.outcome == "" {
				c.outcome = OutcomeFallback
			}
			return nil
		}
	}
	c.outcome, c.fallback = OutcomeFallback, "dialplan"
	c.post(media.Var{Name: "ailb_fallback", Value: "dialplan"})
	return nil
}

// action runs one fallback step or IVR option. It reports handled when
// the call needs nothing more from this flow.
func (c *call) action(ctx context.Context, p *Pool, a *config.Action) (bool, error) {
	if a.Action != config.ActAssistant && a.Action != config.ActPool {
		c.fallback = a.Action
		c.post(media.Var{Name: "ailb_fallback", Value: a.Action})
	}
	switch a.Action {
	case config.ActExtension:
		return true, c.transfer(ctx, a.Extension, a.Context)
	case config.ActHangup:
		return true, c.hangup(ctx, a.Cause)
	case config.ActRingGroup:
		return c.ringGroup(ctx, a)
	case config.ActIVR:
		return c.runMenu(ctx, c.snap.Menus[a.Menu])
	case config.ActAssistant:
		c.fallback = "assistant:" + a.Assistant
		c.post(media.Var{Name: "ailb_fallback", Value: c.fallback})
		// One attempt, never the pool again: no loops.
		return c.tryAssistant(ctx, nil, a.Assistant)
	case config.ActPool:
		if c.depth >= maxDepth {
			return false, nil
		}
		return true, c.runPool(ctx, c.snap.Pools[a.Pool])
	}
	return false, nil
}

// transfer hands the call to an extension in FreeSWITCH's dialplan; the
// channel keeps every ailb_* variable. The socket is left right after, so
// this listener cannot kick the channel out of a later park.
func (c *call) transfer(ctx context.Context, ext, dpContext string) error {
	if err := c.unhold(ctx); err != nil {
		return err
	}
	_, err := c.s.Execute(ctx, "transfer", ext+" XML "+dpContext, appTimeout)
	if errors.Is(err, esl.ErrHangup) {
		return errCallerGone
	}
	if errors.Is(err, esl.ErrTimeout) {
		// The transfer is queued and still runs when the socket closes.
		return nil
	}
	return err
}

// hangup ends the call with a cause and waits for FreeSWITCH to do it.
func (c *call) hangup(ctx context.Context, cause string) error {
	if err := c.unhold(ctx); err != nil {
		return err
	}
	if err := c.s.SendHangup(ctx, cause); err != nil {
		return err
	}
	_, err := c.s.Wait(ctx, appTimeout, nil)
	if err == nil || errors.Is(err, esl.ErrHangup) {
		return errCallerGone
	}
	return err
}

// afterAI runs once the assistant left a call that went well.
func (c *call) afterAI(ctx context.Context, a *config.Action) error {
	if a == nil || a.Action == config.ActHangup {
		cause := "NORMAL_CLEARING"
		if a != nil {
			cause = a.Cause
		}
		return c.hangup(ctx, cause)
	}
	_, err := c.action(ctx, nil, a)
	return err
}

// ringGroup bridges the caller to people. Answered: the call is theirs.
func (c *call) ringGroup(ctx context.Context, a *config.Action) (bool, error) {
	if err := c.unhold(ctx); err != nil {
		return true, err
	}
	g := &media.RingGroup{Endpoints: a.Endpoints, Sequential: a.Mode == "sequential", Timeout: a.Timeout.D()}
	leg, err := media.Dial(ctx, c.s, g.DialString(c.info, ""), g.Ring(), "")
	if cerr := c.collect(ctx); err == nil && cerr != nil {
		err = cerr
	}
	var f *media.Failure
	switch {
	case errors.As(err, &f):
		if !f.TryNext() {
			return true, errCallerGone
		}
		c.post(media.Var{Name: "ailb_last_failure", Value: f.Cause})
		return false, nil
	case errors.Is(err, media.ErrStuck):
		return true, nil // back to the dialplan
	case err != nil:
		return true, err
	}
	c.answered = true
	end, err := leg.Wait(ctx, c.s)
	if err != nil || end.ByCaller {
		return true, errCallerGone
	}
	return true, c.hangup(ctx, "NORMAL_CLEARING")
}
