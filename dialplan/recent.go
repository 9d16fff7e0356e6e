package dialplan

import (
	"sync"
	"time"
)

// Result is one attempt's outcome, kept for the admin API.
type Result struct {
	At     time.Time `json:"at"`
	Pool   string    `json:"pool,omitempty"`
	Result string    `json:"result"`
	Cause  string    `json:"cause,omitempty"`
}

// recentSize is how many results per assistant the admin API shows.
const recentSize = 10

// recent keeps the last results of every assistant.
type recent struct {
	mu sync.Mutex
	m  map[string]*ring
}

type ring struct {
	buf  [recentSize]Result
	next int
	n    int
}

func (r *recent) add(assistant string, res Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*ring{}
	}
	g, ok := r.m[assistant]
	if !ok {
		g = &ring{}
		r.m[assistant] = g
	}
	g.buf[g.next] = res
	g.next = (g.next + 1) % recentSize
	g.n = min(g.n+1, recentSize)
}

// list returns the results newest first.
func (r *recent) list(assistant string) []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, ok := r.m[assistant]
	if !ok {
		return []Result{}
	}
	out := make([]Result, 0, g.n)
	for i := 1; i <= g.n; i++ {
		out = append(out, g.buf[(g.next-i+recentSize)%recentSize])
	}
	return out
}
