package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Event is one state of a watched topology.
type Event struct {
	Spec    []byte // nil when Deleted
	Rev     int64  // the key's ModRevision; for Deleted, the revision of the deletion (or of the read that found none)
	Deleted bool
}

// Watch follows a topology. The first event is its current value
// (Deleted when absent), then every change in order of revision. It
// outlives etcd being down: it retries with backoff, then resumes after
// the last revision it delivered, or, when etcd has compacted that far,
// re-reads the current value (intermediate changes are then skipped, never
// reordered). The channel closes when ctx ends or the Store closes, and at
// once for an invalid name. Events are delivered as the reader takes them:
// a slow reader holds the watch back, it loses nothing.
func (s *Store) Watch(ctx context.Context, topo string) <-chan Event {
	ch := make(chan Event)
	if checkTopo(topo) != nil {
		close(ch)
		return ch
	}
	ctx, done, ok := s.spawn(ctx)
	if !ok {
		close(ch)
		return ch
	}
	go func() {
		defer done()
		defer close(ch)
		w := topoWatch{s: s, key: topoKey(topo), ch: ch}
		w.run(ctx)
	}()
	return ch
}

// spawn accounts for one background goroutine, which calls done as it
// ends, and returns a context that ends with ctx or with the Store; false
// once the Store is closed.
func (s *Store) spawn(ctx context.Context) (_ context.Context, done func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return nil, nil, false
	}
	s.wg.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel(); s.wg.Done() }, true
}

// topoWatch is the state of one Watch goroutine.
type topoWatch struct {
	s    *Store
	key  string
	ch   chan<- Event
	last *Event // last delivered
	from int64  // next revision to watch from
	b    backoff
}

func (w *topoWatch) run(ctx context.Context) {
	if !w.resync(ctx) {
		return
	}
	for {
		compacted := w.follow(ctx)
		if ctx.Err() != nil || !w.b.wait(ctx) {
			return
		}
		if compacted && !w.resync(ctx) {
			return
		}
	}
}

// resync reads the current value and delivers it unless it is what was
// delivered last; false when ctx ended first.
func (w *topoWatch) resync(ctx context.Context) bool {
	for {
		var ev Event
		var rev int64
		err := w.s.call(ctx, "watch "+w.key, func(ctx context.Context) error {
			r, err := w.s.cli.Get(ctx, w.key)
			if err != nil {
				return err
			}
			rev = r.Header.Revision
			if len(r.Kvs) == 0 {
				ev = Event{Deleted: true, Rev: rev}
			} else {
				ev = Event{Spec: r.Kvs[0].Value, Rev: r.Kvs[0].ModRevision}
			}
			return nil
		})
		if err == nil {
			w.from = rev + 1
			w.b.reset()
			return w.deliver(ctx, ev)
		}
		if !w.b.wait(ctx) {
			return false
		}
	}
}

// follow watches from w.from until the watch fails; true when etcd has
// compacted past w.from (a resync is needed).
func (w *topoWatch) follow(ctx context.Context) bool {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	// The client itself reconnects and resumes while etcd is down; the
	// channel closes on compaction, on "no leader" (with
	// WithRequireLeader) and when ctx ends.
	for resp := range w.s.cli.Watch(wctx, w.key, clientv3.WithRev(w.from)) {
		if resp.CompactRevision != 0 || errors.Is(resp.Err(), rpctypes.ErrCompacted) {
			return true
		}
		if resp.Err() != nil {
			return false
		}
		for _, e := range resp.Events {
			ev := Event{Rev: e.Kv.ModRevision}
			if e.Type == mvccpb.DELETE {
				ev.Deleted = true
			} else {
				ev.Spec = e.Kv.Value
			}
			if !w.deliver(ctx, ev) {
				return false
			}
			w.from = e.Kv.ModRevision + 1
		}
		w.b.reset()
	}
	return false
}

// deliver sends ev unless it repeats the last event; false when ctx ended.
func (w *topoWatch) deliver(ctx context.Context, ev Event) bool {
	if l := w.last; l != nil && l.Deleted == ev.Deleted && (ev.Deleted || l.Rev == ev.Rev) {
		return true
	}
	select {
	case w.ch <- ev:
		w.last = &ev
		return true
	case <-ctx.Done():
		return false
	}
}

// backoff spaces retries while etcd is down: 100 ms doubling to 2 s, with
// jitter so that agents do not return in step.
type backoff struct{ d time.Duration }

const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 2 * time.Second
)

func (b *backoff) reset() { b.d = 0 }

// wait sleeps the next delay; false when ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	b.d = min(max(2*b.d, backoffMin), backoffMax)
	t := time.NewTimer(b.d/2 + rand.N(b.d/2+1))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
