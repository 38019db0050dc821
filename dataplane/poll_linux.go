package dataplane

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Poll loops serve every pollable port queue (the TAP queues) the way NAPI
// serves network cards: a few loops, one per P (GOMAXPROCS), share one
// epoll instance in which every queue is registered edge-triggered. A loop
// claims the queues whose events it takes and serves them in turn, one
// batch (at most BatchSize frames) per queue per round, until each is
// empty; between rounds it asks epoll, without waiting, which other queues
// have frames. So a queue that a flood keeps full gets one batch per round
// like every other, and a quiet queue's frame waits at most one round
// (issue 10: with a goroutine per queue, the Go scheduler noticed a quiet
// queue only every 10 ms while flooded queues kept the P busy, and an
// established flow beside a flood saw tens of milliseconds per hop).
//
// A loop that finds nothing keeps looking for spin (settings.busy_poll_us)
// after the last event before it sleeps in Go's poller: a frame that comes
// meanwhile (an echo reply, a flow's next segment) is read without a wakeup,
// the largest part of the forwarder's latency (issue 15); an idle loop
// sleeps, since the window starts only from an event.
//
// Goroutines: startPollLoops starts the loops; each ends when stop closes
// its descriptor. A queue is served by one loop at a time (polled.state).

// pollEvents is how many events a loop takes from epoll per round.
const pollEvents = 64

// pollLoops is the set of loops of one forwarder.
type pollLoops struct {
	ep    int        // the shared epoll instance (closed with the last of files)
	files []*os.File // one dup of ep per loop, watched by Go's poller while that loop sleeps
	wg    sync.WaitGroup

	mu    sync.Mutex                // serializes changes to tab and gen
	tab   atomic.Pointer[[]*polled] // slot → queue, copied on change; read per event
	gen   uint32
	freed []uint32 // free slots

	spin int64 // busy-poll window in ns after the last event; 0 sleeps at once
}

// polled is one queue the loops serve, and its worker.
type polled struct {
	w     *worker
	q     pollable
	token uint64 // generation<<32 | slot in pollLoops.tab
	state atomic.Uint32
}

// Queue states. A loop owns a queue from claim (idle→busy) until it finds it
// empty (busy→idle). An event taken by another loop meanwhile turns busy
// into again, which makes the owner read once more before letting go.
const (
	pqIdle uint32 = iota
	pqBusy
	pqAgain
	pqDead // closed and retired
)

// startPollLoops creates the epoll instance and n loops.
func startPollLoops(n int, spin time.Duration) (*pollLoops, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	l := &pollLoops{ep: ep, spin: int64(spin)}
	empty := []*polled{}
	l.tab.Store(&empty)
	for i := range max(n, 1) {
		fd := ep
		if i > 0 {
			if fd, err = unix.FcntlInt(uintptr(ep), unix.F_DUPFD_CLOEXEC, 0); err != nil {
				l.stop()
				return nil, err
			}
		}
		if err := unix.SetNonblock(fd, true); err != nil { // so that Go polls it
			unix.Close(fd)
			l.stop()
			return nil, err
		}
		file := os.NewFile(uintptr(fd), "epoll")
		rc, err := file.SyscallConn()
		if err != nil {
			file.Close()
			l.stop()
			return nil, err
		}
		l.files = append(l.files, file)
		l.wg.Add(1)
		go l.run(rc)
	}
	return l, nil
}

// stop ends every loop and waits for them. Queues still registered are
// not served any more; the forwarder retires their workers first.
func (l *pollLoops) stop() {
	for _, f := range l.files {
		f.Close()
	}
	l.wg.Wait()
}

// add registers queue q, read by worker w, with the loops.
func (l *pollLoops) add(w *worker, q pollable) (*polled, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := *l.tab.Load()
	var slot uint32
	if n := len(l.freed); n > 0 {
		slot, l.freed = l.freed[n-1], l.freed[:n-1]
	} else {
		slot = uint32(len(old))
	}
	l.gen++
	pq := &polled{w: w, q: q, token: uint64(l.gen)<<32 | uint64(slot)}
	tab := make([]*polled, max(len(old), int(slot)+1))
	copy(tab, old)
	tab[slot] = pq
	l.tab.Store(&tab)
	// Published before it is registered: its first event must find it.
	if err := q.register(l.ep, pq.token); err != nil {
		l.removeLocked(pq)
		return nil, err
	}
	return pq, nil
}

// remove forgets pq; an event of it still in flight finds no queue.
func (l *pollLoops) remove(pq *polled) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.removeLocked(pq)
}

func (l *pollLoops) removeLocked(pq *polled) {
	old := *l.tab.Load()
	slot := uint32(pq.token)
	tab := append([]*polled(nil), old...)
	tab[slot] = nil
	l.tab.Store(&tab)
	l.freed = append(l.freed, slot)
}

// lookup returns the queue an event names, or nil.
func lookup(tab []*polled, token uint64) *polled {
	slot := uint32(token)
	if int(slot) >= len(tab) {
		return nil
	}
	if pq := tab[slot]; pq != nil && pq.token == token {
		return pq
	}
	return nil
}

// run is one loop: take events, claim their queues, serve one batch of
// every owned queue, repeat; sleep in Go's poller only when it owns none
// and epoll has nothing.
func (l *pollLoops) run(rc interface {
	Read(func(uintptr) bool) error
}) {
	defer l.wg.Done()
	events := make([]unix.EpollEvent, pollEvents)
	ready := make([]*polled, 0, 64)
	got := 0
	var last int64 // when epoll last had an event (clock)
	wait := func(fd uintptr) bool {
		for {
			n, err := unix.EpollWait(int(fd), events, 0)
			if err != nil {
				n = 0
			}
			got = n
			if n > 0 || len(ready) > 0 {
				return true
			}
			// Adaptive busy polling: while frames came within the
			// last l.spin, look again instead of sleeping, so the
			// next frame costs no wakeup; idle, the loop sleeps.
			if l.spin <= 0 || clock()-last > l.spin {
				return false
			}
			runtime.Gosched()
		}
	}
	for {
		if err := rc.Read(wait); err != nil {
			return // stop closed the descriptor
		}
		if got > 0 {
			if l.spin > 0 {
				last = clock()
			}
			tab := *l.tab.Load()
			for i := range events[:got] {
				token := *(*uint64)(unsafe.Pointer(&events[i].Fd))
				if pq := lookup(tab, token); pq != nil && pq.claim() {
					ready = append(ready, pq)
				}
			}
		}
		kept := ready[:0]
		for _, pq := range ready {
			if pq.serve() {
				kept = append(kept, pq)
			}
		}
		clear(ready[len(kept):])
		ready = kept
	}
}

// claim makes the calling loop the owner of pq, or, when another loop owns
// it, tells that owner to read once more. It reports whether the caller
// owns pq now.
func (pq *polled) claim() bool {
	for {
		switch s := pq.state.Load(); s {
		case pqIdle:
			if pq.state.CompareAndSwap(pqIdle, pqBusy) {
				return true
			}
		case pqBusy:
			if pq.state.CompareAndSwap(pqBusy, pqAgain) {
				return false
			}
		default:
			return false
		}
	}
}

// serve reads one batch of pq and runs it through the pipeline. It reports
// whether the loop keeps pq for the next round: the batch was full, or an
// event came meanwhile. A closed queue is retired by its owner.
func (pq *polled) serve() bool {
	w := pq.w
	n, err := pq.q.TryRead(w.bufs, w.sizes, 0)
	if err == ErrClosed {
		pq.state.Store(pqDead)
		w.f.retire(pq)
		return false
	}
	cfg := w.f.cfg.Load()
	if err != nil {
		w.dropIn(cfg, dropShort) // a transient read error, counted as before
	}
	if n > 0 {
		w.now = clock()
		for i := 0; i < n; i++ {
			w.handle(cfg, w.bufs[i][:w.sizes[i]])
		}
		w.endBatch() // uring_linux.go: the batch's deferred writes
	}
	if n == len(w.bufs) {
		return true
	}
	if pq.state.CompareAndSwap(pqBusy, pqIdle) {
		return false
	}
	pq.state.Store(pqBusy) // it was pqAgain
	return true
}

// closed is called once the queue's port is closed (Close has returned, so
// no read is in flight and every later read fails). An idle queue is
// retired here; an owned one is retired by its owner, which is made to
// read once more.
func (pq *polled) closed() {
	for {
		switch s := pq.state.Load(); s {
		case pqIdle:
			if pq.state.CompareAndSwap(pqIdle, pqDead) {
				pq.w.f.retire(pq)
				return
			}
		case pqBusy:
			if pq.state.CompareAndSwap(pqBusy, pqAgain) {
				return
			}
		default:
			return
		}
	}
}
