package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"ailb/esl/fssim"
)

// outcomeKind maps the outcome names -target accepts to the simulator's.
func outcomeKind(name string) (fssim.Kind, bool) {
	switch strings.ToLower(name) {
	case "answer":
		return fssim.Answer, true
	case "busy":
		return fssim.Busy, true
	case "unreachable":
		return fssim.Unreachable, true
	case "noanswer":
		return fssim.NoAnswer, true
	case "reject":
		return fssim.Reject, true
	case "notfound":
		return fssim.NotFound, true
	}
	return 0, false
}

// targetSpec is one -target 'substring=outcome[:after]'.
type targetSpec struct {
	arg   string // as given, for the report
	match string
	kind  fssim.Kind
	after time.Duration
}

func parseTarget(s string) (targetSpec, error) {
	match, rest, ok := strings.Cut(s, "=")
	if !ok || match == "" {
		return targetSpec{}, fmt.Errorf("-target %q: want 'endpoint-substring=outcome[:after]', e.g. 'ai-2=busy'", s)
	}
	name, after, hasAfter := strings.Cut(rest, ":")
	kind, ok := outcomeKind(name)
	if !ok {
		return targetSpec{}, fmt.Errorf("-target %q: outcome %q is not one of answer, busy, unreachable, noanswer, reject, notfound", s, name)
	}
	t := targetSpec{arg: s, match: match, kind: kind}
	if hasAfter {
		d, err := time.ParseDuration(after)
		if err != nil || d < 0 {
			return targetSpec{}, fmt.Errorf("-target %q: %q is not a duration (time to answer or fail, e.g. 300ms)", s, after)
		}
		t.after = d
	}
	return t, nil
}

// buildTargets turns the specs into simulator rules. Every answering
// endpoint talks for talk (then the AI leg hangs up); the last, catch-all
// rule covers endpoints no -target names, since the simulator's own
// default answers and never hangs up.
func buildTargets(specs []targetSpec, talk time.Duration) []fssim.Target {
	out := make([]fssim.Target, 0, len(specs)+1)
	for _, s := range specs {
		o := fssim.Outcome{Kind: s.kind, After: s.after}
		if s.kind == fssim.Answer {
			o.TalkFor = talk
		}
		out = append(out, fssim.Target{Match: s.match, Outcome: o})
	}
	return append(out, fssim.Target{Match: "", Outcome: fssim.Outcome{Kind: fssim.Answer, TalkFor: talk}})
}

// parseVar is one -var 'name=value' (a channel variable the dialplan set
// before `socket`).
func parseVar(s string, into map[string]string) error {
	name, val, ok := strings.Cut(s, "=")
	if !ok || name == "" || strings.ContainsAny(name, " \t\n:") {
		return fmt.Errorf("-var %q: want 'name=value', e.g. 'ailb_route=sales'", s)
	}
	into[name] = val
	return nil
}

// loadFlags are the flags that describe the load, shared by run and compare.
type loadFlags struct {
	calls    int
	rate     float64
	hold     int
	holdRate float64
	talk     time.Duration
	scale    float64
	maxCall  time.Duration
	targets  []targetSpec
	vars     map[string]string
	metrics  string
}

func (f *loadFlags) register(fs *flag.FlagSet, calls int, rate float64) {
	f.vars = map[string]string{}
	fs.IntVar(&f.calls, "calls", calls, "calls to place and measure")
	fs.Float64Var(&f.rate, "rate", rate, "calls per second, open loop: a slow server does not slow the arrivals")
	fs.IntVar(&f.hold, "hold", 0, "calls established first and kept up (answered, talking) during the whole measurement")
	fs.Float64Var(&f.holdRate, "hold-rate", 1000, "calls per second while establishing -hold")
	fs.DurationVar(&f.talk, "talk", 2*time.Second, "how long the AI talks before it hangs up (scaled)")
	fs.Float64Var(&f.scale, "scale", 1, "multiplies every simulated delay (ring, talk, park loop tick, linger)")
	fs.DurationVar(&f.maxCall, "max-call", 2*time.Minute, "a measured call still up after this long (real time) counts as an error")
	fs.Func("target", "endpoint-substring=outcome[:after] (answer, busy, unreachable, noanswer, reject, notfound); repeatable, first match wins", func(s string) error {
		t, err := parseTarget(s)
		if err == nil {
			f.targets = append(f.targets, t)
		}
		return err
	})
	fs.StringVar(&f.metrics, "metrics", "", "the server's /metrics URL: report how much ailb_ai_failures_total and ailb_store_fallback_total grew")
	fs.Func("var", "name=value: a channel variable the dialplan set before the socket application (e.g. ailb_route=sales); repeatable", func(s string) error {
		return parseVar(s, f.vars)
	})
}

// spec validates the flags and builds the load against addr ("" for
// compare, which fills in each controller's).
func (f *loadFlags) spec(addr string) (spec, error) {
	var errs []error
	if f.calls <= 0 {
		errs = append(errs, fmt.Errorf("-calls %d: must be at least 1", f.calls))
	}
	if f.rate <= 0 {
		errs = append(errs, fmt.Errorf("-rate %g: must be above 0", f.rate))
	}
	if f.hold < 0 {
		errs = append(errs, fmt.Errorf("-hold %d: must be 0 or more", f.hold))
	}
	if f.hold > 0 && f.holdRate <= 0 {
		errs = append(errs, fmt.Errorf("-hold-rate %g: must be above 0", f.holdRate))
	}
	if f.talk < 0 {
		errs = append(errs, fmt.Errorf("-talk %v: must be 0 or more", f.talk))
	}
	if f.scale <= 0 {
		errs = append(errs, fmt.Errorf("-scale %g: must be above 0", f.scale))
	}
	if f.maxCall <= 0 {
		errs = append(errs, fmt.Errorf("-max-call %v: must be above 0", f.maxCall))
	}
	if err := errors.Join(errs...); err != nil {
		return spec{}, err
	}
	args := make([]string, len(f.targets))
	for i, t := range f.targets {
		args[i] = t.arg
	}
	return spec{TargetArgs: args,
		Addr: addr, Calls: f.calls, Rate: f.rate, Hold: f.hold, HoldRate: f.holdRate,
		Talk: f.talk, Scale: f.scale, MaxCall: f.maxCall,
		Targets: buildTargets(f.targets, f.talk), Vars: f.vars, Metrics: f.metrics,
	}, nil
}
