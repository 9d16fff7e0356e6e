package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func noEnv(string) (string, bool) { return "", false }

func TestExampleConfigLoads(t *testing.T) {
	f, err := os.Open("../configs/ailb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := Load(f, noEnv)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if c.Assistants["sales-c"].AnswerTimeout.D() != 6*time.Second || c.Assistants["sales-a"].AnswerTimeout.D() != 4*time.Second {
		t.Errorf("answer_timeout defaults not applied")
	}
	if p := c.Pools["sales"]; p.Members[2].Position != 3 || p.Members[0].Status != StatusActive || !p.Follow() {
		t.Errorf("member defaults not applied: %+v", p.Members[2])
	}
	if c.Pools["support"].Fallback[0].Mode != "simultaneous" || c.ESL.Linger.D() != 10*time.Second {
		t.Errorf("defaults")
	}
}

const base = `
assistants:
  a: {sip: {endpoint: sofia/internal/a@10.0.0.1}}
  b: {sip: {gateway: gw, number: "100"}}
pools:
  p:
    strategy: round_robin
    members: [{assistant: a}, {assistant: b}]
    fallback: {action: hangup}
routes:
  - name: r
    match: {destination: '^1'}
    pool: p
default_route: {pool: p}
`

// Each broken config is refused with a message that names the field.
func TestValidationNamesTheField(t *testing.T) {
	tests := []struct {
		name string
		give string // replaces `old` in base
		old  string
		want string
	}{
		{"unknown key", "    strategi: round_robin", "    strategy: round_robin", `field strategi is not a known key in Pool`},
		{"unknown top key", "\nlisten: {esl: 127.0.0.1:8084}\nbogus: 1\n", "\n", "bogus"},
		{"unknown strategy", "strategy: fastest", "strategy: round_robin", `pools.p.strategy: "fastest": unknown`},
		{"dangling member", "{assistant: zz}", "{assistant: b}", `pools.p.members[1].assistant: "zz" is not a configured assistant`},
		{"weight range", "{assistant: b, weight: 101}", "{assistant: b}", `pools.p.members[1].weight: must be 0..100`},
		{"duplicate member", "{assistant: a}]", "{assistant: b}]", `pools.p.members[1].assistant: "a" is also members[0]`},
		{"bad status", "{assistant: b, status: sleeping}", "{assistant: b}", `pools.p.members[1].status: "sleeping"`},
		{"dangling route", "pool: nope\ndefault_route", "pool: p\ndefault_route", `routes[0].pool: "nope" is not a configured pool`},
		{"two targets", "pool: p\n    hangup: CALL_REJECTED\ndefault_route", "pool: p\ndefault_route", `routes[0]: set exactly one of`},
		{"bad regex", `destination: '^(1'`, `destination: '^1'`, `routes[0].match.destination: bad regular expression`},
		{"no default", "default_route: {pool: p}", "default_route: {pool: p}\n", ""}, // control: no change
		{"endpoint injection", "endpoint: 'sofia/internal/a@x,sofia/gateway/evil/1'", "endpoint: sofia/internal/a@10.0.0.1", "assistants.a.sip.endpoint"},
		{"endpoint var expansion", "endpoint: 'sofia/internal/${x}'", "endpoint: sofia/internal/a@10.0.0.1", "assistants.a.sip.endpoint"},
		{"both endpoint and gateway", "{gateway: gw, number: '1', endpoint: sofia/x/y}", "{gateway: gw, number: \"100\"}", "assistants.b.sip: set endpoint, or gateway with number, not both"},
		{"bad duration", "{endpoint: sofia/internal/a@10.0.0.1}, answer_timeout: soon", "{endpoint: sofia/internal/a@10.0.0.1}", `"soon" is not a duration`},
		{"answer timeout range", "{endpoint: sofia/internal/a@10.0.0.1}, answer_timeout: 1ms", "{endpoint: sofia/internal/a@10.0.0.1}", "assistants.a.answer_timeout: must be 500ms..5m"},
		{"fallback menu", "fallback: {action: ivr, menu: nope}", "fallback: {action: hangup}", `pools.p.fallback[0].menu: "nope" is not a configured ivr menu`},
		{"fallback pool loop", "fallback: {action: pool, pool: p}", "fallback: {action: hangup}", "a fallback cannot be another pool"},
		{"unreachable fallback step", "fallback: [{action: hangup}, {action: assistant, assistant: a}]", "fallback: {action: hangup}", "pools.p.fallback[0]: hangup always takes the call"},
		{"all weights zero", "strategy: percentage\n    members: [{assistant: a, weight: 0}]", "strategy: round_robin\n    members: [{assistant: a}, {assistant: b}]", "every weight is 0"},
		{"bad name", "  Bad Name: {sip: {endpoint: sofia/x/y}}\n  a:", "  a:", "assistants.Bad Name: name must be a lowercase token"},
		{"header name", "{endpoint: sofia/internal/a@10.0.0.1, headers: {Foo: x}}", "{endpoint: sofia/internal/a@10.0.0.1}", "assistants.a.sip.headers.Foo: header names must look like X-Name"},
		{"header placeholder", "{endpoint: sofia/internal/a@10.0.0.1, headers: {X-Who: '{secret}'}}", "{endpoint: sofia/internal/a@10.0.0.1}", "unknown placeholder {secret}"},
		{"missing env secret", "{endpoint: sofia/internal/a@10.0.0.1, header_env: {X-Key: AILB_TEST_KEY}}", "{endpoint: sofia/internal/a@10.0.0.1}", "assistants.a.sip.header_env.X-Key: environment variable AILB_TEST_KEY is not set"},
		{"allow cidr", "\nlisten: {allow: [10.0.0.300/8]}\n", "\n", `listen.allow[0]: "10.0.0.300/8" is not a CIDR`},
		{"route without condition", "match: {}", "match: {destination: '^1'}", "routes[0].match: no condition"},
		{"every strategy listed", "strategy: fastest", "strategy: round_robin", "least_connections, consistent_hash, lowest_latency"},
		{"hash key required", "strategy: consistent_hash", "strategy: round_robin", "pools.p.hash_key: required by consistent_hash"},
		{"hash key form", "strategy: consistent_hash\n    hash_key: 'var:x'", "strategy: round_robin", `pools.p.hash_key: "var:x"`},
		{"hash key only for consistent_hash", "strategy: random\n    hash_key: caller", "strategy: round_robin", "pools.p.hash_key: only used by consistent_hash"},
		{"redis addrs", "\nredis: {addrs: ['no port']}\n", "\n", `redis.addrs[0]: "no port": want host:port`},
		{"redis password env", "\nredis: {addrs: ['r:6379'], password_env: AILB_NOPE}\n", "\n", "redis.password_env: environment variable AILB_NOPE is not set"},
		{"admin token env", "\nadmin: {token_env: AILB_NOPE}\n", "\n", "admin.token_env: environment variable AILB_NOPE is not set"},
		{"breaker ratio", "\ndefaults: {breaker: {failure_ratio: 2}}\n", "\n", "defaults.breaker.failure_ratio: must be more than 0 and at most 1"},
		{"assistant breaker", "{endpoint: sofia/internal/a@10.0.0.1}, breaker: {probes: 500}", "{endpoint: sofia/internal/a@10.0.0.1}", "assistants.a.breaker.probes: must be 1..100"},
		{"retry attempts", "{endpoint: sofia/internal/a@10.0.0.1}, retry: {attempts: 9}", "{endpoint: sofia/internal/a@10.0.0.1}", "assistants.a.retry.attempts: must be 0..5"},
		{"overflow without cap", "pool: p\n    overflow: {action: hangup}\ndefault_route", "pool: p\ndefault_route", "routes[0].overflow: only with max_calls"},
		{"repeat outside ivr", "fallback: {action: repeat}", "fallback: {action: hangup}", "repeat is only an ivr option"},
		{"ivr collect and options", "\nivr: {q: {prompt: a.wav, collect: account, options: {'1': {action: hangup}}}}\n", "\n", "ivr.q: a menu either collects an answer"},
		{"ivr collect name", "\nivr: {q: {prompt: a.wav, collect: Account-No}}\n", "\n", `ivr.q.collect: "Account-No"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.old) {
				t.Fatalf("test bug: %q not in base", tt.old)
			}
			src := strings.Replace(base, tt.old, tt.give, 1)
			_, err := Load(strings.NewReader(src), noEnv)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted:\n%s", src)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tt.want)
			}
		})
	}
}

func TestBreakerSettingsInherit(t *testing.T) {
	src := strings.Replace(base, "{endpoint: sofia/internal/a@10.0.0.1}", "{endpoint: sofia/internal/a@10.0.0.1}, breaker: {open_for: 5s}", 1)
	src = "defaults: {breaker: {consecutive_failures: 3}}\n" + src
	c, err := Load(strings.NewReader(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.Assistants["a"].Breaker, c.Assistants["b"].Breaker
	if a.OpenFor.D() != 5*time.Second || a.ConsecutiveFailures != 3 || a.Probes != 1 || a.Window.D() != time.Minute {
		t.Errorf("a: %+v", a)
	}
	if b.OpenFor.D() != 30*time.Second || b.ConsecutiveFailures != 3 {
		t.Errorf("b: %+v", b)
	}
	if r := c.Assistants["a"].Retry; r.Attempts != 0 || len(r.Backoff) != 2 || r.MaxSilence.D() != 2*time.Second {
		t.Errorf("retry defaults: %+v", r)
	}
}

func TestSecretsComeFromEnvironment(t *testing.T) {
	src := strings.Replace(base, "{endpoint: sofia/internal/a@10.0.0.1}", "{endpoint: sofia/internal/a@10.0.0.1, header_env: {X-Key: AILB_TEST_KEY}}", 1)
	env := func(k string) (string, bool) {
		if k == "AILB_TEST_KEY" {
			return "s3cret", true
		}
		return "", false
	}
	c, err := Load(strings.NewReader(src), env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Assistants["a"].SIP.Secrets["X-Key"] != "s3cret" {
		t.Fatal("secret not resolved")
	}
}

func TestAllErrorsAtOnce(t *testing.T) {
	src := strings.NewReplacer("{assistant: b}", "{assistant: zz, weight: 500}", "pool: p\ndefault_route", "pool: q\ndefault_route").Replace(base)
	_, err := Load(strings.NewReader(src), noEnv)
	if err == nil || strings.Count(err.Error(), "\n") < 2 {
		t.Fatalf("want several problems reported together, got %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(base)
	if b, err := os.ReadFile("../configs/ailb.yaml"); err == nil {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Load(strings.NewReader(s), noEnv)
		if err == nil && (c.DefaultRoute == nil || len(c.Assistants) == 0) {
			t.Fatal("accepted a config without default route or assistants")
		}
	})
}
