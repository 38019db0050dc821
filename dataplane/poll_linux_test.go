package dataplane

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vpcnet/vpcnet/topology"
)

// fakeQueue is a pollable queue for tests: an eventfd gives epoll its
// readiness, TryRead hands out frames the test queued (or, for a flood,
// always a full batch) and counts the reads.
type fakeQueue struct {
	efd     int
	flood   bool
	pending atomic.Int32 // frames queued, for a quiet queue
	reads   atomic.Int64 // TryReads that returned frames
	closed  atomic.Bool
	mu      sync.Mutex
	served  []int64 // for a quiet queue: the flood's reads when each of its frames was read
	floodOf *fakeQueue
}

func newFakeQueue(t *testing.T, flood bool) *fakeQueue {
	t.Helper()
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(efd) })
	return &fakeQueue{efd: efd, flood: flood}
}

// kick makes the queue's descriptor signal readiness (one edge).
func (q *fakeQueue) kick() {
	var one [8]byte
	one[0] = 1
	unix.Write(q.efd, one[:])
}

func (q *fakeQueue) TryRead(bufs [][]byte, sizes []int, offset int) (int, error) {
	if q.closed.Load() {
		return 0, ErrClosed
	}
	if q.flood {
		q.reads.Add(1)
		for i := range bufs {
			sizes[i] = 1 // a short frame: a counted drop, cheap
		}
		return len(bufs), nil
	}
	if q.pending.Load() == 0 {
		return 0, nil
	}
	q.pending.Add(-1)
	q.mu.Lock()
	q.served = append(q.served, q.floodOf.reads.Load())
	q.mu.Unlock()
	q.reads.Add(1) // after served: the test reads served[i] once reads says i+1
	sizes[0] = 1
	return 1, nil
}

func (q *fakeQueue) register(ep int, token uint64) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET}
	*(*uint64)(unsafe.Pointer(&ev.Fd)) = token
	return unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, q.efd, &ev)
}

func (q *fakeQueue) Read([][]byte, []int, int) (int, error) { return 0, ErrClosed }
func (q *fakeQueue) Write(b [][]byte, _ int) (int, error)   { return len(b), nil }
func (q *fakeQueue) BatchSize() int                         { return tapBatch }
func (q *fakeQueue) Close() error                           { q.closed.Store(true); q.kick(); return nil }

// pollRig is a forwarder whose poll loops (n of them) serve fake queues.
func pollRig(t *testing.T, loops int) (*Forwarder, func(q *fakeQueue) *polled) {
	t.Helper()
	return pollRigSpin(t, loops, 0)
}

// pollRigSpin is pollRig with the loops' busy-poll window.
func pollRigSpin(t *testing.T, loops int, spin time.Duration) (*Forwarder, func(q *fakeQueue) *polled) {
	t.Helper()
	n, err := topology.Load([]byte(unitTopo))
	if err != nil {
		t.Fatal(err)
	}
	f := New(n, Options{})
	l, err := startPollLoops(loops, spin)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.loops, f.polled = l, map[string][]*polled{}
	f.mu.Unlock()
	add := func(q *fakeQueue) *polled {
		w := &worker{f: f, port: q, id: "none"}
		w.bufs, w.sizes = make([][]byte, tapBatch), make([]int, tapBatch)
		for i := range w.bufs {
			w.bufs[i] = make([]byte, 64)
		}
		f.wg.Add(1)
		pq, err := l.add(w, q)
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.polled[t.Name()] = append(f.polled[t.Name()], pq)
		f.mu.Unlock()
		return pq
	}
	return f, add
}

// pollWait polls cond for up to 10 s.
func pollWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Issue 10: a queue that a flood keeps full gets one batch per round, and a
// quiet queue's frame is read within a round of its arrival. It is counted
// in the flood's batches, not in time (the machine may be busy): with one
// loop, between the event and the read the loop finishes the round it is in
// and serves the quiet queue in the next, so the flood gets at most two
// batches. With a goroutine per queue the Go scheduler noticed the quiet
// queue only every 10 ms, after hundreds of the flood's batches.
func TestPollLoopServesAQuietQueueWithinARoundOfAFlood(t *testing.T) {
	f, add := pollRig(t, 1)
	flood, quiet := newFakeQueue(t, true), newFakeQueue(t, false)
	quiet.floodOf = flood
	add(flood)
	add(quiet)
	flood.kick()
	pollWait(t, "the flood to be served", func() bool { return flood.reads.Load() > 1000 })
	const frames = 100
	var worst int64
	for i := range frames {
		quiet.pending.Add(1)
		quiet.kick() // the event is on epoll's ready list when it returns
		before := flood.reads.Load()
		pollWait(t, "the quiet queue's frame", func() bool { return quiet.reads.Load() == int64(i+1) })
		quiet.mu.Lock()
		worst = max(worst, quiet.served[i]-before)
		quiet.mu.Unlock()
	}
	flood.Close()
	quiet.Close()
	f.Stop() // returns only once both workers are retired
	if worst > 2 {
		t.Fatalf("a quiet queue's frame waited for %d of the flood's batches, want at most 2", worst)
	}
}

// With two loops the flood keeps one busy and the other serves the quiet
// queue; closing both queues retires them from whichever loop owns them.
func TestPollLoopsServeEveryQueueAndRetireClosedOnes(t *testing.T) {
	f, add := pollRig(t, 2)
	flood, quiet := newFakeQueue(t, true), newFakeQueue(t, false)
	quiet.floodOf = flood
	add(flood)
	add(quiet)
	flood.kick()
	for i := range 100 {
		quiet.pending.Add(1)
		quiet.kick()
		pollWait(t, "the quiet queue's frame", func() bool { return quiet.reads.Load() == int64(i+1) })
	}
	if flood.reads.Load() == 0 {
		t.Fatal("the flood was never served")
	}
	flood.Close()
	quiet.Close()
	done := make(chan struct{})
	go func() { f.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return: a closed queue was not retired")
	}
	if n := len(*f.loops.tab.Load()); n != 2 {
		t.Fatalf("table of %d slots, want 2", n)
	}
	for i, pq := range *f.loops.tab.Load() {
		if pq != nil {
			t.Fatalf("slot %d still holds a queue after Stop", i)
		}
	}
}

// cpuTime is the process's user and system time so far.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Issue 15, adaptive busy polling: after a frame the loop keeps looking for
// the next one for the window (so it costs no wakeup), then sleeps, so an
// idle forwarder costs no CPU. Measured in CPU time, which a busy machine
// can only lower: the bounds are a twentieth of the window and a small fraction
// of the idle time.
func TestBusyPollSpinsAfterAFrameThenSleeps(t *testing.T) {
	const window = 400 * time.Millisecond
	f, add := pollRigSpin(t, 1, window)
	q := newFakeQueue(t, false)
	q.floodOf = newFakeQueue(t, false)
	add(q)
	idle := func(what string) {
		before := cpuTime(t)
		time.Sleep(300 * time.Millisecond)
		if used := cpuTime(t) - before; used > 30*time.Millisecond {
			t.Fatalf("%s: %v of CPU in 300 ms, want the loop asleep", what, used)
		}
	}
	idle("before any frame")
	q.pending.Add(1)
	q.kick()
	pollWait(t, "the frame", func() bool { return q.reads.Load() == 1 })
	before := cpuTime(t)
	time.Sleep(window / 2)
	if used := cpuTime(t) - before; used < window/20 {
		t.Fatalf("%v of CPU in the %v after a frame, want the loop spinning", used, window/2)
	}
	time.Sleep(window) // the window is over
	idle("after the window")
	q.Close()
	f.Stop()
}

// Without a window the loop sleeps as soon as the queue is empty.
func TestBusyPollOffSleepsAtOnce(t *testing.T) {
	f, add := pollRigSpin(t, 1, 0)
	q := newFakeQueue(t, false)
	q.floodOf = newFakeQueue(t, false)
	add(q)
	q.pending.Add(1)
	q.kick()
	pollWait(t, "the frame", func() bool { return q.reads.Load() == 1 })
	before := cpuTime(t)
	time.Sleep(300 * time.Millisecond)
	if used := cpuTime(t) - before; used > 30*time.Millisecond {
		t.Fatalf("%v of CPU in 300 ms after a frame with busy polling off", used)
	}
	q.Close()
	f.Stop()
}
