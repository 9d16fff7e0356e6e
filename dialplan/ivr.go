package dialplan

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/percipia/eslgo/command"
	"go.uber.org/zap"

	"ailb/config"
	"ailb/esl"
)

// runMenu plays a DTMF menu. A choice menu runs the option the caller
// picks (digits kept in ailb_ivr_<menu>); a question stores the answer in
// ailb_ivr_<collect> and is skipped when the caller already gave it (to
// the IVR or to an assistant: ailb_state_<collect>). It reports handled
// when the call needs nothing more from this flow.
func (c *call) runMenu(ctx context.Context, m *config.Menu) (bool, error) {
	if c.depth >= maxDepth {
		return false, nil
	}
	c.depth++
	defer func() { c.depth-- }()
	if m.Collect != "" {
		return c.askQuestion(ctx, m)
	}
	if err := c.answerWithNext(); err != nil {
		return true, err
	}
	varName := "ailb_ivr_" + strings.ReplaceAll(m.Name, "-", "_")
	repeats := 0
	for try := 1; try <= m.Tries; try++ {
		digits, timedOut, err := c.readDigits(ctx, m, varName, choiceRegexp(m))
		if err != nil {
			return true, err
		}
		if a, ok := m.Options[digits]; ok && digits != "" {
			if a.Action == config.ActRepeat && repeats < 3*m.Tries {
				repeats++
				try--
				continue
			}
			c.log.Debug("ivr choice", zap.String("menu", m.Name), zap.String("digits", digits))
			if a.Action == config.ActRepeat {
				break
			}
			return c.action(ctx, nil, a)
		}
		if try < m.Tries {
			if err := c.playRetryPrompt(ctx, m, timedOut); err != nil {
				return true, err
			}
		}
	}
	c.log.Debug("ivr: no valid choice", zap.String("menu", m.Name))
	if m.OnFailure != nil {
		return c.action(ctx, nil, m.OnFailure)
	}
	return true, c.hangup(ctx, "NORMAL_CLEARING")
}

// askQuestion collects one answer unless it is already known.
func (c *call) askQuestion(ctx context.Context, m *config.Menu) (bool, error) {
	varName := "ailb_ivr_" + m.Collect
	known, err := c.knownAnswer(ctx, m.Collect)
	if err != nil {
		return true, err
	}
	if known == "" {
		if err := c.answerWithNext(); err != nil {
			return true, err
		}
		regex := m.Regex
		if regex == "" {
			regex = "^[0-9]+$"
		}
		for try := 1; try <= m.Tries && known == ""; try++ {
			digits, timedOut, err := c.readDigits(ctx, m, varName, regex)
			if err != nil {
				return true, err
			}
			if digits != "" {
				known = digits
				break
			}
			if try < m.Tries {
				if err := c.playRetryPrompt(ctx, m, timedOut); err != nil {
					return true, err
				}
			}
		}
		if known == "" {
			c.log.Debug("ivr: question not answered", zap.String("menu", m.Name))
			if m.OnFailure != nil {
				return c.action(ctx, nil, m.OnFailure)
			}
			return false, nil
		}
	} else {
		c.log.Debug("ivr: question skipped, the answer is known", zap.String("menu", m.Name), zap.String("collect", m.Collect))
	}
	if m.Next != nil {
		return c.action(ctx, nil, m.Next)
	}
	return false, nil
}

// knownAnswer reads ailb_ivr_<name> and ailb_state_<name> from the live
// channel (an assistant may have set state moments ago).
func (c *call) knownAnswer(ctx context.Context, name string) (string, error) {
	rs, err := c.s.Send(ctx,
		command.API{Command: "uuid_getvar", Arguments: c.s.UUID() + " ailb_ivr_" + name},
		command.API{Command: "uuid_getvar", Arguments: c.s.UUID() + " ailb_state_" + name},
	)
	if err != nil {
		return "", err
	}
	for _, r := range rs {
		if v := r.Result(); r.API && v != "" && v != "_undef_" && !strings.HasPrefix(v, "-ERR") {
			return v, nil
		}
	}
	return "", nil
}

// readDigits runs one try of play_and_get_digits. The variable is cleared
// first in the same write: FreeSWITCH sets it only when digits were
// entered, so a value left from an earlier try would read as an answer.
// It returns the digits (empty when none valid) and whether nothing at all
// was entered.
func (c *call) readDigits(ctx context.Context, m *config.Menu, varName, regex string) (string, bool, error) {
	if err := c.unhold(ctx); err != nil {
		return "", false, err
	}
	if _, err := c.s.Defer(command.API{Command: "uuid_setvar", Arguments: c.s.UUID() + " " + varName}); err != nil {
		return "", false, err
	}
	bound := m.Timeout.D() + time.Duration(m.MaxDigits)*m.DigitTimeout.D() + time.Minute
	ev, err := c.s.Execute(ctx, "play_and_get_digits", pagdArgs(m, varName, regex), bound)
	if cerr := c.collect(ctx); err == nil && cerr != nil {
		err = cerr
	}
	if errors.Is(err, esl.ErrHangup) {
		return "", false, errCallerGone
	}
	if err != nil {
		return "", false, err
	}
	// switch_ivr_read leaves too-short input in the variable with
	// read_result=failure; a regexp miss clears it but keeps "success".
	result, digits := ev.Var("read_result"), ev.Var(varName)
	if result != "success" {
		digits = ""
	}
	return digits, result == "timeout", nil
}

// playRetryPrompt tells the caller why the menu starts again.
func (c *call) playRetryPrompt(ctx context.Context, m *config.Menu, timedOut bool) error {
	p := m.InvalidPrompt
	if timedOut && m.TimeoutPrompt != "" {
		p = m.TimeoutPrompt
	}
	if p == "" {
		return nil
	}
	_, err := c.s.Execute(ctx, "playback", p, time.Minute)
	if errors.Is(err, esl.ErrHangup) {
		return errCallerGone
	}
	return err
}

// answerWithNext answers the caller's channel together with the next
// command (the menu's prompt): both are queued in one write with
// event-lock, and FreeSWITCH runs the prompt right after the answer in the
// same pass of its park loop instead of a 20 ms tick later. A hangup in
// between shows as the prompt's HangupError.
func (c *call) answerWithNext() error {
	if c.answered {
		return nil
	}
	if _, err := c.s.Defer(esl.Execute{UUID: c.s.UUID(), App: "answer", EventUUID: c.s.NextAppUUID(), Lock: true}); err != nil {
		return err
	}
	c.answered = true
	return nil
}

// answer answers the caller's channel unless a bridge or a menu already did
// (a hold prompt only plays on an answered channel, so none is cut here).
func (c *call) answer(ctx context.Context) error {
	if c.answered {
		return nil
	}
	_, err := c.s.Execute(ctx, "answer", "", appTimeout)
	if errors.Is(err, esl.ErrHangup) {
		return errCallerGone
	}
	if err == nil {
		c.answered = true
	}
	return err
}

// pagdArgs builds one try of play_and_get_digits:
// min max tries timeout terminators file invalid_file var regexp digit_timeout.
// The retry prompts are ailb's (timeout and invalid differ), so the
// module's own invalid file is a short silence.
func pagdArgs(m *config.Menu, varName, regex string) string {
	return strings.Join([]string{
		strconv.Itoa(m.MinDigits), strconv.Itoa(m.MaxDigits), "1",
		strconv.Itoa(int(m.Timeout.D() / time.Millisecond)), m.Terminators,
		quoteArg(m.Prompt), "silence_stream://10", varName, regex,
		strconv.Itoa(int(m.DigitTimeout.D() / time.Millisecond)),
	}, " ")
}

// choiceRegexp accepts exactly the menu's options. FreeSWITCH's match is
// unanchored and its argument splitter eats spaces and some escapes, so
// the pattern is anchored and uses character classes only.
func choiceRegexp(m *config.Menu) string {
	keys := make([]string, 0, len(m.Options))
	for k := range m.Options {
		var b strings.Builder
		for _, d := range k {
			if d == '*' || d == '#' {
				b.WriteString("[" + string(d) + "]")
				continue
			}
			b.WriteRune(d)
		}
		keys = append(keys, b.String())
	}
	sort.Strings(keys)
	return "^(" + strings.Join(keys, "|") + ")$"
}

// quoteArg keeps a prompt with spaces (say:, phrase:) one argument.
func quoteArg(s string) string {
	if strings.ContainsRune(s, ' ') {
		return "'" + s + "'"
	}
	return s
}
