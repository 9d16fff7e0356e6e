package main

import (
	"bytes"
	"context"

	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ailb/esl/fssim"
)

// The binary as operators run it: serve on a real config, take a call
// from the FreeSWITCH simulator, answer the operator commands, refuse an
// invalid reload, drain on SIGTERM.
func TestServeProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "ailb")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	eslAddr, httpAddr, mediaAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	cfgPath := filepath.Join(dir, "ailb.yaml")
	example, err := os.ReadFile("../../configs/ailb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := "admin: {token_env: AILB_TEST_ADMIN}\n" + string(example)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	const token = "test-admin-token-0123456789"
	cmd := exec.Command(bin, "serve", "-config", cfgPath, "-listen-esl", eslAddr, "-listen-http", httpAddr, "-listen-media", mediaAddr)
	cmd.Env = append(os.Environ(), "AILB_TEST_ADMIN="+token)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	waitHTTP(t, "http://"+httpAddr+"/healthz")

	sw := &fssim.Switch{Addr: eslAddr, Scale: 0.05, Targets: []fssim.Target{
		{Match: "sales-a", Outcome: fssim.Outcome{Kind: fssim.Busy}},
		{Outcome: fssim.Outcome{Kind: fssim.Answer, TalkFor: time.Second}},
	}}
	res, err := sw.Run(context.Background(), fssim.Call{Vars: map[string]string{"ailb_route": "sales"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Bridges) != 2 || !res.Bridges[1].Answered || res.HangupCause != "NORMAL_CLEARING" {
		t.Fatalf("call through the binary: %d bridges, cause %q", len(res.Bridges), res.HangupCause)
	}
	metrics := get(t, "http://"+httpAddr+"/metrics", "")
	for _, want := range []string{`ailb_calls_total{outcome="failover_ai",route="sales"} 1`, `ailb_attempts_total{assistant="sales-a",pool="sales",result="busy"} 1`, `ailb_ai_failures_total{kind="with_drop"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"call"`) || !strings.Contains(logs.String(), `"outcome":"failover_ai"`) {
		t.Errorf("no call log line")
	}

	op := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		c := exec.Command(bin, append(args[:1], append([]string{"-server", httpAddr}, args[1:]...)...)...)
		c.Env = append(os.Environ(), "AILB_ADMIN_TOKEN="+token)
		c.Stdout, c.Stderr = &out, &errb
		err := c.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return code, out.String() + errb.String()
	}
	if code, out := op("disable", "sales", "sales-b"); code != 0 || !strings.Contains(out, "inactive") {
		t.Fatalf("disable: %d %s", code, out)
	}
	if code, out := op("status"); code != 0 || !strings.Contains(out, "inactive (set live)") || !strings.Contains(out, "busy") {
		t.Fatalf("status: %d %s", code, out)
	}
	if code, out := op("breaker", "sales-c", "open"); code != 0 || !strings.Contains(out, "open") {
		t.Fatalf("breaker: %d %s", code, out)
	}
	metrics = get(t, "http://"+httpAddr+"/metrics", "")
	for _, want := range []string{`ailb_breaker_state{assistant="sales-c"} 2`, `ailb_breaker_transitions_total{assistant="sales-c",from="closed",to="open"} 1`, `ailb_breaker_state{assistant="support"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	breakers := get(t, "http://"+httpAddr+"/api/breakers", token)
	if !strings.Contains(breakers, `"name": "sales-c"`) || !strings.Contains(breakers, `"forced": true`) {
		t.Errorf("/api/breakers: %s", breakers)
	}
	if code, out := op("breaker", "sales-c", "reset"); code != 0 || !strings.Contains(out, "closed") {
		t.Fatalf("breaker reset: %d %s", code, out)
	}
	// An invalid file is refused; the running configuration stays.
	if err := os.WriteFile(cfgPath, []byte(strings.Replace(cfg, "strategy: round_robin", "strategy: fastest", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := op("reload"); code != 1 || !strings.Contains(out, `pools.sales.strategy: "fastest"`) {
		t.Fatalf("invalid reload: %d %s", code, out)
	}
	// SIGHUP reloads the same invalid file: one more refusal in the log.
	const refused = "configuration reload refused"
	before := strings.Count(logs.String(), refused)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); strings.Count(logs.String(), refused) == before; {
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP: no refused reload logged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	res, err = sw.Run(context.Background(), fssim.Call{Vars: map[string]string{"ailb_route": "sales"}})
	if err != nil || len(res.Bridges) == 0 || strings.Contains(res.Bridges[0].DialString, "sales-b") {
		t.Fatalf("after a refused reload: %v %+v", err, res)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
		exited <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

func TestCheckAndVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"check", "-config", "../../configs/ailb.yaml"}, &out, &errb); code != 0 {
		t.Fatalf("check: %d %s", code, errb.String())
	}
	for _, want := range []string{"ROUTE", "pool sales: round_robin, follow-through on", "fallback: assistant support (one attempt) -> ivr main"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q", want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("assistants: {a: {sip: {endpoint: 'x y'}}}\n"), 0o600)
	errb.Reset()
	if code := run([]string{"check", "-config", bad}, io.Discard, &errb); code != 1 || !strings.Contains(errb.String(), "assistants.a.sip.endpoint") {
		t.Fatalf("bad config: %s", errb.String())
	}
	out.Reset()
	if code := run([]string{"version"}, &out, io.Discard); code != 0 || !strings.HasPrefix(out.String(), "ailb ") {
		t.Fatalf("version: %q", out.String())
	}
	if code := run([]string{"frobnicate"}, io.Discard, io.Discard); code != 2 {
		t.Fatalf("unknown command exit %d", code)
	}
}

// The shipped FreeSWITCH XML parses and hands calls over `async full`.
func TestFreeSWITCHXML(t *testing.T) {
	files, _ := filepath.Glob("../../dialplan/freeswitch/*.xml")
	if len(files) < 3 {
		t.Fatalf("xml files: %v", files)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if err := xmlWellFormed(b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if strings.Contains(string(b), `application="socket"`) && !strings.Contains(string(b), "async full") {
			t.Errorf("%s: socket without async full", f)
		}
	}
}

// syncBuffer is written by exec's copying goroutine while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
	}
	t.Fatalf("%s never answered", url)
}

func get(t *testing.T, url, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}
