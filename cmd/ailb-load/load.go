package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"ailb/esl/fssim"
)

// spec is one load: what to place against which server.
type spec struct {
	Addr     string
	Calls    int
	Rate     float64
	Hold     int
	HoldRate float64
	Talk     time.Duration
	Scale    float64
	MaxCall  time.Duration
	Targets  []fssim.Target
	// TargetArgs are the -target flags as given, for the report.
	TargetArgs []string
	Vars       map[string]string
	// PID is the server's process, for its CPU and memory; 0: not measured.
	PID int
	// Metrics is the server's /metrics URL, for its failure counters ("": none).
	Metrics string
}

// maxListed bounds the failures a report lists one by one.
const maxListed = 10

// runLoad establishes the held calls, then places the measured calls open
// loop and waits for every one of them to end.
func runLoad(ctx context.Context, s spec) (*report, error) {
	rep := newReport(s)
	var sampler *rssSampler
	if s.PID > 0 {
		if _, err := procCPU(s.PID); err != nil {
			return nil, fmt.Errorf("-pid %d: %w", s.PID, err)
		}
		rep.hwmReset = resetPeakRSS(s.PID) == nil
		sampler = startRSSSampler(ctx, s.PID, 100*time.Millisecond)
	}
	var held *holdSet
	if s.Hold > 0 {
		var err error
		if held, err = startHold(ctx, s); err != nil {
			if sampler != nil {
				_, _ = sampler.stop()
			}
			return nil, err
		}
	}
	var before map[string]float64
	if s.Metrics != "" {
		var err error
		if before, err = scrape(ctx, s.Metrics, watched); err != nil {
			rep.Warnings = append(rep.Warnings, "server metrics: "+err.Error())
		}
	}
	measure(ctx, s, rep)
	if before != nil {
		if after, err := scrape(ctx, s.Metrics, watched); err != nil {
			rep.Warnings = append(rep.Warnings, "server metrics after the run: "+err.Error())
		} else {
			rep.ServerCounters = counterDeltas(before, after)
		}
	}
	if held != nil {
		rep.HoldLost, rep.holdFailures = held.stop()
	}
	if sampler != nil {
		rep.setRSS(sampler.stop())
	}
	rep.Interrupted = ctx.Err() != nil
	rep.finish(runtime.NumCPU())
	return rep, nil
}

// measure places s.Calls calls at s.Rate and records them in rep.
func measure(ctx context.Context, s spec, rep *report) {
	sw := &fssim.Switch{Addr: s.Addr, Scale: s.Scale, Targets: s.Targets}
	results := make([]callResult, s.Calls)
	late := make([]time.Duration, 0, s.Calls)
	var active, peak atomic.Int64
	var wg sync.WaitGroup

	var cpu0 time.Duration
	if s.PID > 0 {
		cpu0, _ = procCPU(s.PID)
	}
	self0 := selfCPU()
	busy0, busyErr := machineBusy()
	start := time.Now()
	var last time.Time
	launched := pace(ctx, start, s.Calls, s.Rate, func(i int, due time.Time) {
		last = time.Now()
		late = append(late, last.Sub(due))
		wg.Go(func() {
			n := active.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			res, err := sw.Run(ctx, fssim.Call{Vars: s.Vars, MaxDuration: s.MaxCall})
			results[i] = classify(res, err)
			active.Add(-1)
		})
	})
	wg.Wait()
	end := time.Now()
	if s.PID > 0 {
		if cpu1, err := procCPU(s.PID); err == nil {
			rep.Server = &serverUsage{PID: s.PID, cpuUsage: cpuUsage{CPU: cpu1 - cpu0}}
		}
	}
	rep.Generator.CPU = selfCPU() - self0
	if busy1, err := machineBusy(); err == nil && busyErr == nil {
		// What neither the server nor this process used: other programs
		// competing for the same CPUs during the measurement.
		other := busy1 - busy0 - rep.Generator.CPU
		if rep.Server != nil {
			other -= rep.Server.CPU
		}
		rep.Others = &cpuUsage{CPU: max(other, 0)}
	}
	rep.Launched = launched
	rep.Elapsed = end.Sub(start)
	if launched > 1 {
		rep.Achieved = float64(launched-1) / last.Sub(start).Seconds()
	} else {
		rep.Achieved = s.Rate
	}
	rep.Lateness = summarize(late)
	rep.MaxInProgress = int(peak.Load()) + s.Hold
	rep.addResults(results[:launched])
}

// pace calls fn(i, due) for i in [0, n) at rate per second from start, open
// loop: a slow fn delays no later due time. It stops when ctx ends and
// returns how many calls it made.
func pace(ctx context.Context, start time.Time, n int, rate float64, fn func(i int, due time.Time)) int {
	interval := float64(time.Second) / rate
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := range n {
		due := start.Add(time.Duration(float64(i) * interval))
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return i
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return i
		}
		fn(i, due)
	}
	return n
}

// holdSet is the calls kept up during the measurement.
type holdSet struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	bridged atomic.Int64 // bridged and still up
	ended   atomic.Int64 // Run returned before stop
	mu      sync.Mutex
	fails   []string
}

// startHold places s.Hold calls that the AI answers and never ends, and
// returns once every one is bridged (or has failed).
func startHold(parent context.Context, s spec) (*holdSet, error) {
	ctx, cancel := context.WithCancel(parent)
	h := &holdSet{cancel: cancel}
	sw := &fssim.Switch{Addr: s.Addr, Scale: s.Scale,
		Targets: []fssim.Target{{Match: "", Outcome: fssim.Outcome{Kind: fssim.Answer}}}}
	var unbridgedEnds atomic.Int64
	start := time.Now()
	interval := float64(time.Second) / s.HoldRate
	pace(ctx, start, s.Hold, s.HoldRate, func(int, time.Time) {
		// CHANNEL_BRIDGE: the AI answered, the call is in the state measured.
		var bridged atomic.Bool
		onSent := func(m fssim.Sent) {
			if m.Event == "CHANNEL_BRIDGE" && !bridged.Load() {
				bridged.Store(true)
				h.bridged.Add(1)
			}
		}
		h.wg.Go(func() {
			res, err := sw.Run(ctx, fssim.Call{Vars: s.Vars, MaxDuration: 24 * time.Hour, OnSent: onSent})
			if ctx.Err() != nil {
				return // stopped: the call was up until then
			}
			r := classify(res, err)
			h.mu.Lock()
			if len(h.fails) < maxListed {
				h.fails = append(h.fails, "held call ended: "+r.outcome.String()+" "+r.detail)
			}
			h.mu.Unlock()
			h.ended.Add(1)
			if bridged.Load() {
				h.bridged.Add(-1)
			} else {
				unbridgedEnds.Add(1)
			}
		})
	})
	limit := 30*time.Second + time.Duration(float64(s.Hold)*interval) + time.Duration(float64(2*time.Second)*s.Scale)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		b, u := h.bridged.Load(), unbridgedEnds.Load()
		if b+u >= int64(s.Hold) && u == 0 {
			return h, nil
		}
		var err error
		switch {
		case u > 0:
			err = fmt.Errorf("-hold %d: %d held calls ended before they were bridged (%d bridged); first: %s", s.Hold, u, b, h.firstFailure())
		case parent.Err() != nil:
			err = fmt.Errorf("-hold %d: interrupted with %d calls bridged", s.Hold, b)
		case time.Since(start) > limit:
			err = fmt.Errorf("-hold %d: only %d calls bridged after %v (is the server bridging calls? a stream route never bridges)", s.Hold, b, limit.Round(time.Second))
		}
		if err != nil {
			h.stop()
			return nil, err
		}
		<-tick.C
	}
}

func (h *holdSet) firstFailure() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.fails) == 0 {
		return "(none recorded)"
	}
	return h.fails[0]
}

// stop ends the held calls (the switch closes their sockets) and reports
// those that had ended on their own: lost during the measurement.
func (h *holdSet) stop() (lost int, fails []string) {
	lost = int(h.ended.Load())
	h.cancel()
	h.wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	return lost, h.fails
}
