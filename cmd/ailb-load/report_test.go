package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestReportFinish(t *testing.T) {
	sec := time.Second
	tests := []struct {
		name           string
		r              report
		wantBottleneck string // substring; "" for none
		wantWarning    string // substring; "" for none
		wantPerCall    time.Duration
	}{
		{
			name:        "keeps up",
			r:           report{Launched: 1000, Rate: 200, Achieved: 199.9, Elapsed: 10 * sec, Generator: cpuUsage{CPU: 2 * sec}, Server: &serverUsage{cpuUsage: cpuUsage{CPU: sec}}, Others: &cpuUsage{}},
			wantPerCall: time.Millisecond,
		},
		{
			name:           "arrivals behind",
			r:              report{Launched: 1000, Rate: 200, Achieved: 150, Elapsed: 10 * sec},
			wantBottleneck: "arrivals fell behind (150.0 calls/s of 200)",
			wantWarning:    "fell behind",
		},
		{
			name:           "placed late",
			r:              report{Launched: 1000, Rate: 200, Achieved: 200, Elapsed: 10 * sec, Lateness: summary{P99: 8 * time.Millisecond}},
			wantBottleneck: "placed up to 8.000 ms late",
			wantWarning:    "simulator fell behind",
		},
		{
			name:           "saturated by the simulator",
			r:              report{Launched: 1000, Rate: 200, Achieved: 200, Elapsed: 10 * sec, Generator: cpuUsage{CPU: 12 * sec}, Server: &serverUsage{cpuUsage: cpuUsage{CPU: 6 * sec}}},
			wantBottleneck: "it used 1.20 of the 2 saturated cores",
			wantWarning:    "machine was saturated (1.80 of 2 cores busy)",
			wantPerCall:    6 * time.Millisecond,
		},
		{
			name:        "saturated by the server: not the simulator's fault",
			r:           report{Launched: 1000, Rate: 200, Achieved: 200, Elapsed: 10 * sec, Generator: cpuUsage{CPU: 3 * sec}, Server: &serverUsage{cpuUsage: cpuUsage{CPU: 15 * sec}}},
			wantWarning: "machine was saturated",
			wantPerCall: 15 * time.Millisecond,
		},
		{
			name:        "other processes",
			r:           report{Launched: 1000, Rate: 200, Achieved: 200, Elapsed: 10 * sec, Others: &cpuUsage{CPU: 5 * sec}},
			wantWarning: "other processes used 0.50 cores",
		},
		{
			name:        "lost held calls are failures",
			r:           report{Launched: 10, Rate: 200, Achieved: 200, Elapsed: sec, Hold: 5, HoldLost: 2, holdFailures: []string{"held call ended: x", "held call ended: y"}},
			wantWarning: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			r.finish(2)
			if (tt.wantBottleneck == "") != (r.Bottleneck == "") || !strings.Contains(r.Bottleneck, tt.wantBottleneck) {
				t.Errorf("Bottleneck = %q, want %q", r.Bottleneck, tt.wantBottleneck)
			}
			warnings := strings.Join(r.Warnings, "\n")
			if (tt.wantWarning == "") != (warnings == "") || !strings.Contains(warnings, tt.wantWarning) {
				t.Errorf("warnings = %q, want %q", warnings, tt.wantWarning)
			}
			if r.Server != nil && r.Server.CPUPerCall != tt.wantPerCall {
				t.Errorf("server CPU per call = %v, want %v", r.Server.CPUPerCall, tt.wantPerCall)
			}
			if r.HoldLost > 0 && (r.Failures != r.HoldLost || len(r.FailureList) != r.HoldLost) {
				t.Errorf("failures %d %q for %d lost held calls", r.Failures, r.FailureList, r.HoldLost)
			}
			var out bytes.Buffer
			r.writeText(&out)
			if !strings.Contains(out.String(), "setup       p50") {
				t.Errorf("text report:\n%s", out.String())
			}
		})
	}
}

func TestSetRSS(t *testing.T) {
	tests := []struct {
		name       string
		reset      bool
		m          memStatus
		want       int64
		wantSource string
	}{
		{"VmHWM reset for the run", true, memStatus{HWM: 300, RSS: 200}, 300, "VmHWM"},
		{"VmHWM below a sample taken after it", true, memStatus{HWM: 300, RSS: 400}, 400, "VmHWM"},
		{"VmHWM not reset: the samples", false, memStatus{HWM: 900, RSS: 200}, 200, "sampled VmRSS every 100ms"},
		{"no VmHWM line", true, memStatus{RSS: 200}, 200, "sampled VmRSS every 100ms"},
		{"nothing known", false, memStatus{}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &report{Server: &serverUsage{}, hwmReset: tt.reset}
			r.setRSS(tt.m, errors.New("gone"))
			if r.Server.PeakRSS != tt.want || r.Server.PeakRSSSource != tt.wantSource {
				t.Errorf("peak %d from %q, want %d from %q", r.Server.PeakRSS, r.Server.PeakRSSSource, tt.want, tt.wantSource)
			}
			if warned := len(r.Warnings) > 0; warned != (tt.want == 0) {
				t.Errorf("warnings %q", r.Warnings)
			}
		})
	}
}
