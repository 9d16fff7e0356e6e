package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"ailb/dialplan"
)

type fakeRuntime struct {
	status    map[string]bool
	reloadErr error
	reloads   int
}

func (f *fakeRuntime) Routes() []dialplan.RouteView {
	return []dialplan.RouteView{{Name: "sales", Target: "pool sales"}}
}
func (f *fakeRuntime) Pools(state func(string) string) []dialplan.PoolView {
	return []dialplan.PoolView{{Name: "sales", Members: []dialplan.MemberView{{Assistant: "a", Breaker: state("a")}}}}
}
func (f *fakeRuntime) SetStatus(_ context.Context, pool, member string, active bool) error {
	if pool != "sales" || member != "a" {
		return fmt.Errorf("member %q: %w", member, dialplan.ErrNotFound)
	}
	f.status[pool+"/"+member] = active
	return nil
}
func (f *fakeRuntime) Reload() error { f.reloads++; return f.reloadErr }

type fakeCalls struct{ got map[string]string }

func (f *fakeCalls) SetState(_ context.Context, id, token string, vars map[string]string) error {
	switch {
	case id != "c1":
		return dialplan.ErrUnknownCall
	case token != "calltoken":
		return dialplan.ErrBadToken
	}
	if err := dialplan.ValidateState(vars); err != nil {
		return err
	}
	f.got = vars
	return nil
}

type fakeBreakers struct{ forced map[string]string }

func (f *fakeBreakers) Status() any         { return []string{"a"} }
func (f *fakeBreakers) State(string) string { return "closed" }
func (f *fakeBreakers) Force(name, act string) error {
	if name != "a" {
		return fmt.Errorf("breaker %q: %w", name, ErrUnknownAssistant)
	}
	f.forced[name] = act
	return nil
}

const token = "0123456789abcdef-admin"

func TestAdminAPI(t *testing.T) {
	rt := &fakeRuntime{status: map[string]bool{}}
	calls := &fakeCalls{}
	br := &fakeBreakers{forced: map[string]string{}}
	a := &Admin{Token: token, Runtime: rt, Calls: calls, Breakers: br, Log: zap.NewNop()}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()

	tests := []struct {
		name     string
		method   string
		path     string
		auth     string
		header   [2]string
		body     string
		wantCode int
		wantBody string
	}{
		{"no token", "GET", "/api/pools", "", [2]string{}, "", 401, "bearer token"},
		{"wrong token", "GET", "/api/pools", "Bearer nope", [2]string{}, "", 401, "bearer token"},
		{"token without Bearer", "GET", "/api/pools", token, [2]string{}, "", 401, ""},
		{"pools", "GET", "/api/pools", "Bearer " + token, [2]string{}, "", 200, `"breaker": "closed"`},
		{"routes", "GET", "/api/routes", "Bearer " + token, [2]string{}, "", 200, `"pool sales"`},
		{"disable", "POST", "/api/pools/sales/members/a", "Bearer " + token, [2]string{}, `{"status":"inactive"}`, 200, `"inactive"`},
		{"bad status", "POST", "/api/pools/sales/members/a", "Bearer " + token, [2]string{}, `{"status":"off"}`, 400, "active"},
		{"unknown key", "POST", "/api/pools/sales/members/a", "Bearer " + token, [2]string{}, `{"state":"active"}`, 400, "unknown field"},
		{"unknown member", "POST", "/api/pools/sales/members/zz", "Bearer " + token, [2]string{}, `{"status":"active"}`, 404, "not found"},
		{"reload", "POST", "/api/reload", "Bearer " + token, [2]string{}, "", 200, "reloaded"},
		{"breakers", "GET", "/api/breakers", "Bearer " + token, [2]string{}, "", 200, `"a"`},
		{"force", "POST", "/api/breakers/a", "Bearer " + token, [2]string{}, `{"action":"open"}`, 200, `"assistant": "a"`},
		{"force unknown", "POST", "/api/breakers/zz", "Bearer " + token, [2]string{}, `{"action":"open"}`, 404, "unknown assistant"},
		{"force bad action", "POST", "/api/breakers/a", "Bearer " + token, [2]string{}, `{"action":"explode"}`, 400, "action"},
		{"state ok", "PUT", "/api/calls/c1/state", "Bearer calltoken", [2]string{}, `{"account":"123"}`, 204, ""},
		{"state token header", "PUT", "/api/calls/c1/state", "", [2]string{"X-AILB-Token", "calltoken"}, `{"lang":"de"}`, 204, ""},
		{"state wrong token", "PUT", "/api/calls/c1/state", "Bearer nope", [2]string{}, `{"account":"123"}`, 403, "wrong call token"},
		{"state admin token is not a call token", "PUT", "/api/calls/c1/state", "Bearer " + token, [2]string{}, `{"account":"123"}`, 403, ""},
		{"state unknown call", "PUT", "/api/calls/zz/state", "Bearer calltoken", [2]string{}, `{"account":"123"}`, 404, "no such call"},
		{"state bad name", "PUT", "/api/calls/c1/state", "Bearer calltoken", [2]string{}, `{"Account No":"1"}`, 400, "name"},
		{"state too long", "PUT", "/api/calls/c1/state", "Bearer calltoken", [2]string{}, `{"a":"` + strings.Repeat("x", 300) + `"}`, 400, "at most 256"},
		{"state not json", "PUT", "/api/calls/c1/state", "Bearer calltoken", [2]string{}, `account=1`, 400, "body"},
		{"unknown endpoint", "GET", "/api/nope", "Bearer " + token, [2]string{}, "", 404, "no such endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.header[0] != "" {
				req.Header.Set(tt.header[0], tt.header[1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode || !strings.Contains(string(body), tt.wantBody) {
				t.Fatalf("%d %s, want %d containing %q", resp.StatusCode, body, tt.wantCode, tt.wantBody)
			}
		})
	}
	if rt.status["sales/a"] != false || rt.reloads != 1 || br.forced["a"] != "open" || calls.got["lang"] != "de" {
		t.Fatalf("effects: %v %d %v %v", rt.status, rt.reloads, br.forced, calls.got)
	}
	rt.reloadErr = errors.New("pools.p.strategy: unknown")
	req, _ := http.NewRequest("POST", srv.URL+"/api/reload", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, _ := http.DefaultClient.Do(req)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 422 || !strings.Contains(string(body), "pools.p.strategy") {
		t.Fatalf("invalid reload: %d %s", resp.StatusCode, body)
	}
}

func TestAdminWithoutTokenRefusesEverything(t *testing.T) {
	a := &Admin{Runtime: &fakeRuntime{}, Calls: &fakeCalls{}, Log: zap.NewNop()}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/pools", nil)
	req.Header.Set("Authorization", "Bearer ")
	a.Handler().ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Fatalf("empty configured token accepted an empty bearer: %d", rec.Code)
	}
}

// The metric names are a contract with dashboards.
func TestMetricNames(t *testing.T) {
	m := NewMetrics(func() float64 { return 3 })
	m.CallEnded("sales", "ai")
	m.Attempt("sales", "a", "busy")
	m.Setup(300 * time.Microsecond)
	m.Failover(2 * time.Millisecond)
	m.AIFailure("with_failover")
	m.Connected("sales", "a", 1)
	m.StoreFallback.Inc()
	m.BreakerState.WithLabelValues("a").Set(2)
	m.BreakerTransit.WithLabelValues("a", "closed", "open").Inc()
	srv := &Server{Metrics: m, Ready: map[string]Check{"esl": func(context.Context) error { return nil }}}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`ailb_calls_total{outcome="ai",route="sales"} 1`,
		`ailb_attempts_total{assistant="a",pool="sales",result="busy"} 1`,
		`ailb_active_calls{assistant="a",pool="sales"} 1`,
		`ailb_setup_seconds_bucket{le="0.0005"} 1`,
		`ailb_failover_seconds_count 1`,
		`ailb_ai_failures_total{kind="with_drop"} 0`,
		`ailb_ai_failures_total{kind="with_failover"} 1`,
		`ailb_store_fallback_total 1`,
		`ailb_breaker_state{assistant="a"} 2`,
		`ailb_breaker_transitions_total{assistant="a",from="closed",to="open"} 1`,
		`ailb_calls_in_progress 3`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestReadyz(t *testing.T) {
	srv := &Server{Metrics: NewMetrics(nil), Ready: map[string]Check{
		"esl":   func(context.Context) error { return nil },
		"redis": func(context.Context) error { return errors.New("dial tcp: connection refused") },
	}}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "connection refused") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}
