package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// Fields 14 and 15 (utime, stime) are 150 and 50 ticks: 2s.
	rest := " S 1 2 3 4 5 6 7 8 9 10 150 50 0 0 20 0 8 0 100 1000 200"
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr string
	}{
		{"plain", "1234 (ailb)" + rest, 2 * time.Second, ""},
		{"name with spaces and parentheses", "1234 (a b) (c))" + rest, 2 * time.Second, ""},
		{"no closing parenthesis", "1234 ailb S 1", 0, "no ')'"},
		{"truncated", "1234 (ailb) S 1 2 3", 0, "fields after the command name"},
		{"not a number", "1234 (ailb) S 1 2 3 4 5 6 7 8 9 10 x 50 0", 0, "utime/stime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.stat))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseStatCPU = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    memStatus
		wantErr string
	}{
		{"both", "Name:\tailb\nVmPeak:\t  9000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t7\n", memStatus{HWM: 2 << 20, RSS: 1 << 20}, ""},
		{"no VmHWM", "Name:\tailb\nVmRSS:\t 1024 kB\n", memStatus{RSS: 1 << 20}, ""},
		{"kernel thread: neither", "Name:\tkthreadd\nState:\tS\n", memStatus{}, ""},
		{"bad unit", "VmRSS:\t1024 MB\n", memStatus{}, "is not"},
		{"bad number", "VmHWM:\tlots kB\n", memStatus{}, "VmHWM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatus([]byte(tt.status))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseStatus = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		// busy = user+nice+system+irq+softirq+steal = 100+0+50+0+10+0 ticks
		{"total line", "cpu  100 0 50 9000 40 0 10 0 0 0\ncpu0 50 0 25 4500 20 0 5 0 0 0\n", 1600 * time.Millisecond, false},
		{"per-cpu line first", "cpu0 1 2 3 4 5 6 7 8\n", 0, true},
		{"short", "cpu 1 2 3\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tt.stat))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseProcStat = %v, %v; want %v (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestCPUModel(t *testing.T) {
	tests := []struct{ cpuinfo, want string }{
		{"processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nmodel name\t: other\n", "AMD EPYC 7B13"},
		{"processor\t: 0\nmodel\t\t: 1\n", ""},
	}
	for _, tt := range tests {
		if got := cpuModel([]byte(tt.cpuinfo)); got != tt.want {
			t.Errorf("cpuModel = %q, want %q", got, tt.want)
		}
	}
}

// The readers agree with the kernel about this very process.
func TestProcSelf(t *testing.T) {
	pid := os.Getpid()
	if _, err := procCPU(pid); err != nil {
		t.Fatal(err)
	}
	m, err := procMem(pid)
	if err != nil || m.RSS <= 0 {
		t.Fatalf("procMem = %+v, %v", m, err)
	}
	if _, err := machineBusy(); err != nil {
		t.Fatal(err)
	}
}
