package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// report is the outcome of one load run.
type report struct {
	Addr    string            `json:"addr"`
	Calls   int               `json:"calls"`
	Rate    float64           `json:"rate"`
	Hold    int               `json:"hold"`
	Talk    string            `json:"talk"`
	Scale   float64           `json:"scale"`
	Vars    map[string]string `json:"vars,omitempty"`
	Targets []string          `json:"targets,omitempty"`

	Launched int           `json:"launched"`
	Elapsed  time.Duration `json:"elapsed_ns"` // first launch to the end of the last call
	Achieved float64       `json:"achieved_calls_per_s"`
	// Lateness is how late each call was placed against its schedule.
	Lateness summary `json:"launch_lateness"`
	Setup    summary `json:"setup"`
	// Failover: an assistant's failure on the wire -> the next bridge;
	// ToPrompt: the last failure -> the fallback IVR's first prompt.
	Failover      summary `json:"failover"`
	ToPrompt      summary `json:"to_ivr_prompt"`
	NoSetup       int     `json:"no_setup"` // calls without a bridge or stream start
	MaxInProgress int     `json:"max_in_progress"`
	HoldLost      int     `json:"hold_lost"`

	Outcomes    map[string]int `json:"outcomes"`
	Failures    int            `json:"failures"`
	FailureList []string       `json:"failure_list,omitempty"`

	Server *serverUsage `json:"server,omitempty"`
	// ServerCounters is how much the server's failure counters grew during
	// the measured calls (with -metrics).
	ServerCounters map[string]float64 `json:"server_counters,omitempty"`
	Generator      cpuUsage           `json:"generator"`
	// Others is the CPU every other process used meanwhile.
	Others   *cpuUsage `json:"other_processes,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
	Notes    []string  `json:"notes,omitempty"`
	// Bottleneck says why the simulator limited the measurement; "" when
	// it kept up.
	Bottleneck string `json:"simulator_bottleneck,omitempty"`

	Interrupted bool `json:"interrupted,omitempty"`

	setups       []time.Duration // sorted, pooled by compare
	counts       [numOutcomes]int
	holdFailures []string
	hwmReset     bool
}

// noisyCores is how much CPU other processes may use during a measurement
// before it counts as disturbed: a warning, and compare measures again.
const noisyCores = 0.2

// cpuUsage is CPU spent during the measurement (from the first measured call
// to the end of the last).
type cpuUsage struct {
	CPU        time.Duration `json:"cpu_ns"`
	CPUPerCall time.Duration `json:"cpu_per_call_ns"`
	Cores      float64       `json:"cores"` // CPU / wall time
}

type serverUsage struct {
	PID int `json:"pid"`
	cpuUsage
	PeakRSS       int64  `json:"peak_rss_bytes"`
	PeakRSSSource string `json:"peak_rss_source"`
}

func newReport(s spec) *report {
	r := &report{Addr: s.Addr, Calls: s.Calls, Rate: s.Rate, Hold: s.Hold, Talk: s.Talk.String(), Scale: s.Scale,
		Vars: s.Vars, Targets: s.TargetArgs}
	if len(r.Vars) == 0 {
		r.Vars = nil
	}
	if len(r.Targets) == 0 {
		r.Targets = nil
	}
	return r
}

func (r *report) addResults(results []callResult) {
	r.setups = make([]time.Duration, 0, len(results))
	var failovers, prompts []time.Duration
	for _, c := range results {
		failovers = append(failovers, c.failovers...)
		if c.toPrompt >= 0 {
			prompts = append(prompts, c.toPrompt)
		}
		r.counts[c.outcome]++
		if c.setup >= 0 {
			r.setups = append(r.setups, c.setup)
		} else {
			r.NoSetup++
		}
		if c.outcome.failure() {
			r.Failures++
			if len(r.FailureList) < maxListed {
				r.FailureList = append(r.FailureList, c.outcome.String()+": "+c.detail)
			}
		}
	}
	r.Setup = summarize(r.setups)
	r.Failover, r.ToPrompt = summarize(failovers), summarize(prompts)
}

// setRSS picks the peak: VmHWM when it could be reset for this run, else
// the largest sampled VmRSS.
func (r *report) setRSS(m memStatus, sampleErr error) {
	if r.Server == nil {
		return
	}
	switch {
	case r.hwmReset && m.HWM > 0:
		r.Server.PeakRSS, r.Server.PeakRSSSource = max(m.HWM, m.RSS), "VmHWM"
	case m.RSS > 0:
		r.Server.PeakRSS, r.Server.PeakRSSSource = m.RSS, "sampled VmRSS every 100ms"
	default:
		r.Warnings = append(r.Warnings, fmt.Sprintf("server memory unknown: %v", sampleErr))
	}
}

// finish derives per-call figures and the warnings about the measurement
// itself: arrivals that fell behind or a machine without spare CPU make the
// latency figures partly the simulator's.
func (r *report) finish(ncpu int) {
	r.Outcomes = make(map[string]int, numOutcomes)
	for o := range numOutcomes {
		r.Outcomes[o.String()] = r.counts[o]
	}
	if r.HoldLost > 0 {
		r.Failures += r.HoldLost
		r.FailureList = append(r.FailureList, r.holdFailures...)
	}
	wall := r.Elapsed.Seconds()
	per := func(u *cpuUsage) {
		if r.Launched > 0 {
			u.CPUPerCall = u.CPU / time.Duration(r.Launched)
		}
		if wall > 0 {
			u.Cores = u.CPU.Seconds() / wall
		}
	}
	per(&r.Generator)
	if r.Server != nil {
		per(&r.Server.cpuUsage)
	}
	if r.Others != nil {
		per(r.Others)
		if r.Others.Cores > noisyCores {
			r.Warnings = append(r.Warnings, fmt.Sprintf("other processes used %.2f cores during the measurement: the figures include their interference", r.Others.Cores))
		}
	}
	var behind []string
	if r.Launched > 1 && r.Achieved < 0.97*r.Rate {
		behind = append(behind, fmt.Sprintf("arrivals fell behind (%.1f calls/s of %g)", r.Achieved, r.Rate))
	}
	if r.Lateness.P99 > 5*time.Millisecond {
		behind = append(behind, fmt.Sprintf("calls were placed up to %s late (p99)", ms(r.Lateness.P99)))
	}
	total := r.Generator.Cores
	if r.Others != nil {
		total += r.Others.Cores
	}
	if r.Server != nil {
		total += r.Server.Cores
		if r.Generator.Cores > r.Server.Cores {
			r.Notes = append(r.Notes, fmt.Sprintf("the simulator used more CPU than the server (%.2f vs %.2f cores): on a shared machine it is the larger cost", r.Generator.Cores, r.Server.Cores))
		}
	}
	if total > 0.85*float64(ncpu) {
		r.Warnings = append(r.Warnings, fmt.Sprintf("the machine was saturated (%.2f of %d cores busy): setup latency includes waiting for a CPU", total, ncpu))
		if r.Server == nil || r.Generator.Cores > r.Server.Cores {
			behind = append(behind, fmt.Sprintf("it used %.2f of the %d saturated cores", r.Generator.Cores, ncpu))
		}
	}
	if len(behind) > 0 {
		r.Bottleneck = strings.Join(behind, "; ")
		r.Warnings = append(r.Warnings, "the simulator fell behind (no CPU free for it at times, from the controller's bursts or other processes): "+r.Bottleneck)
	}
	if r.Interrupted {
		r.Warnings = append(r.Warnings, "interrupted: the figures cover the calls placed so far")
	}
}

func (r *report) writeText(w io.Writer) {
	fmt.Fprintf(w, "load        %d calls at %g/s against %s; hold %d; talk %s; scale %g\n", r.Calls, r.Rate, r.Addr, r.Hold, r.Talk, r.Scale)
	if len(r.Targets) > 0 || len(r.Vars) > 0 {
		fmt.Fprintf(w, "            targets %s; vars %s\n", orNone(r.Targets), orNone(sortedVars(r.Vars)))
	}
	fmt.Fprintf(w, "achieved    %.1f calls/s (%d placed in %s); placed late by p99 %s, max %s\n",
		r.Achieved, r.Launched, r.Elapsed.Round(time.Millisecond), ms(r.Lateness.P99), ms(r.Lateness.Max))
	fmt.Fprintf(w, "in progress up to %d calls (%d held)\n", r.MaxInProgress, r.Hold)
	s := r.Setup
	fmt.Fprintf(w, "setup       p50 %s  p95 %s  p99 %s  max %s  (n=%d, connect reply -> bridge/stream start; %d calls had none)\n",
		ms(s.P50), ms(s.P95), ms(s.P99), ms(s.Max), s.N, r.NoSetup)
	if f := r.Failover; f.N > 0 {
		fmt.Fprintf(w, "failover    p50 %s  p99 %s  max %s  (n=%d, an assistant's failure on the wire -> the next bridge command)\n", ms(f.P50), ms(f.P99), ms(f.Max), f.N)
	}
	if p := r.ToPrompt; p.N > 0 {
		fmt.Fprintf(w, "to IVR      p50 %s  p99 %s  max %s  (n=%d, the last failure -> the fallback menu's first prompt)\n", ms(p.P50), ms(p.P99), ms(p.Max), p.N)
	}
	c := r.counts
	fmt.Fprintf(w, "outcomes    answered by AI %d (first try %d, after failover %d); fallback %d; hung up by the switch %d; caller hung up %d; dropped %d; errors %d\n",
		c[outAI]+c[outFailoverAI], c[outAI], c[outFailoverAI], c[outFallback], c[outSwitch], c[outCaller], c[outDropped], c[outError])
	if r.Hold > 0 {
		fmt.Fprintf(w, "held calls  %d kept up, %d lost\n", r.Hold-r.HoldLost, r.HoldLost)
	}
	if sv := r.Server; sv != nil {
		fmt.Fprintf(w, "server      pid %d: CPU %s = %s per call (%.2f cores); peak RSS %s (%s)\n",
			sv.PID, sv.CPU.Round(time.Millisecond), ms(sv.CPUPerCall), sv.Cores, mb(sv.PeakRSS), sv.PeakRSSSource)
	}
	if len(r.ServerCounters) > 0 {
		var parts []string
		for _, name := range watched {
			parts = append(parts, fmt.Sprintf("%s +%g", name, r.ServerCounters[name]))
		}
		fmt.Fprintf(w, "counters    %s\n", strings.Join(parts, ", "))
	}
	g := r.Generator
	keeps := "kept up"
	if r.Bottleneck != "" {
		keeps = "FELL BEHIND"
	}
	fmt.Fprintf(w, "simulator   CPU %s = %s per call (%.2f cores); %s\n", g.CPU.Round(time.Millisecond), ms(g.CPUPerCall), g.Cores, keeps)
	if o := r.Others; o != nil {
		fmt.Fprintf(w, "others      CPU %s used by other processes (%.2f cores)\n", o.CPU.Round(time.Millisecond), o.Cores)
	}
	fmt.Fprintf(w, "failures    %d\n", r.Failures)
	for _, f := range r.FailureList {
		fmt.Fprintf(w, "  - %s\n", f)
	}
	if r.Failures > len(r.FailureList) {
		fmt.Fprintf(w, "  ... and %d more\n", r.Failures-len(r.FailureList))
	}
	for _, m := range r.Warnings {
		fmt.Fprintf(w, "warning     %s\n", m)
	}
	for _, m := range r.Notes {
		fmt.Fprintf(w, "note        %s\n", m)
	}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func sortedVars(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
