package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

// fakeRound is a round whose calls all took setup, the server using cpu in
// total.
func fakeRound(setup []time.Duration, cpu time.Duration, rss int64) *report {
	r := &report{Launched: len(setup), Rate: 200, Achieved: 200}
	results := make([]callResult, len(setup))
	for i, d := range setup {
		results[i] = callResult{setup: d, outcome: outAI}
	}
	r.addResults(results)
	r.Server = &serverUsage{cpuUsage: cpuUsage{CPU: cpu}, PeakRSS: rss}
	return r
}

func TestComparisonFinish(t *testing.T) {
	us := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Microsecond
		}
		return out
	}
	tests := []struct {
		name       string
		hold       int
		ailb       [][]time.Duration
		ailbCPU    time.Duration
		wantP99    time.Duration // ailb pooled
		wantRatios []ratioRow
		wantChecks []string
	}{
		{
			name:       "pooled over rounds, meets the bar",
			ailb:       [][]time.Duration{us(100, 200), us(300, 400)},
			ailbCPU:    2 * time.Millisecond, // 0.5 ms per call
			wantP99:    400 * time.Microsecond,
			wantRatios: []ratioRow{{Versus: "eslgo", P50: 0.2, P99: 0.2, CPUPerCall: 0.25, PeakRSS: 2}, {Versus: "raw", P50: 2, P99: 2, CPUPerCall: 2, PeakRSS: 1}},
			wantChecks: []string{"0.400 ms meets the 1.000 ms bar without held calls", "is below eslgo's 2.000 ms", "kept up in every round"},
		},
		{
			name:       "held calls: the 2 ms bar",
			hold:       5000,
			ailb:       [][]time.Duration{us(1500, 2500)},
			ailbCPU:    10 * time.Millisecond,
			wantP99:    2500 * time.Microsecond,
			wantRatios: []ratioRow{{Versus: "eslgo", P50: 1.5, P99: 1.25, CPUPerCall: 2.5, PeakRSS: 2}, {Versus: "raw", P50: 15, P99: 12.5, CPUPerCall: 20, PeakRSS: 1}},
			wantChecks: []string{"MISSES the 2.000 ms bar with 5000 held calls", "is NOT below"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &comparison{Load: compareLoad{Hold: tt.hold, Rate: 200}, Controllers: []*controller{{Name: "ailb"}, {Name: "eslgo"}, {Name: "raw"}}}
			for _, round := range tt.ailb {
				c.Controllers[0].add(fakeRound(round, tt.ailbCPU/time.Duration(len(tt.ailb)), 20<<20))
			}
			// eslgo: 1000 and 2000 us, 2 ms CPU per call; raw: 100 and 200 us, 0.25 ms.
			c.Controllers[1].add(fakeRound(us(1000, 2000), 4*time.Millisecond, 10<<20))
			c.Controllers[2].add(fakeRound(us(100, 200), 500*time.Microsecond, 20<<20))
			c.finish()
			if got := c.Controllers[0].Setup.P99; got != tt.wantP99 {
				t.Errorf("ailb p99 = %v, want %v", got, tt.wantP99)
			}
			if len(c.Ratios) != len(tt.wantRatios) {
				t.Fatalf("ratios = %+v", c.Ratios)
			}
			for i, want := range tt.wantRatios {
				got := c.Ratios[i]
				if got.Versus != want.Versus || !near(got.P50, want.P50) || !near(got.P99, want.P99) || !near(got.CPUPerCall, want.CPUPerCall) || !near(got.PeakRSS, want.PeakRSS) {
					t.Errorf("ratio %d = %+v, want %+v", i, got, want)
				}
			}
			checks := strings.Join(c.Checks, "\n")
			for _, w := range tt.wantChecks {
				if !strings.Contains(checks, w) {
					t.Errorf("checks lack %q:\n%s", w, checks)
				}
			}
			var out bytes.Buffer
			c.writeText(&out)
			for _, w := range []string{"controller", "ailb / eslgo", "ailb / raw", "machine:", "command:"} {
				if !strings.Contains(out.String(), w) {
					t.Errorf("table lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
