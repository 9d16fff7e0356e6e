package ops

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"ailb/dialplan"
)

// Runtime is what the admin API controls.
type Runtime interface {
	Routes() []dialplan.RouteView
	Pools(breakerState func(string) string) []dialplan.PoolView
	SetStatus(ctx context.Context, pool, member string, active bool) error
	Reload() error
}

// Calls is the live-call side: state set by an assistant.
type Calls interface {
	SetState(ctx context.Context, callID, token string, vars map[string]string) error
}

// Breakers is the breaker side of the admin API.
type Breakers interface {
	// Status is the JSON-able state of every breaker.
	Status() any
	// State is one assistant's state name ("closed", "half-open", "open").
	State(assistant string) string
	// Force opens, closes or resets an assistant's breaker.
	Force(assistant, action string) error
}

// ErrUnknownAssistant is a breaker name that is not configured.
var ErrUnknownAssistant = errors.New("unknown assistant")

// Admin is the admin API under /api/. Every endpoint needs the bearer
// token except PUT /api/calls/{id}/state, which takes the call's own
// token (X-AILB-Token, handed to the assistant in the INVITE).
type Admin struct {
	Token    string // empty: every admin request is refused
	Runtime  Runtime
	Calls    Calls
	Breakers Breakers // optional
	Log      *zap.Logger
}

// Handler returns the API's mux.
func (a *Admin) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /api/routes", a.admin(a.routes))
	mux.Handle("GET /api/pools", a.admin(a.pools))
	mux.Handle("POST /api/pools/{pool}/members/{member}", a.admin(a.setStatus))
	mux.Handle("POST /api/reload", a.admin(a.reload))
	mux.Handle("GET /api/breakers", a.admin(a.breakers))
	mux.Handle("POST /api/breakers/{assistant}", a.admin(a.forceBreaker))
	mux.HandleFunc("PUT /api/calls/{id}/state", a.setState)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// admin checks the bearer token in constant time.
func (a *Admin) admin(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if a.Token == "" || !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ailb"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		h(w, r)
	})
}

func (a *Admin) routes(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.Runtime.Routes())
}

func (a *Admin) pools(w http.ResponseWriter, _ *http.Request) {
	var state func(string) string
	if a.Breakers != nil {
		state = a.Breakers.State
	}
	writeJSON(w, http.StatusOK, a.Runtime.Pools(state))
}

type statusRequest struct {
	Status string `json:"status"`
}

func (a *Admin) setStatus(w http.ResponseWriter, r *http.Request) {
	var req statusRequest
	if err := decode(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Status != "active" && req.Status != "inactive" {
		writeError(w, http.StatusBadRequest, `status must be "active" or "inactive"`)
		return
	}
	pool, member := r.PathValue("pool"), r.PathValue("member")
	err := a.Runtime.SetStatus(r.Context(), pool, member, req.Status == "active")
	switch {
	case errors.Is(err, dialplan.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		a.Log.Info("admin: member status set", zap.String("pool", pool), zap.String("member", member), zap.String("status", req.Status))
		writeJSON(w, http.StatusOK, map[string]string{"pool": pool, "member": member, "status": req.Status})
	}
}

func (a *Admin) reload(w http.ResponseWriter, _ *http.Request) {
	if err := a.Runtime.Reload(); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "reload refused, the running configuration stays: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
}

func (a *Admin) breakers(w http.ResponseWriter, _ *http.Request) {
	if a.Breakers == nil {
		writeJSON(w, http.StatusOK, []any{})
		return
	}
	writeJSON(w, http.StatusOK, a.Breakers.Status())
}

type forceRequest struct {
	Action string `json:"action"`
}

func (a *Admin) forceBreaker(w http.ResponseWriter, r *http.Request) {
	var req forceRequest
	if err := decode(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch req.Action {
	case "open", "close", "reset":
	default:
		writeError(w, http.StatusBadRequest, `action must be "open", "close" or "reset"`)
		return
	}
	if a.Breakers == nil {
		writeError(w, http.StatusNotFound, "breakers are not enabled")
		return
	}
	name := r.PathValue("assistant")
	if err := a.Breakers.Force(name, req.Action); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrUnknownAssistant) {
			code = http.StatusNotFound
		}
		writeError(w, code, err.Error())
		return
	}
	a.Log.Info("admin: breaker forced", zap.String("assistant", name), zap.String("action", req.Action))
	writeJSON(w, http.StatusOK, map[string]string{"assistant": name, "state": a.Breakers.State(name)})
}

// setState takes what an assistant collected. The token is the call's
// own: "Authorization: Bearer <token>" or "X-AILB-Token: <token>".
func (a *Admin) setState(w http.ResponseWriter, r *http.Request) {
	token := r.Header.Get("X-AILB-Token")
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = t
	}
	var vars map[string]string
	if err := decode(r, &vars); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	err := a.Calls.SetState(ctx, r.PathValue("id"), token, vars)
	switch {
	case errors.Is(err, dialplan.ErrUnknownCall):
		writeError(w, http.StatusNotFound, "no such call in progress")
	case errors.Is(err, dialplan.ErrBadToken):
		writeError(w, http.StatusForbidden, "wrong call token")
	case errors.Is(err, dialplan.ErrBadState):
		writeError(w, http.StatusBadRequest, err.Error())
	case err != nil:
		writeError(w, http.StatusBadGateway, "the call's channel refused the state: "+err.Error())
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// decode reads a small JSON body strictly.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("body: " + err.Error())
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
