package dialplan

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"ailb/config"
	"ailb/routing"
)

// StatusStore keeps member status where every instance sees it (Redis).
type StatusStore interface {
	SetStatus(ctx context.Context, pool, member string, active bool) error
	Statuses(ctx context.Context) (map[string]bool, error)
}

// Runtime owns what changes while ailb runs: the configuration (reload),
// member status (admin API), and the snapshot new calls use. Changes build
// a new snapshot; calls in progress keep theirs.
type Runtime struct {
	Flow *Flow
	log  *zap.Logger
	load func() (*config.Config, error)

	mu     sync.Mutex
	cfg    *config.Config
	deps   Deps
	status map[string]bool // "pool/member" -> active, overriding the config
	shared StatusStore     // nil without Redis
	// OnReload is told about each configuration applied (breakers, relay).
	OnReload func(*config.Config)
}

// ErrNotFound is a pool or member the configuration does not have.
var ErrNotFound = errors.New("not found")

// NewRuntime builds the first snapshot. load reads and validates the
// configuration file again on reload.
func NewRuntime(cfg *config.Config, load func() (*config.Config, error), deps Deps, shared StatusStore, rec Recorder, log *zap.Logger) (*Runtime, error) {
	r := &Runtime{log: log, load: load, cfg: cfg, deps: deps, status: map[string]bool{}, shared: shared}
	if shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := shared.Statuses(ctx)
		cancel()
		if err != nil {
			log.Warn("member status from Redis unavailable; using the configuration", zap.Error(err))
		}
		for k, v := range st {
			r.status[k] = v
		}
	}
	deps.Status = r.status
	snap, err := Build(cfg, deps)
	if err != nil {
		return nil, err
	}
	r.Flow = New(snap, log, rec)
	return r, nil
}

// Config is the configuration in force.
func (r *Runtime) Config() *config.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}

// Reload reads the configuration again. An invalid one is refused with
// the reason and the running one stays.
func (r *Runtime) Reload() error {
	cfg, err := r.load()
	if err != nil {
		r.log.Error("configuration reload refused; the running configuration stays", zap.Error(err))
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.rebuild(cfg); err != nil {
		r.log.Error("configuration reload refused; the running configuration stays", zap.Error(err))
		return err
	}
	if r.OnReload != nil {
		r.OnReload(cfg)
	}
	r.log.Info("configuration reloaded")
	return nil
}

func (r *Runtime) rebuild(cfg *config.Config) error {
	d := r.deps
	d.Status = make(map[string]bool, len(r.status))
	for k, v := range r.status {
		d.Status[k] = v
	}
	snap, err := Build(cfg, d)
	if err != nil {
		return err
	}
	r.cfg = cfg
	r.Flow.Swap(snap)
	return nil
}

// SetStatus switches a member on or off for the next calls; calls in
// progress are untouched. With Redis the status is shared and survives
// restarts.
func (r *Runtime) SetStatus(ctx context.Context, pool, member string, active bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.cfg.Pools[pool]
	if !ok {
		return fmt.Errorf("pool %q: %w", pool, ErrNotFound)
	}
	found := false
	for _, m := range p.Members {
		found = found || m.Assistant == member
	}
	if !found {
		return fmt.Errorf("member %q of pool %q: %w", member, pool, ErrNotFound)
	}
	if r.shared != nil {
		if err := r.shared.SetStatus(ctx, pool, member, active); err != nil {
			// Still applied here; other instances learn it when Redis is back.
			r.log.Warn("member status not shared: Redis unavailable", zap.Error(err))
		}
	}
	r.status[pool+"/"+member] = active
	r.log.Info("member status changed", zap.String("pool", pool), zap.String("member", member), zap.Bool("active", active))
	return r.rebuild(r.cfg)
}

// SyncStatus applies status changes made by other instances (polled from
// the shared store) and reports whether anything changed.
func (r *Runtime) SyncStatus(ctx context.Context) (bool, error) {
	if r.shared == nil {
		return false, nil
	}
	st, err := r.shared.Statuses(ctx)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := len(st) != len(r.status)
	for k, v := range st {
		if old, ok := r.status[k]; !ok || old != v {
			changed = true
		}
	}
	if !changed {
		return false, nil
	}
	r.status = st
	return true, r.rebuild(r.cfg)
}

// RunStatusSync polls the shared status every interval until ctx ends.
func (r *Runtime) RunStatusSync(ctx context.Context, every time.Duration) {
	if r.shared == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if changed, err := r.SyncStatus(ctx); err == nil && changed {
				r.log.Info("member status changed on another instance; applied")
			}
		}
	}
}

// MemberView is one member as the admin API shows it.
type MemberView struct {
	Assistant string   `json:"assistant"`
	Active    bool     `json:"active"`
	Status    string   `json:"status"` // active or inactive, in force
	Override  bool     `json:"override"`
	Priority  int      `json:"priority"`
	Weight    int      `json:"weight"`
	Position  int      `json:"position"`
	Calls     int      `json:"calls"`
	MaxCalls  int      `json:"max_calls"`
	Breaker   string   `json:"breaker,omitempty"`
	Recent    []Result `json:"recent"`
}

// PoolView is one pool as the admin API shows it.
type PoolView struct {
	Name          string       `json:"name"`
	Strategy      string       `json:"strategy"`
	FollowThrough bool         `json:"follow_through"`
	Members       []MemberView `json:"members"`
}

// RouteView is one route as the admin API shows it.
type RouteView struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	Calls  int    `json:"calls,omitempty"`
	Max    int    `json:"max_calls,omitempty"`
}

// Pools lists pools and members with their live state.
func (r *Runtime) Pools(breakerState func(string) string) []PoolView {
	r.mu.Lock()
	cfg := r.cfg
	status := make(map[string]bool, len(r.status))
	for k, v := range r.status {
		status[k] = v
	}
	r.mu.Unlock()
	snap := r.Flow.Snapshot()
	var out []PoolView
	for _, name := range sortedNames(cfg.Pools) {
		p := cfg.Pools[name]
		pv := PoolView{Name: name, Strategy: string(p.Strategy), FollowThrough: p.Follow()}
		for _, m := range p.Members {
			active := m.Status == config.StatusActive
			v, override := status[name+"/"+m.Assistant]
			if override {
				active = v
			}
			st := config.StatusInactive
			if active {
				st = config.StatusActive
			}
			mv := MemberView{
				Assistant: m.Assistant, Active: active, Status: st, Override: override,
				Priority: m.Priority, Weight: m.EffectiveWeight(), Position: m.Position,
				Calls: snap.Store.Active(m.Assistant), MaxCalls: snap.Assistants[m.Assistant].MaxCalls,
				Recent: r.Flow.Recent(m.Assistant),
			}
			if breakerState != nil {
				mv.Breaker = breakerState(m.Assistant)
			}
			pv.Members = append(pv.Members, mv)
		}
		sort.SliceStable(pv.Members, func(i, j int) bool { return pv.Members[i].Position < pv.Members[j].Position })
		out = append(out, pv)
	}
	return out
}

// Routes lists the routes in order, then the default.
func (r *Runtime) Routes() []RouteView {
	snap := r.Flow.Snapshot()
	var out []RouteView
	for _, rule := range append(append([]routing.Rule(nil), snap.Routes.Rules...), snap.Routes.Default) {
		rv := RouteView{Name: rule.Name, Target: describe(rule.Target), Max: rule.MaxCalls}
		if rule.MaxCalls > 0 {
			rv.Calls = snap.Store.Active("route:" + rule.Name)
		}
		out = append(out, rv)
	}
	return out
}

func describe(t routing.Target) string {
	switch t.Kind {
	case routing.ToExtension:
		return "extension " + t.Extension + " in " + t.Context
	case routing.ToHangup:
		return "hangup " + t.Cause
	}
	return t.Kind + " " + t.Name
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
