package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vpcnet/vpcnet/internal/etcdtest"
)

// open opens a Store on c, dialled inside c's namespace, closed at cleanup.
func open(t *testing.T, c *etcdtest.Cluster, timeout time.Duration) *Store {
	t.Helper()
	s, err := Open(c.URL(), Options{Dial: c.Dial, Timeout: timeout})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// recv waits up to d for a value; ok false on timeout or a closed channel.
func recv[T any](t *testing.T, ch <-chan T, d time.Duration) (v T, ok bool) {
	t.Helper()
	select {
	case v, ok = <-ch:
		return v, ok
	case <-time.After(d):
		return v, false
	}
}

// eventually polls cond every 50 ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func wantErr(t *testing.T, what string, err, target error, s *Store) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
	if !strings.Contains(err.Error(), s.URL()) {
		t.Errorf("%s: error %q does not name the store %s", what, err, s.URL())
	}
}

func TestTopologyTransactions(t *testing.T) {
	t.Parallel()
	c := etcdtest.StartLocal(t, 1)
	s1, s2 := open(t, c, 0), open(t, c, 0)
	ctx := context.Background()

	r1, err := s1.Create(ctx, "demo", []byte(`{"v":1}`))
	if err != nil || r1 <= 0 {
		t.Fatalf("Create: rev %d, %v", r1, err)
	}
	_, err = s2.Create(ctx, "demo", []byte(`{"v":2}`))
	wantErr(t, "second Create", err, ErrExists, s2)
	if !strings.Contains(err.Error(), "create topology demo") {
		t.Errorf("Create error %q does not say what failed", err)
	}
	spec, rev, err := s2.Get(ctx, "demo")
	if err != nil || rev != r1 || string(spec) != `{"v":1}` {
		t.Fatalf("Get = %s, %d, %v; want {\"v\":1}, %d", spec, rev, err, r1)
	}
	_, _, err = s1.Get(ctx, "nope")
	wantErr(t, "Get of a missing topology", err, ErrNotFound, s1)

	// Two writers read revision r1; the second to write loses.
	r2, err := s1.Put(ctx, "demo", []byte(`{"v":"a"}`), r1)
	if err != nil || r2 <= r1 {
		t.Fatalf("first Put: rev %d, %v", r2, err)
	}
	_, err = s2.Put(ctx, "demo", []byte(`{"v":"b"}`), r1)
	wantErr(t, "second Put on the same revision", err, ErrConflict, s2)
	if spec, _, _ := s2.Get(ctx, "demo"); string(spec) != `{"v":"a"}` {
		t.Fatalf("after the conflict: %s, want the first writer's", spec)
	}
	_, err = s2.Put(ctx, "demo", []byte(`{}`), 0)
	wantErr(t, "Put if absent on an existing topology", err, ErrConflict, s2)

	// Concurrent Updates through both stores: none is lost.
	if _, err := s1.Put(ctx, "demo", []byte(`[]`), r2); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		s := []*Store{s1, s2}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3 {
				item := fmt.Sprintf("w%d-%d", w, i)
				_, err := s.Update(ctx, "demo", func(b []byte) ([]byte, error) {
					var l []string
					if err := json.Unmarshal(b, &l); err != nil {
						return nil, err
					}
					return json.Marshal(append(l, item))
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Update: %v", err)
	}
	spec, rev, _ = s1.Get(ctx, "demo")
	var items []string
	json.Unmarshal(spec, &items)
	slices.Sort(items)
	if distinct := slices.Compact(slices.Clone(items)); len(items) != 24 || len(distinct) != 24 {
		t.Fatalf("after 24 concurrent updates: %d items, %d distinct: %v", len(items), len(distinct), items)
	}

	// Same bytes back: no write. fn's error comes back as is.
	if got, err := s1.Update(ctx, "demo", func(b []byte) ([]byte, error) { return b, nil }); err != nil || got != rev {
		t.Errorf("no-op Update: rev %d, %v; want %d (no write)", got, err, rev)
	}
	boom := errors.New("boom")
	if _, err := s1.Update(ctx, "demo", func(b []byte) ([]byte, error) { b[0] = 'x'; return nil, boom }); err != boom {
		t.Errorf("Update with a failing fn: err = %v, want boom itself", err)
	}
	if _, err := s1.Update(ctx, "nope", func(b []byte) ([]byte, error) { return b, nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update of a missing topology: %v", err)
	}

	if _, err := s1.Create(ctx, "abc", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if names, err := s2.Topologies(ctx); err != nil || !slices.Equal(names, []string{"abc", "demo"}) {
		t.Errorf("Topologies = %v, %v", names, err)
	}
	if err := s1.Delete(ctx, "abc"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, _, err = s1.Get(ctx, "abc")
	wantErr(t, "Get after Delete", err, ErrNotFound, s1)
	wantErr(t, "second Delete", s1.Delete(ctx, "abc"), ErrNotFound, s1)

	// Hostile names never reach etcd.
	for _, name := range []string{"", "../x", "a/b", "Demo", "x\x00", strings.Repeat("a", 13), "demo/../../machines/h"} {
		if _, err := s1.Create(ctx, name, []byte("x")); err == nil || !strings.Contains(err.Error(), "must match") {
			t.Errorf("Create(%q): err = %v, want a name error", name, err)
		}
		if _, err := s1.Put(ctx, name, []byte("x"), 0); err == nil {
			t.Errorf("Put(%q) succeeded", name)
		}
	}
	raw := c.Client()
	r, err := raw.Get(ctx, "\x00", clientv3.WithFromKey(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range r.Kvs {
		keys = append(keys, string(kv.Key))
	}
	if !slices.Equal(keys, []string{"/vpcnet/topologies/demo"}) {
		t.Errorf("keys in etcd: %q", keys)
	}
}

func TestWatchOrder(t *testing.T) {
	t.Parallel()
	c := etcdtest.StartLocal(t, 1)
	s := open(t, c, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	if _, ok := recv(t, s.Watch(ctx, "../x"), time.Second); ok {
		t.Errorf("Watch of an invalid name delivered an event")
	}
	ch := s.Watch(ctx, "w")
	first, ok := recv(t, ch, 5*time.Second)
	if !ok || !first.Deleted || first.Rev <= 0 {
		t.Fatalf("first event of an absent topology: %+v, %v; want Deleted", first, ok)
	}
	var want []Event
	rev, err := s.Create(ctx, "w", []byte("0"))
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, Event{Spec: []byte("0"), Rev: rev})
	for i := 1; i <= 5; i++ {
		spec := []byte(fmt.Sprint(i))
		if rev, err = s.Put(ctx, "w", spec, rev); err != nil {
			t.Fatal(err)
		}
		want = append(want, Event{Spec: spec, Rev: rev})
	}
	if err := s.Delete(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	want = append(want, Event{Deleted: true})
	if rev, err = s.Create(ctx, "w", []byte("again")); err != nil {
		t.Fatal(err)
	}
	want = append(want, Event{Spec: []byte("again"), Rev: rev})
	last := first.Rev
	for i, w := range want {
		got, ok := recv(t, ch, 5*time.Second)
		if !ok {
			t.Fatalf("event %d: none", i)
		}
		if got.Deleted != w.Deleted || string(got.Spec) != string(w.Spec) || (w.Rev != 0 && got.Rev != w.Rev) || got.Rev <= last {
			t.Fatalf("event %d = {%s %d %v}, want {%s %d %v} after rev %d", i, got.Spec, got.Rev, got.Deleted, w.Spec, w.Rev, w.Deleted, last)
		}
		last = got.Rev
	}
	cancel()
	for range ch {
	}
}

// TestWatchResyncAfterCompaction: a watch that must resume from a
// compacted revision re-reads the current value.
func TestWatchResyncAfterCompaction(t *testing.T) {
	t.Parallel()
	c := etcdtest.StartLocal(t, 1)
	s := open(t, c, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r1, err := s.Create(ctx, "c", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	rev := r1
	for _, v := range []string{"2", "3"} {
		if rev, err = s.Put(ctx, "c", []byte(v), rev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Client().Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	ch := make(chan Event)
	w := topoWatch{s: s, key: topoKey("c"), ch: ch, last: &Event{Spec: []byte("1"), Rev: r1}, from: r1 + 1}
	go func() { w.run(ctx); close(ch) }()
	if ev, ok := recv(t, ch, 5*time.Second); !ok || string(ev.Spec) != "3" || ev.Rev != rev {
		t.Fatalf("after compaction: %+v %v; want the current value 3 at %d", ev, ok, rev)
	}
	r4, err := s.Put(ctx, "c", []byte("4"), rev)
	if err != nil {
		t.Fatal(err)
	}
	if ev, ok := recv(t, ch, 5*time.Second); !ok || string(ev.Spec) != "4" || ev.Rev != r4 {
		t.Fatalf("after the resync: %+v %v; want 4 at %d", ev, ok, r4)
	}
}

// TestQuorum: with the leader of three killed the cluster serves writes;
// with two killed, calls fail with ErrUnavailable within the timeout.
func TestQuorum(t *testing.T) {
	t.Parallel()
	c := etcdtest.StartLocal(t, 3)
	const timeout = DefaultTimeout // room for an election under load
	s := open(t, c, timeout)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := s.Create(ctx, "q", []byte("0")); err != nil {
		t.Fatal(err)
	}
	ch := s.Watch(ctx, "q")
	if ev, ok := recv(t, ch, 5*time.Second); !ok || string(ev.Spec) != "0" {
		t.Fatalf("first event: %+v %v", ev, ok)
	}
	leader := c.Leader()
	if leader < 0 {
		t.Fatal("no leader")
	}
	c.Kill(leader)
	start := time.Now()
	rev, err := s.Update(ctx, "q", func([]byte) ([]byte, error) { return []byte("1"), nil })
	if err != nil {
		t.Fatalf("Update with the leader killed: %v", err)
	}
	t.Logf("first write after killing the leader took %v", time.Since(start))
	if ev, ok := recv(t, ch, 5*time.Second); !ok || string(ev.Spec) != "1" || ev.Rev != rev {
		t.Fatalf("watch after the leader was killed: %+v %v", ev, ok)
	}

	other := (leader + 1) % 3
	c.Kill(other)
	start = time.Now()
	_, err = s.Update(ctx, "q", func([]byte) ([]byte, error) { return []byte("2"), nil })
	took := time.Since(start)
	wantErr(t, "Update without a quorum", err, ErrUnavailable, s)
	if took > timeout+500*time.Millisecond {
		t.Errorf("Update without a quorum took %v, timeout %v", took, timeout)
	}
	t.Logf("without a quorum: %v after %v", err, took)

	c.Restart(other)
	if err := c.WaitHealthy(etcdtest.StartTimeout); err != nil {
		t.Fatal(err)
	}
	rev, err = s.Update(ctx, "q", func([]byte) ([]byte, error) { return []byte("3"), nil })
	if err != nil {
		t.Fatalf("Update with the quorum back: %v", err)
	}
	if ev, ok := recv(t, ch, 10*time.Second); !ok || string(ev.Spec) != "3" || ev.Rev != rev {
		t.Fatalf("watch with the quorum back: %+v %v", ev, ok)
	}
}

// TestOutage: every member killed. Calls fail fast with ErrUnavailable,
// the watch stays open, the lease is lost; after the restart the watch
// delivers the next change and the machine is registered again.
func TestOutage(t *testing.T) {
	t.Parallel()
	c := etcdtest.StartLocal(t, 3)
	const timeout = time.Second
	const ttl = 2 * time.Second
	s := open(t, c, timeout)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rev, err := s.Create(ctx, "o", []byte("before"))
	if err != nil {
		t.Fatal(err)
	}
	ch := s.Watch(ctx, "o")
	if ev, ok := recv(t, ch, 5*time.Second); !ok || string(ev.Spec) != "before" || ev.Rev != rev {
		t.Fatalf("first event: %+v %v", ev, ok)
	}
	reg, err := s.Register(ctx, Machine{Name: "h1", Underlay: netip.MustParseAddr("192.0.2.1"), PID: 7}, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Report(ctx, "o", "h1", Applied{Revision: rev, Instances: []string{"web"}}); err != nil {
		t.Fatal(err)
	}
	lease := reg.Lease()

	for i := range 3 {
		c.Kill(i)
	}
	down := time.Now()
	for _, call := range []struct {
		name string
		do   func() error
	}{
		{"Get", func() error { _, _, err := s.Get(ctx, "o"); return err }},
		{"Create", func() error { _, err := s.Create(ctx, "o2", []byte("x")); return err }},
		{"Machines", func() error { _, err := s.Machines(ctx); return err }},
	} {
		start := time.Now()
		err := call.do()
		took := time.Since(start)
		wantErr(t, call.name+" with etcd down", err, ErrUnavailable, s)
		if !strings.Contains(err.Error(), "is unreachable") {
			t.Errorf("%s: error %q does not say the store is unreachable", call.name, err)
		}
		if took > timeout+300*time.Millisecond {
			t.Errorf("%s with etcd down took %v, timeout %v", call.name, took, timeout)
		}
		t.Logf("%s with etcd down, after %v: %v", call.name, took, err)
	}
	// Down longer than the lease's TTL: the client gives the lease up.
	select {
	case ev, ok := <-ch:
		t.Fatalf("watch with etcd down: %+v, open %v; want nothing", ev, ok)
	case <-time.After(ttl + time.Second - time.Since(down)):
	}

	for i := range 3 {
		c.Restart(i)
	}
	if err := c.WaitHealthy(etcdtest.StartTimeout); err != nil {
		t.Fatal(err)
	}
	t.Logf("etcd back after %v", time.Since(down))
	var after int64
	eventually(t, 10*time.Second, "Update after the restart", func() error {
		after, err = s.Update(ctx, "o", func([]byte) ([]byte, error) { return []byte("after"), nil })
		return err
	})
	if ev, ok := recv(t, ch, 10*time.Second); !ok || string(ev.Spec) != "after" || ev.Rev != after {
		t.Fatalf("watch after the restart: %+v %v; want after at %d", ev, ok, after)
	}
	// The lease survives when the client had not given it up yet (etcd
	// restores leases with a fresh TTL); else the host registered again.
	eventually(t, 10*time.Second, "registered", func() error {
		ms, err := s.Machines(ctx)
		if err != nil || len(ms) != 1 || !ms[0].Alive {
			return fmt.Errorf("machines %+v, %v", ms, err)
		}
		a, err := s.Applied(ctx, "o")
		if err != nil || a["h1"].Revision != rev {
			return fmt.Errorf("applied %+v, %v", a, err)
		}
		return nil
	})
	t.Logf("lease %x before, %x after", lease, reg.Lease())
	// An old lease, restored by etcd with a fresh TTL, expires: it holds
	// nothing of h1's any more.
	time.Sleep(ttl + time.Second)
	ms, err := s.Machines(ctx)
	if err != nil || len(ms) != 1 || !ms[0].Alive {
		t.Fatalf("machines after the old lease's TTL: %+v, %v", ms, err)
	}
	if a, err := s.Applied(ctx, "o"); err != nil || len(a) != 1 {
		t.Fatalf("applied after the old lease's TTL: %+v, %v", a, err)
	}
}

func TestMachines(t *testing.T) {
	t.Parallel()
	c := etcdtest.StartLocal(t, 1)
	const ttl = 2 * time.Second
	a, b := open(t, c, 0), open(t, c, 0)
	ctx := context.Background()
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	wm := b.WatchMachines(wctx)
	if l, ok := recv(t, wm, 5*time.Second); !ok || len(l) != 0 {
		t.Fatalf("first machine list: %+v %v; want empty", l, ok)
	}

	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	started := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	m := Machine{Name: "h1", Underlay: netip.MustParseAddr("192.0.2.1"), PID: 42, Started: started}
	reg, err := a.Register(rctx, m, ttl)
	if err != nil {
		t.Fatal(err)
	}
	want := m
	want.Alive = true
	if ms, err := b.Machines(ctx); err != nil || !slices.Equal(ms, []Machine{want}) {
		t.Fatalf("Machines = %+v, %v; want %+v", ms, err, want)
	}
	if l, ok := recv(t, wm, 5*time.Second); !ok || !slices.Equal(l, []Machine{want}) {
		t.Fatalf("WatchMachines after Register: %+v %v", l, ok)
	}
	other := m
	other.Underlay = netip.MustParseAddr("192.0.2.2")
	_, err = b.Register(ctx, other, ttl)
	wantErr(t, "Register of a live host from another underlay", err, ErrExists, b)
	_, err = a.Register(ctx, m, ttl)
	wantErr(t, "second Register in one store", err, ErrExists, a)
	_, err = a.Register(ctx, Machine{Name: "../h", Underlay: m.Underlay}, ttl)
	if err == nil || !strings.Contains(err.Error(), "machine name") {
		t.Errorf("Register of a bad name: %v", err)
	}

	// Reports.
	err = a.Report(ctx, "t1", "h1", Applied{Revision: 1})
	wantErr(t, "Report on a missing topology", err, ErrNotFound, a)
	if _, err := a.Create(ctx, "t1", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	ap := Applied{Revision: 9, Instances: []string{"web", "db"}, Updated: started}
	if err := a.Report(ctx, "t1", "h1", ap); err != nil {
		t.Fatal(err)
	}
	if err := b.Report(ctx, "t1", "h1", ap); err == nil || !strings.Contains(err.Error(), "not registered by this store") {
		t.Errorf("Report from a store that did not register: %v", err)
	}
	got, err := b.Applied(ctx, "t1")
	if err != nil || len(got) != 1 || got["h1"].Revision != 9 || !slices.Equal(got["h1"].Instances, ap.Instances) || !got["h1"].Updated.Equal(started) {
		t.Fatalf("Applied = %+v, %v", got, err)
	}

	// The lease lost (as when this machine was cut off from etcd for
	// longer than the TTL): registered again under a new lease, with its
	// report.
	lease := reg.Lease()
	if _, err := c.Client().Revoke(ctx, clientv3.LeaseID(lease)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "registered again after the lease was lost", func() error {
		if reg.Lease() == lease {
			return errors.New("same lease")
		}
		ms, err := b.Machines(ctx)
		if err != nil || len(ms) != 1 || !ms[0].Alive {
			return fmt.Errorf("machines %+v, %v", ms, err)
		}
		if got, err := b.Applied(ctx, "t1"); err != nil || got["h1"].Revision != 9 {
			return fmt.Errorf("applied %+v, %v", got, err)
		}
		return nil
	})
	// WatchMachines may or may not have seen h1 gone for a moment.
	for {
		l, ok := recv(t, wm, 500*time.Millisecond)
		if !ok {
			break
		}
		if len(l) != 1 || l[0].Name != "h1" {
			t.Fatalf("WatchMachines while h1 registered again: %+v", l)
		}
	}

	// The holder leaves: revoked at once.
	rcancel()
	select {
	case <-reg.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("registration did not end with its context")
	}
	want.Alive = false
	if ms, err := b.Machines(ctx); err != nil || !slices.Equal(ms, []Machine{want}) {
		t.Fatalf("Machines after leaving = %+v, %v; want %+v", ms, err, want)
	}
	if got, err := b.Applied(ctx, "t1"); err != nil || len(got) != 0 {
		t.Errorf("Applied after leaving = %+v, %v; want none", got, err)
	}
	if l, ok := recv(t, wm, 5*time.Second); !ok || !slices.Equal(l, []Machine{want}) {
		t.Fatalf("WatchMachines after leaving: %+v %v", l, ok)
	}

	// A crash (the store closes without revoking): gone after the TTL.
	crash := open(t, c, 0)
	m2 := Machine{Name: "h2", Underlay: netip.MustParseAddr("192.0.2.3"), PID: 43}
	if _, err := crash.Register(ctx, m2, ttl); err != nil {
		t.Fatal(err)
	}
	if l, ok := recv(t, wm, 5*time.Second); !ok || len(l) != 2 || !l[1].Alive {
		t.Fatalf("WatchMachines after h2: %+v %v", l, ok)
	}
	crash.Close()
	closed := time.Now()
	if ms, _ := b.Machines(ctx); len(ms) != 2 || !ms[1].Alive {
		t.Fatalf("h2 not alive right after the crash: %+v", ms)
	}
	l, ok := recv(t, wm, ttl+3*time.Second)
	took := time.Since(closed)
	if !ok || len(l) != 2 || l[1].Name != "h2" || l[1].Alive {
		t.Fatalf("WatchMachines after the crash: %+v %v", l, ok)
	}
	if took < ttl/2 || took > ttl+2*time.Second {
		t.Errorf("h2 gone %v after the crash, TTL %v", took, ttl)
	}
	t.Logf("h2 not alive %v after its store closed (TTL %v)", took, ttl)

	// Forget.
	if err := b.Forget(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "second Forget", b.Forget(ctx, "h1"), ErrNotFound, b)
	if ms, err := b.Machines(ctx); err != nil || len(ms) != 1 || ms[0].Name != "h2" {
		t.Fatalf("Machines after Forget: %+v, %v", ms, err)
	}
	live, err := a.Register(ctx, Machine{Name: "h3", Underlay: netip.MustParseAddr("192.0.2.4")}, ttl)
	if err != nil {
		t.Fatal(err)
	}
	_ = live
	wantErr(t, "Forget of a live host", b.Forget(ctx, "h3"), ErrExists, b)
}

func TestOpenDoesNotWait(t *testing.T) {
	// No etcd at all: a dialer that always fails, so nothing is dialled
	// for real.
	s, err := Open("etcd://192.0.2.1:2379", Options{Timeout: 300 * time.Millisecond, Dial: failDial})
	if err != nil {
		t.Fatalf("Open with etcd down: %v", err)
	}
	defer s.Close()
	start := time.Now()
	_, _, err = s.Get(context.Background(), "x")
	wantErr(t, "Get", err, ErrUnavailable, s)
	if !strings.Contains(err.Error(), "no route (test)") || time.Since(start) > time.Second {
		t.Errorf("Get with etcd down, after %v: %v; want the dial error within the timeout", time.Since(start), err)
	}
	if _, err := Open("http://x:1", Options{}); err == nil || !strings.Contains(err.Error(), "settings.store") {
		t.Errorf("Open of a bad URL: %v", err)
	}
	// Calls after Close fail at once.
	s.Close()
	if _, _, err := s.Get(context.Background(), "x"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Get after Close: %v", err)
	}
}
