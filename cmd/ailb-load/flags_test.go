package main

import (
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"ailb/esl/fssim"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in      string
		want    targetSpec
		wantErr string
	}{
		{"ai-2=busy", targetSpec{match: "ai-2", kind: fssim.Busy}, ""},
		{"ai-1=Unreachable", targetSpec{match: "ai-1", kind: fssim.Unreachable}, ""},
		{"spare=answer:300ms", targetSpec{match: "spare", kind: fssim.Answer, after: 300 * time.Millisecond}, ""},
		{"@10.0.0.1=noanswer", targetSpec{match: "@10.0.0.1", kind: fssim.NoAnswer}, ""},
		{"x=reject", targetSpec{match: "x", kind: fssim.Reject}, ""},
		{"x=notfound", targetSpec{match: "x", kind: fssim.NotFound}, ""},
		{"ai-2", targetSpec{}, "want 'endpoint-substring=outcome"},
		{"=busy", targetSpec{}, "want 'endpoint-substring=outcome"},
		{"ai-2=down", targetSpec{}, `outcome "down" is not one of`},
		{"ai-2=busy:soon", targetSpec{}, `"soon" is not a duration`},
		{"ai-2=busy:-1s", targetSpec{}, `"-1s" is not a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseTarget(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			tt.want.arg = tt.in
			if err != nil || got != tt.want {
				t.Fatalf("parseTarget = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestBuildTargets(t *testing.T) {
	talk := 2 * time.Second
	got := buildTargets([]targetSpec{
		{match: "ai-2", kind: fssim.Busy},
		{match: "ai-3", kind: fssim.Answer, after: time.Second},
	}, talk)
	want := []fssim.Target{
		{Match: "ai-2", Outcome: fssim.Outcome{Kind: fssim.Busy}},
		{Match: "ai-3", Outcome: fssim.Outcome{Kind: fssim.Answer, After: time.Second, TalkFor: talk}},
		{Match: "", Outcome: fssim.Outcome{Kind: fssim.Answer, TalkFor: talk}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("buildTargets =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseVar(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"ailb_route=sales", map[string]string{"ailb_route": "sales"}, false},
		{"empty=", map[string]string{"empty": ""}, false},
		{"a=b=c", map[string]string{"a": "b=c"}, false},
		{"novalue", nil, true},
		{"=x", nil, true},
		{"bad name=x", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := map[string]string{}
			err := parseVar(tt.in, got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("vars = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseRun(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, o *runOptions, s spec)
		wantErr string
	}{
		{
			name: "defaults",
			check: func(t *testing.T, o *runOptions, s spec) {
				if s.Addr != "127.0.0.1:8084" || s.Calls != 1000 || s.Rate != 100 || s.Hold != 0 || s.Talk != 2*time.Second || s.Scale != 1 || o.pid != 0 || o.json {
					t.Errorf("defaults: %+v %+v", o, s)
				}
				if len(s.Targets) != 1 || s.Targets[0].Outcome.TalkFor != 2*time.Second {
					t.Errorf("targets: %+v", s.Targets)
				}
			},
		},
		{
			name: "everything, -talk after -target still applies to it",
			args: []string{"-addr", "127.0.0.1:9", "-calls", "5", "-rate", "2.5", "-hold", "7", "-target", "ai-1=answer",
				"-target", "ai-2=busy", "-talk", "1s", "-var", "ailb_route=sales", "-var", "x=y", "-scale", "0.1", "-pid", "42", "-json"},
			check: func(t *testing.T, o *runOptions, s spec) {
				if s.Addr != "127.0.0.1:9" || s.Calls != 5 || s.Rate != 2.5 || s.Hold != 7 || s.Scale != 0.1 || o.pid != 42 || !o.json {
					t.Errorf("parsed: %+v %+v", o, s)
				}
				if len(s.Targets) != 3 || s.Targets[0].Outcome.TalkFor != time.Second || s.Targets[1].Outcome.Kind != fssim.Busy {
					t.Errorf("targets: %+v", s.Targets)
				}
				if !reflect.DeepEqual(s.Vars, map[string]string{"ailb_route": "sales", "x": "y"}) {
					t.Errorf("vars: %v", s.Vars)
				}
				if r := newReport(s); !slices.Equal(r.Targets, []string{"ai-1=answer", "ai-2=busy"}) {
					t.Errorf("reported targets %q, want the flags as given", r.Targets)
				}
			},
		},
		{name: "bad target", args: []string{"-target", "ai"}, wantErr: "endpoint-substring"},
		{name: "zero rate", args: []string{"-rate", "0"}, wantErr: "-rate 0"},
		{name: "several errors at once", args: []string{"-calls", "0", "-scale", "-1"}, wantErr: "-scale -1"},
		{name: "empty address", args: []string{"-addr", ""}, wantErr: "-addr: empty"},
		{name: "stray argument", args: []string{"-calls", "3", "extra"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseRun(tt.args, io.Discard)
			var s spec
			if err == nil {
				s, err = o.load.spec(o.addr)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o, s)
		})
	}
}

func TestParseCompare(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    compareOptions
		wantErr string
	}{
		{name: "defaults", want: compareOptions{ailb: "bin/ailb", config: "configs/load.yaml", endpoint: "sofia/internal/ai@127.0.0.1", rounds: 3, warmup: 200, settle: time.Minute, redo: 2}},
		{name: "set", args: []string{"-ailb", "/x/ailb", "-config", "c.yaml", "-rounds", "1", "-warmup", "0", "-json", "-hold", "5000", "-settle", "5s", "-redo-noisy", "0"},
			want: compareOptions{ailb: "/x/ailb", config: "c.yaml", endpoint: "sofia/internal/ai@127.0.0.1", rounds: 1, settle: 5 * time.Second, json: true}},
		{name: "negative redo", args: []string{"-redo-noisy", "-1"}, wantErr: "-redo-noisy -1"},
		{name: "no rounds", args: []string{"-rounds", "0"}, wantErr: "-rounds 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseCompare(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := *o
			got.load = loadFlags{}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("options = %+v, want %+v", got, tt.want)
			}
			if o.load.calls != 2000 || o.load.rate != 200 {
				t.Errorf("load defaults: %d calls at %g/s, want 2000 at 200/s", o.load.calls, o.load.rate)
			}
		})
	}
}
