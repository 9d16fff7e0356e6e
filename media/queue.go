package media

import "sync"

// frameKind says how a queued frame goes on the wire.
type frameKind uint8

const (
	fBinary frameKind = iota // data as one binary frame (audio)
	fText                    // data as one text frame
	fMedia                   // Twilio media: data is μ-law, chunk numbers it
	fTwilio                  // msg, numbered when written
)

type frame struct {
	kind  frameKind
	data  []byte
	chunk int64
	msg   *TwilioMessage
}

func (f *frame) isAudio() bool { return f.kind == fBinary || f.kind == fMedia }

type qState uint8

const (
	qOpen    qState = iota
	qClosing        // the writer sends what is queued, then a Close frame
	qAborted        // the writer stops at once
)

// queue feeds one socket's writer. At most limit audio frames wait; other
// frames (control messages) are few and kept in order with the audio.
type queue struct {
	mu     sync.Mutex
	items  []frame // items[head:] are waiting
	head   int
	audio  int
	limit  int
	state  qState
	code   int    // Close code when closing
	reason string // Close reason when closing
	ready  chan struct{}
	space  chan struct{}
}

func newQueue(limit int) *queue {
	return &queue{
		limit: limit,
		items: make([]frame, 0, limit+8),
		ready: make(chan struct{}, 1),
		space: make(chan struct{}, 1),
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// push adds f without waiting. With limit audio frames queued, the oldest
// audio frame makes room; push returns how many frames it dropped. A
// closed queue takes nothing (and drops nothing).
func (q *queue) push(f frame) (dropped int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.state != qOpen {
		return 0
	}
	if f.isAudio() && q.audio >= q.limit {
		q.dropOldest(true)
		dropped++
	}
	if len(q.items)-q.head >= 4*q.limit+16 {
		// A flood of control messages: bound them too.
		q.dropOldest(false)
		dropped++
	}
	q.add(f)
	return dropped
}

// pushWait adds f, waiting while limit audio frames are queued. It
// reports false when the queue closed or stop fired first.
func (q *queue) pushWait(f frame, stop <-chan struct{}) bool {
	for {
		q.mu.Lock()
		if q.state != qOpen {
			q.mu.Unlock()
			return false
		}
		if !f.isAudio() || q.audio < q.limit {
			q.add(f)
			q.mu.Unlock()
			return true
		}
		q.mu.Unlock()
		select {
		case <-q.space:
		case <-stop:
			return false
		}
	}
}

func (q *queue) add(f frame) {
	if q.head > 0 && len(q.items) == cap(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, f)
	if f.isAudio() {
		q.audio++
	}
	signal(q.ready)
}

// dropOldest removes the oldest audio frame, or without audioOnly the
// oldest frame of any kind.
func (q *queue) dropOldest(audioOnly bool) {
	for i := q.head; i < len(q.items); i++ {
		if audioOnly && !q.items[i].isAudio() {
			continue
		}
		if q.items[i].isAudio() {
			q.audio--
		}
		copy(q.items[i:], q.items[i+1:])
		q.items[len(q.items)-1] = frame{}
		q.items = q.items[:len(q.items)-1]
		return
	}
}

// take returns the next frame, or with none waiting, the queue's state.
func (q *queue) take() (frame, bool, qState) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.state == qAborted || q.head == len(q.items) {
		return frame{}, false, q.state
	}
	f := q.items[q.head]
	q.items[q.head] = frame{}
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	if f.isAudio() {
		q.audio--
		signal(q.space)
	}
	return f, true, q.state
}

// flushAudio drops every waiting audio frame (a clear): control frames
// stay. It returns how many were dropped.
func (q *queue) flushAudio() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	kept := q.items[:q.head]
	n := 0
	for _, f := range q.items[q.head:] {
		if f.isAudio() {
			n++
			continue
		}
		kept = append(kept, f)
	}
	clear(q.items[len(kept):])
	q.items, q.audio = kept, 0
	signal(q.space)
	return n
}

// close lets the writer send what is queued, then Close(code, reason).
func (q *queue) close(code int, reason string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.state == qOpen {
		q.state, q.code, q.reason = qClosing, code, reason
	}
	signal(q.ready)
	signal(q.space)
}

// abort stops the writer at once.
func (q *queue) abort() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.state = qAborted
	signal(q.ready)
	signal(q.space)
}

// closeFrame returns the Close frame a closing queue ends with.
func (q *queue) closeFrame() (int, string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.code, q.reason
}
