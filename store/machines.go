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
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Machine is one machine that runs (or ran) an agent.
type Machine struct {
	Name     string // host name, as in topo.json placement
	Underlay netip.Addr
	PID      int
	Started  time.Time // whole seconds
	// Alive: the machine's lease holds (its agent renews it). A machine
	// not alive is one that registered once and has not left for good
	// (Forget).
	Alive bool
}

// machineJSON is the value of /vpcnet/machines/<host> and /vpcnet/hosts/<host>.
type machineJSON struct {
	Underlay string `json:"underlay"`
	PID      int    `json:"pid"`
	Started  string `json:"started"` // RFC 3339
}

// Applied is what an agent reports it has applied of a topology.
type Applied struct {
	Revision  int64     `json:"revision"`  // the topology's revision it runs
	Instances []string  `json:"instances"` // the instances it runs
	Updated   time.Time `json:"updated"`
}

// Registration is a machine's presence in the store: its key under a lease
// that a goroutine renews. It ends when Register's context ends (the lease
// is revoked: the machine is at once not Alive) or when the Store closes
// (the lease expires after its TTL, as on a crash).
type Registration struct {
	s    *Store
	host string
	val  string // machineJSON
	ttl  int64  // seconds
	done chan struct{}
	id   atomic.Int64 // the current lease, for Lease

	// mu is held across every write under the lease and across the lease's
	// replacement, so no write lands on a lease being replaced.
	mu      sync.Mutex
	lease   clientv3.LeaseID   // guarded by mu
	reports map[string]Applied // by topology, guarded by mu: written again under a new lease
}

// Lease returns the current lease's ID; it changes when the registration
// was lost (etcd unreachable longer than the TTL) and made again.
func (r *Registration) Lease() int64 { return r.id.Load() }

// Done is closed once the registration has ended.
func (r *Registration) Done() <-chan struct{} { return r.done }

// Register puts machine m under a lease of ttl (whole seconds, at least 1)
// and keeps the lease alive in the background. Should the lease be lost
// (etcd unreachable longer than ttl) it registers again once etcd is back,
// with its reports. A host held alive by another underlay is ErrExists;
// the same underlay takes it over (the agent restarted before its old
// lease expired). The first registration happens before Register returns:
// its error is Register's. Zero m.Started is now.
func (s *Store) Register(ctx context.Context, m Machine, ttl time.Duration) (*Registration, error) {
	op := "register host " + m.Name
	if err := checkHost(m.Name); err != nil {
		return nil, s.errorf("register host", err)
	}
	if !m.Underlay.IsValid() {
		return nil, s.errorf(op, errors.New("no underlay address"))
	}
	if ttl < time.Second {
		return nil, s.errorf(op, fmt.Errorf("lease TTL %v: want at least 1s", ttl))
	}
	if m.Started.IsZero() {
		m.Started = time.Now()
	}
	val, _ := json.Marshal(machineJSON{Underlay: m.Underlay.String(), PID: m.PID, Started: m.Started.UTC().Format(time.RFC3339)})
	r := &Registration{s: s, host: m.Name, val: string(val), ttl: int64((ttl + time.Second - 1) / time.Second),
		done: make(chan struct{}), reports: map[string]Applied{}}
	s.mu.Lock()
	if s.regs[m.Name] != nil {
		s.mu.Unlock()
		return nil, s.errorf(op, fmt.Errorf("%w: this store registers it already", ErrExists))
	}
	s.regs[m.Name] = r
	s.mu.Unlock()
	forget := func() {
		s.mu.Lock()
		if s.regs[m.Name] == r {
			delete(s.regs, m.Name)
		}
		s.mu.Unlock()
	}
	r.mu.Lock()
	err := r.register(ctx)
	r.mu.Unlock()
	if err != nil {
		forget()
		return nil, err
	}
	kctx, done, ok := s.spawn(ctx)
	if !ok {
		forget()
		return nil, s.errorf(op, errClosed)
	}
	go func() {
		defer done()
		defer close(r.done)
		defer forget()
		r.keep(kctx)
	}()
	return r, nil
}

// register grants a lease, claims the machine's key with it and writes the
// reports again. The caller holds r.mu.
func (r *Registration) register(ctx context.Context) error {
	s := r.s
	op := "register host " + r.host
	var id clientv3.LeaseID
	err := s.call(ctx, op+": grant lease", func(ctx context.Context) error {
		g, err := s.cli.Grant(ctx, r.ttl)
		if err == nil {
			id = g.ID
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := s.call(ctx, op, func(ctx context.Context) error { return r.claim(ctx, id) }); err != nil {
		r.revoke(id)
		return err
	}
	old := r.lease
	r.lease = id
	r.id.Store(int64(id))
	if old != 0 {
		// Only reports it no longer holds: those of deleted topologies.
		defer r.revoke(old)
	}
	for topo, a := range r.reports {
		err := s.call(ctx, op+": report "+topo, func(ctx context.Context) error { return r.putReport(ctx, topo, a) })
		if errors.Is(err, ErrNotFound) {
			delete(r.reports, topo)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// claim puts the machine's keys under lease id unless another underlay
// holds the host alive.
func (r *Registration) claim(ctx context.Context, id clientv3.LeaseID) error {
	s := r.s
	op := "register host " + r.host
	k := machineKey(r.host)
	g, err := s.cli.Get(ctx, k)
	if err != nil {
		return err
	}
	var rev int64
	if len(g.Kvs) > 0 {
		var cur, mine machineJSON
		json.Unmarshal([]byte(r.val), &mine)
		if json.Unmarshal(g.Kvs[0].Value, &cur) == nil && cur.Underlay != mine.Underlay {
			return s.errorf(op, fmt.Errorf("%w: host %s is alive at underlay %s (pid %d)", ErrExists, r.host, cur.Underlay, cur.PID))
		}
		rev = g.Kvs[0].ModRevision
	}
	t, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), "=", rev)).
		Then(clientv3.OpPut(k, r.val, clientv3.WithLease(id)), clientv3.OpPut(hostKey(r.host), r.val)).Commit()
	if err != nil {
		return err
	}
	if !t.Succeeded {
		return s.errorf(op, fmt.Errorf("%w: another agent registered host %s meanwhile", ErrConflict, r.host))
	}
	return nil
}

// keep renews the lease until ctx ends, and registers again when it is
// lost. When the caller's context ended (not the Store), it revokes.
func (r *Registration) keep(ctx context.Context) {
	s := r.s
	var b backoff
	for ctx.Err() == nil {
		began := time.Now()
		if ka, err := s.cli.KeepAlive(ctx, clientv3.LeaseID(r.id.Load())); err == nil {
			for range ka {
				// The client closes ka when ctx ends, or when no renewal
				// succeeded for the TTL: the lease is lost.
			}
		}
		if time.Since(began) > time.Duration(r.ttl)*time.Second {
			b.reset()
		}
		for {
			// Also when KeepAlive failed at once: never a tight loop.
			if !b.wait(ctx) {
				break
			}
			r.mu.Lock()
			err := r.register(ctx)
			r.mu.Unlock()
			if err == nil {
				break
			}
		}
	}
	if s.ctx.Err() == nil {
		r.mu.Lock()
		r.revoke(r.lease)
		r.mu.Unlock()
	}
}

// revoke ends a lease, best effort: a lease left expires after its TTL.
func (r *Registration) revoke(id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.Background(), r.s.timeout)
	defer cancel()
	r.s.cli.Revoke(ctx, id)
}

// putReport writes a report under the current lease if the topology
// exists. The caller holds r.mu.
func (r *Registration) putReport(ctx context.Context, topo string, a Applied) error {
	s := r.s
	op := fmt.Sprintf("report %s on %s", topo, r.host)
	b, err := json.Marshal(a)
	if err != nil {
		return s.errorf(op, err)
	}
	t, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(topoKey(topo)), ">", 0)).
		Then(clientv3.OpPut(appliedKey(topo, r.host), string(b), clientv3.WithLease(r.lease))).Commit()
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return &opError{url: s.url, op: op, unavailable: true,
			err: fmt.Errorf("the machine's lease expired (etcd unreachable longer than its TTL); it is written again once %s is registered again", r.host)}
	}
	if err != nil {
		return err
	}
	if !t.Succeeded {
		return s.errorf(op, fmt.Errorf("topology %s: %w", topo, ErrNotFound))
	}
	return nil
}

// Report records what host has applied of topo, under the lease of the
// host's registration made by this Store; it disappears with the lease,
// and with the topology. Zero a.Updated is now.
func (s *Store) Report(ctx context.Context, topo, host string, a Applied) error {
	op := fmt.Sprintf("report %s on %s", topo, host)
	if err := checkTopo(topo); err != nil {
		return s.errorf("report", err)
	}
	if err := checkHost(host); err != nil {
		return s.errorf("report", err)
	}
	s.mu.Lock()
	r := s.regs[host]
	s.mu.Unlock()
	if r == nil {
		return s.errorf(op, fmt.Errorf("host %s is not registered by this store (Register first)", host))
	}
	if a.Updated.IsZero() {
		a.Updated = time.Now().UTC()
	}
	a.Instances = slices.Clone(a.Instances)
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.done:
		return s.errorf(op, fmt.Errorf("the registration of %s has ended", host))
	default:
	}
	err := s.call(ctx, op, func(ctx context.Context) error { return r.putReport(ctx, topo, a) })
	if errors.Is(err, ErrNotFound) {
		delete(r.reports, topo)
	} else {
		r.reports[topo] = a
	}
	return err
}

// Applied returns the reports on a topology, by host.
func (s *Store) Applied(ctx context.Context, topo string) (map[string]Applied, error) {
	op := "read reports on " + topo
	if err := checkTopo(topo); err != nil {
		return nil, s.errorf("read reports", err)
	}
	var out map[string]Applied
	err := s.call(ctx, op, func(ctx context.Context) error {
		g, err := s.cli.Get(ctx, appliedDir(topo), clientv3.WithPrefix())
		if err != nil {
			return err
		}
		out = make(map[string]Applied, len(g.Kvs))
		for _, kv := range g.Kvs {
			host := strings.TrimPrefix(string(kv.Key), appliedDir(topo))
			if checkHost(host) != nil {
				continue
			}
			var a Applied
			if json.Unmarshal(kv.Value, &a) != nil {
				continue // not a report of ours: one bad key must not hide the others
			}
			out[host] = a
		}
		return nil
	})
	return out, err
}

// Machines lists every machine that registered and was not forgotten,
// sorted by name; Alive when its lease holds.
func (s *Store) Machines(ctx context.Context) ([]Machine, error) {
	ms, _, err := s.machines(ctx)
	return ms, err
}

// machines reads both prefixes in one transaction (one revision), and
// returns that revision.
func (s *Store) machines(ctx context.Context) ([]Machine, int64, error) {
	const op = "list machines"
	var out []Machine
	var rev int64
	err := s.call(ctx, op, func(ctx context.Context) error {
		t, err := s.cli.Txn(ctx).Then(clientv3.OpGet(hostsPrefix, clientv3.WithPrefix()), clientv3.OpGet(machinesPrefix, clientv3.WithPrefix())).Commit()
		if err != nil {
			return err
		}
		rev = t.Header.Revision
		byName := map[string]Machine{}
		for i, prefix := range []string{hostsPrefix, machinesPrefix} {
			for _, kv := range t.Responses[i].GetResponseRange().GetKvs() {
				name := strings.TrimPrefix(string(kv.Key), prefix)
				if checkHost(name) != nil {
					continue
				}
				var j machineJSON
				if json.Unmarshal(kv.Value, &j) != nil {
					continue // not a record of ours: one bad key must not hide every machine
				}
				m := Machine{Name: name, PID: j.PID, Alive: prefix == machinesPrefix}
				m.Underlay, _ = netip.ParseAddr(j.Underlay)
				m.Started, _ = time.Parse(time.RFC3339, j.Started)
				byName[name] = m // the live key over the record
			}
		}
		out = out[:0]
		for _, m := range byName {
			out = append(out, m)
		}
		slices.SortFunc(out, func(a, b Machine) int { return strings.Compare(a.Name, b.Name) })
		return nil
	})
	return out, rev, err
}

// Forget removes a machine that is not alive from Machines for good;
// ErrNotFound when unknown, ErrExists while it is alive.
func (s *Store) Forget(ctx context.Context, host string) error {
	op := "forget host " + host
	if err := checkHost(host); err != nil {
		return s.errorf("forget host", err)
	}
	return s.call(ctx, op, func(ctx context.Context) error {
		t, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(machineKey(host)), "=", 0)).
			Then(clientv3.OpDelete(hostKey(host))).Commit()
		if err != nil {
			return err
		}
		if !t.Succeeded {
			return s.errorf(op, fmt.Errorf("%w: host %s is alive", ErrExists, host))
		}
		if t.Responses[0].GetResponseDeleteRange().Deleted == 0 {
			return s.errorf(op, ErrNotFound)
		}
		return nil
	})
}

// WatchMachines sends the full list of Machines first and after every
// change (a machine registered, lost, gone), with Watch's behaviour while
// etcd is down. The channel closes when ctx ends or the Store closes.
func (s *Store) WatchMachines(ctx context.Context) <-chan []Machine {
	ch := make(chan []Machine)
	ctx, done, ok := s.spawn(ctx)
	if !ok {
		close(ch)
		return ch
	}
	go func() {
		defer done()
		defer close(ch)
		s.watchMachines(ctx, ch)
	}()
	return ch
}

func (s *Store) watchMachines(ctx context.Context, ch chan<- []Machine) {
	var last []Machine
	sent := false
	var b backoff
	for {
		ms, rev, err := s.machines(ctx)
		if err != nil {
			if !b.wait(ctx) {
				return
			}
			continue
		}
		b.reset()
		if !sent || !slices.Equal(ms, last) {
			select {
			case ch <- slices.Clone(ms):
			case <-ctx.Done():
				return
			}
			last, sent = ms, true
		}
		// Wait for any change under either prefix after rev, then read
		// the whole list again.
		if !s.waitChange(ctx, rev+1, hostsPrefix, machinesPrefix) && !b.wait(ctx) {
			return
		}
	}
}

// waitChange returns true on the first event under any of the prefixes
// from revision from on, false when the watch failed or ctx ended (the
// client itself rides out etcd being down).
func (s *Store) waitChange(ctx context.Context, from int64, prefixes ...string) bool {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	changed := make(chan bool, len(prefixes))
	for _, p := range prefixes {
		go func() {
			for resp := range s.cli.Watch(wctx, p, clientv3.WithPrefix(), clientv3.WithRev(from)) {
				if resp.Err() != nil || resp.CompactRevision != 0 {
					changed <- false
					return
				}
				if len(resp.Events) > 0 {
					changed <- true
					return
				}
			}
			changed <- false
		}()
	}
	select {
	case ok := <-changed:
		return ok
	case <-wctx.Done():
		return false
	}
}
