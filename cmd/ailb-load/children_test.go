package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestRewriteListen(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		wantESL    string
		wantHTTP   string
		wantHTTPOn bool
		wantKeep   []string // text that must survive
		wantErr    string
	}{
		{
			name:       "both replaced, the rest kept",
			src:        "listen:\n  esl: 127.0.0.1:8084  # FreeSWITCH\n  http: 127.0.0.1:8096\n  allow: [127.0.0.1/32]\nlog:\n  level: warn\n",
			wantESL:    "127.0.0.1:1111",
			wantHTTP:   "127.0.0.1:2222",
			wantHTTPOn: true,
			wantKeep:   []string{"level: warn", "127.0.0.1/32", "# FreeSWITCH"},
		},
		{
			name:       "http disabled stays disabled",
			src:        "listen:\n  esl: 127.0.0.1:8084\n  http: \"\"\n",
			wantESL:    "127.0.0.1:1111",
			wantHTTP:   "",
			wantHTTPOn: false,
		},
		{
			name:       "no listen section: both added (not the defaults, which may be taken)",
			src:        "default_route:\n  pool: ai\n",
			wantESL:    "127.0.0.1:1111",
			wantHTTP:   "127.0.0.1:2222",
			wantHTTPOn: true,
			wantKeep:   []string{"pool: ai"},
		},
		{name: "not a mapping", src: "- a\n- b\n", wantErr: "not a YAML mapping"},
		{name: "listen not a mapping", src: "listen: 8084\n", wantErr: "listen: not a mapping"},
		{name: "broken YAML", src: "listen: [\n", wantErr: "yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, httpOn, err := rewriteListen([]byte(tt.src), "127.0.0.1:1111", "127.0.0.1:2222", "127.0.0.1:3333")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Listen struct{ ESL, HTTP, Media string }
			}
			if err := yaml.Unmarshal(out, &got); err != nil {
				t.Fatalf("result is not YAML: %v\n%s", err, out)
			}
			if got.Listen.Media != "127.0.0.1:3333" {
				t.Errorf("media relay not moved to a free port: %q", got.Listen.Media)
			}
			if got.Listen.ESL != tt.wantESL || got.Listen.HTTP != tt.wantHTTP || httpOn != tt.wantHTTPOn {
				t.Errorf("esl %q http %q on %v; want %q %q %v\n%s", got.Listen.ESL, got.Listen.HTTP, httpOn, tt.wantESL, tt.wantHTTP, tt.wantHTTPOn, out)
			}
			for _, k := range tt.wantKeep {
				if !strings.Contains(string(out), k) {
					t.Errorf("%q lost:\n%s", k, out)
				}
			}
		})
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"/tmp/go-build123/b001/exe/ailb-load", "compare", "-ailb", "bin/ailb", "-rate", "200"}, "ailb-load compare -ailb bin/ailb -rate 200"},
		{[]string{"ailb-load", "run", "-target", "ai-2=busy:1s", "-var", "x=a b"}, "ailb-load run -target ai-2=busy:1s -var 'x=a b'"},
		{[]string{"ailb-load", "run", "-var", "it's="}, `ailb-load run -var 'it'\''s='`},
		{[]string{"ailb-load", ""}, "ailb-load ''"},
	}
	for _, tt := range tests {
		if got := commandLine(tt.args); got != tt.want {
			t.Errorf("commandLine(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}

func TestWithRedis(t *testing.T) {
	out, err := withRedis([]byte("log: {level: warn}\nredis: {addrs: [old:1]}\n"), "127.0.0.1:7777")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Redis struct{ Addrs []string }
		Log   struct{ Level string }
	}
	if err := yaml.Unmarshal(out, &got); err != nil || len(got.Redis.Addrs) != 1 || got.Redis.Addrs[0] != "127.0.0.1:7777" || got.Log.Level != "warn" {
		t.Fatalf("%v %+v\n%s", err, got, out)
	}
}

func TestAILBChild(t *testing.T) {
	dir := t.TempDir()
	cfg := []byte("listen:\n  esl: 127.0.0.1:8084\nlog: {level: warn}\n")
	s, err := ailbChild("ailb-redis", "/x/ailb", cfg, dir, "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ailb-redis.yaml")
	if s.name != "ailb-redis" || s.addr != "127.0.0.1:1" || !slices.Equal(s.argv, []string{"/x/ailb", "serve", "-config", path}) ||
		s.metrics != "http://127.0.0.1:2/metrics" || s.probe == nil {
		t.Fatalf("spec %+v", s)
	}
	written, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"esl: 127.0.0.1:1", "http: 127.0.0.1:2", "media: 127.0.0.1:3", "127.0.0.1:4", "level: warn"} {
		if !strings.Contains(string(written), want) {
			t.Errorf("config written lacks %q:\n%s", want, written)
		}
	}
	// With the HTTP listener off there is nothing to scrape.
	s, err = ailbChild("ailb", "/x/ailb", []byte("listen: {esl: 127.0.0.1:8084, http: \"\"}\n"), dir, "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "")
	if err != nil || s.metrics != "" {
		t.Fatalf("http off: %+v %v", s, err)
	}
	if _, err := ailbChild("ailb", "/x/ailb", []byte("- a list\n"), dir, "a", "b", "c", ""); err == nil {
		t.Error("a config that is not a mapping was accepted")
	}
}
