package media

import (
	"fmt"
	"testing"
	"time"
)

func audio(n int) frame      { return frame{kind: fBinary, data: []byte{byte(n)}} }
func control(s string) frame { return frame{kind: fText, data: []byte(s)} }

// drain takes every waiting frame and names them.
func drain(q *queue) string {
	var out []string
	for {
		f, ok, _ := q.take()
		if !ok {
			return fmt.Sprint(out)
		}
		if f.kind == fText {
			out = append(out, string(f.data))
		} else {
			out = append(out, fmt.Sprint(f.data[0]))
		}
	}
}

func TestQueueDropsOldestAudio(t *testing.T) {
	tests := []struct {
		give      []frame
		want      string
		wantDrops int
	}{
		{give: []frame{audio(1), audio(2), audio(3)}, want: "[1 2 3]"},
		{give: []frame{audio(1), audio(2), audio(3), audio(4), audio(5)}, want: "[3 4 5]", wantDrops: 2},
		{give: []frame{control("start"), audio(1), audio(2), audio(3), audio(4)}, want: "[start 2 3 4]", wantDrops: 1},
		{give: []frame{audio(1), control("dtmf"), audio(2), audio(3), audio(4)}, want: "[dtmf 2 3 4]", wantDrops: 1},
	}
	for _, tt := range tests {
		q := newQueue(3)
		drops := 0
		for _, f := range tt.give {
			drops += q.push(f)
		}
		if got := drain(q); got != tt.want || drops != tt.wantDrops {
			t.Errorf("got %s with %d drops, want %s with %d", got, drops, tt.want, tt.wantDrops)
		}
	}
}

func TestQueueBoundsControlFloods(t *testing.T) {
	q := newQueue(1)
	drops := 0
	for i := range 100 {
		drops += q.push(control(fmt.Sprint(i)))
	}
	if q.len() != 20 || drops != 80 {
		t.Fatalf("%d waiting, %d dropped", q.len(), drops)
	}
}

func TestQueueFlushAudioKeepsControl(t *testing.T) {
	q := newQueue(10)
	for _, f := range []frame{audio(1), control("mark"), audio(2), audio(3)} {
		q.push(f)
	}
	q.take() // audio 1 is already out
	if n := q.flushAudio(); n != 2 {
		t.Fatalf("flushed %d", n)
	}
	q.push(control("killAudio"))
	if got := drain(q); got != "[mark killAudio]" {
		t.Fatalf("got %s", got)
	}
}

func TestQueuePushWait(t *testing.T) {
	q := newQueue(2)
	stop := make(chan struct{})
	q.pushWait(audio(1), stop)
	q.pushWait(audio(2), stop)
	pushed := make(chan bool)
	go func() { pushed <- q.pushWait(audio(3), stop) }()
	select {
	case <-pushed:
		t.Fatal("pushWait did not wait for room")
	case <-time.After(20 * time.Millisecond):
	}
	q.take()
	if !<-pushed {
		t.Fatal("pushWait gave up")
	}
	go func() { pushed <- q.pushWait(audio(4), stop) }()
	close(stop)
	if <-pushed {
		t.Fatal("pushWait ignored stop")
	}
	if got := drain(q); got != "[2 3]" {
		t.Fatalf("got %s", got)
	}
}

func TestQueueCloseAndAbort(t *testing.T) {
	q := newQueue(4)
	q.push(audio(1))
	q.close(1000, "bye")
	if q.push(audio(2)) != 0 {
		t.Fatal("a closed queue dropped")
	}
	if f, ok, st := q.take(); !ok || f.data[0] != 1 || st != qClosing {
		t.Fatalf("closing queue gave %v %v %v", f, ok, st)
	}
	if _, ok, st := q.take(); ok || st != qClosing {
		t.Fatal("closing queue not empty")
	}
	if code, reason := q.closeFrame(); code != 1000 || reason != "bye" {
		t.Fatalf("close frame %d %q", code, reason)
	}
	q = newQueue(4)
	q.push(audio(1))
	q.abort()
	if _, ok, st := q.take(); ok || st != qAborted {
		t.Fatal("aborted queue still gives frames")
	}
}

// len reports the frames waiting.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}
