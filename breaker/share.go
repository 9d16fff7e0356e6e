package breaker

import "sync"

// shareOp is a write to the shared open-until waiting for Shared.Run.
type shareOp int

const (
	opNone  shareOp = iota
	opOpen          // publish open-until and clear the counts (a new generation)
	opClear         // a probe succeeded or an operator reset: delete both
)

// slot is one bucket's results not yet added to Redis.
type slot struct {
	bucket   int64
	ok, fail uint32
}

// shareState is what an entry has for Shared.Run: results since the last
// round trip and the pending open-until write. Calls only append to it.
type shareState struct {
	mu    sync.Mutex
	slots []slot
	sawOK bool   // a success since the last round trip
	tail  uint32 // failures after the last success
	op    shareOp
	until int64 // opOpen: open-until, unix ms
	own   int64 // the last open-until this instance wrote
}

// batch is one round trip's share of an entry.
type batch struct {
	slots []slot
	sawOK bool
	tail  uint32
	op    shareOp
	until int64
	own   int64
}

// record adds one result to its admission bucket; buckets older than
// oldest are past the window and are dropped, so a Set whose Shared
// never runs stays small.
func (p *shareState) record(bucket, oldest int64, failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := len(p.slots) - 1
	for i >= 0 && p.slots[i].bucket != bucket {
		i--
	}
	if i < 0 {
		kept := p.slots[:0]
		for _, s := range p.slots {
			if s.bucket >= oldest {
				kept = append(kept, s)
			}
		}
		p.slots = append(kept, slot{bucket: bucket})
		i = len(p.slots) - 1
	}
	if failed {
		p.slots[i].fail++
		p.tail++
	} else {
		p.slots[i].ok++
		p.sawOK, p.tail = true, 0
	}
}

// setOp queues a write; the newest wins. Opening starts a generation, so
// results waiting from the old one are dropped.
func (p *shareState) setOp(op shareOp, until int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.op, p.until = op, until
	if op == opOpen {
		p.own = until
		p.slots, p.sawOK, p.tail = p.slots[:0], false, 0
	}
}

// take hands everything pending to a round trip.
func (p *shareState) take() batch {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := batch{slots: append([]slot(nil), p.slots...), sawOK: p.sawOK, tail: p.tail, op: p.op, until: p.until, own: p.own}
	p.slots, p.sawOK, p.tail, p.op = p.slots[:0], false, 0, opNone
	return b
}

// restore puts back a write whose round trip failed, unless a newer one
// was queued meanwhile. Results are not put back: a timed-out pipeline
// may have applied them, and counting twice could open a breaker.
func (p *shareState) restore(b batch) {
	if b.op == opNone {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.op == opNone {
		p.op, p.until = b.op, b.until
	}
}
