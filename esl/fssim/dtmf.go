package fssim

import "time"

// dtmfPlan replays Call.DTMF: a burst is armed at answer (or when the
// previous burst ends) and re-armed when a play_and_get_digits starts before
// its first digit.
type dtmfPlan struct {
	bursts []DTMF
	i, pos int
	base   time.Time
}

// nextDigit is when the next digit is due (zero: none armed).
func (s *session) nextDigit() time.Time {
	d := &s.dtmf
	if d.base.IsZero() || d.i >= len(d.bursts) {
		return time.Time{}
	}
	b := d.bursts[d.i]
	gap := b.Gap
	if gap <= 0 {
		gap = 400 * time.Millisecond
	}
	return d.base.Add(s.sw.scaled(b.After + time.Duration(d.pos)*gap))
}

// sendDigit fires the DTMF event of the next digit (RFC 2833 from the
// caller) and hands the digit to the app that reads digits, if any.
func (s *session) sendDigit(now time.Time, o waitOpts) {
	d := &s.dtmf
	b := d.bursts[d.i]
	digit := byte(0)
	if d.pos < len(b.Digits) {
		digit = b.Digits[d.pos]
	}
	d.pos++
	if d.pos >= len(b.Digits) {
		d.i, d.pos, d.base = d.i+1, 0, now
	}
	if digit == 0 {
		return
	}
	dur := b.Duration
	if dur <= 0 {
		dur = 1600
	}
	c := s.c
	c.mu.Lock()
	if c.up {
		c.fire(evDTMF, &evArgs{digit: digit, digitDur: dur})
		if o.digits || o.keepDigits {
			c.digits = append(c.digits, digit)
		}
	}
	c.mu.Unlock()
}

// armDTMF starts the pending burst now (answer, or a digit collector
// starting before the burst's first digit).
func (s *session) armDTMF(now time.Time, collector bool) {
	d := &s.dtmf
	if d.i >= len(d.bursts) || d.pos > 0 {
		return
	}
	if d.base.IsZero() || collector {
		d.base = now
	}
}
