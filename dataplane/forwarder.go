package dataplane

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpcnet/vpcnet/dataplane/policy"
	"github.com/vpcnet/vpcnet/nat"
	"github.com/vpcnet/vpcnet/topology"
)

// Options tune the forwarder.
type Options struct {
	ConntrackMax int // bound on tracked flows across all ENIs (SG-4); 0: default
	// BusyPoll is how long a poll loop keeps looking for frames after the
	// last one before it sleeps (settings.busy_poll_us); 0 sleeps at once.
	BusyPoll time.Duration
	// Machine is the machine this forwarder runs on when the network is
	// spread over several (issue 16, tunnel.go); "" on a single machine.
	Machine string
}

// Forwarder is the userspace VPC: one worker per port (per queue of a
// multi-queue port) runs the pipeline of forward.go. The workers of TAP
// queues are served by the poll loops (poll_linux.go), one batch per queue
// per round, so a flooded port cannot starve the others; any other port
// (a FakePort in tests) gets a goroutine of its own. Configuration is an
// immutable snapshot swapped atomically by Apply, so changes never pause
// traffic.
//
// Goroutines: the poll loops start with the first TAP and end in Stop;
// AttachPort starts a goroutine for a port that is not pollable, which
// stops when its port is closed. Stop closes every port and waits until
// every worker is retired.
type Forwarder struct {
	cfg    atomic.Pointer[config]
	stages [numStages]atomic.Uint64

	mu   sync.Mutex // guards st, net and the worker set
	st   *state
	net  *topology.Network
	wg   sync.WaitGroup
	stop chan struct{} // closed by Stop: ends the sweeper and the flow-log writer
	once sync.Once

	flowLog *flowLog // every flow log's records and files (flowlog.go, flowsinks.go)
	logWG   sync.WaitGroup
	flowDir string // folder of CreateFlowLogs's files ("": none written yet); guarded by mu

	loops  *pollLoops           // nil until the first pollable port; guarded by mu
	polled map[string][]*polled // port id → its queues in the loops; guarded by mu

	taps     atomic.Pointer[tapSet] // running captures' taps (capture.go); nil: none
	captures map[*Capture]bool      // guarded by mu
	beating  bool                   // the heartbeat sender runs (tunnel.go); guarded by mu
}

// sweepEvery is how often expired tracked flows and NAT mappings are
// reclaimed (they also expire lazily on their next packet).
const sweepEvery = 5 * time.Second

// New compiles n into a forwarder with no ports yet.
func New(n *topology.Network, opts Options) *Forwarder {
	f := &Forwarder{net: n, st: &state{
		enis: map[string]*eniState{}, hosts: map[string]*counters{}, nats: map[string]*nat.Gateway{},
		ports: map[string]Port{}, groups: policy.NewGroups(), gids: map[string]policy.GroupID{},
		table: policy.NewTable(opts.ConntrackMax), opts: opts,
		tunnels: map[TunnelKey]Port{}, peers: map[string]*peerState{},
	}}
	f.cfg.Store(f.st.compile(n))
	f.stop = make(chan struct{})
	f.wg.Add(1)
	go f.sweeper()
	f.flowLog = newFlowLogs(n.AccountID())
	f.logWG.Add(1)
	go f.flowLogWriter()
	return f
}

// sweeper reclaims expired flows and mappings until Stop.
func (f *Forwarder) sweeper() {
	defer f.wg.Done()
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		now := clock()
		f.mu.Lock()
		for _, es := range f.st.enis {
			if es.tracker != nil {
				es.tracker.Sweep(now)
			}
		}
		for _, gw := range f.st.nats {
			gw.Sweep(now)
		}
		f.mu.Unlock()
	}
}

// AttachPort gives the forwarder the port of an ENI (by id) or an internet
// host (by name) and starts its worker. The forwarder owns the port from
// then on and closes it in Stop or DetachPort.
func (f *Forwarder) AttachPort(id string, p Port) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.ports[id] = p
	f.cfg.Store(f.st.compile(f.net))
	readers := []Port{p}
	if mq, ok := p.(multiQueue); ok {
		if qs := mq.Queues(); len(qs) > 0 {
			readers = qs
		}
	}
	for q, r := range readers {
		w := &worker{f: f, port: r, id: id, queue: q}
		w.flows = f.flowLog.table()
		n := r.BatchSize()
		w.bufs = make([][]byte, n)
		w.sizes = make([]int, n)
		for i := range w.bufs {
			w.bufs[i] = make([]byte, MaxFrame)
		}
		f.wg.Add(1)
		if pr, ok := r.(pollable); ok && f.startLoops() {
			if pq, err := f.loops.add(w, pr); err == nil {
				f.polled[id] = append(f.polled[id], pq)
				continue
			}
		}
		go w.run()
	}
}

// startLoops starts the poll loops, one per P, unless they run already. It
// reports whether they run. Call it with mu held.
func (f *Forwarder) startLoops() bool {
	if f.loops == nil {
		l, err := startPollLoops(runtime.GOMAXPROCS(0), busyPollWindow(f.st.opts.BusyPoll))
		if err != nil {
			return false
		}
		f.loops, f.polled = l, map[string][]*polled{}
	}
	return true
}

// closedPolled tells the loops that the queues of port id are closed. Call
// it with mu held, after the port's Close has returned.
func (f *Forwarder) closedPolled(id string) {
	for _, pq := range f.polled[id] {
		pq.closed()
	}
	delete(f.polled, id)
}

// retire ends the worker of a closed queue that the loops served: its
// flow-log records go out with the next window. It runs once per queue.
func (f *Forwarder) retire(pq *polled) {
	f.loops.remove(pq)
	pq.w.closeWrites()
	if pq.w.flows != nil {
		f.flowLog.retire(pq.w.flows)
	}
	f.wg.Done()
}

// multiQueue is a port with several queues, each read by its own worker
// (a multi-queue TAP). Closing the port closes them all.
type multiQueue interface {
	Queues() []Port
}

// queueWriter is a multi-queue port that writes on a chosen queue. A worker
// that read a frame from queue q delivers it on queue q of the next device:
// the device's kernel remembers the queue a flow arrived on and sends the
// flow's replies from that queue (tun flow steering), so each flow stays on
// one worker in both directions while different flows spread over cores.
type queueWriter interface {
	WriteQueue(q int, bufs [][]byte, offset int) (int, error)
}

// DetachPort closes and forgets the port of id.
func (f *Forwarder) DetachPort(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.st.ports[id]; p != nil {
		// The device goes with the port: keep what its kernel dropped.
		if n := queueDrops(p); n > 0 {
			if c := f.cfg.Load().countersOf(id); c != nil {
				c.drops[dropPortQueueFull].Add(n)
			}
		}
		p.Close()
		f.closedPolled(id)
		delete(f.st.ports, id)
		f.cfg.Store(f.st.compile(f.net))
	}
}

// Apply swaps in a new network. Tracked flows, NAT mappings and counters of
// ENIs that remain are kept (SG-5); those of deleted ENIs are freed.
func (f *Forwarder) Apply(n *topology.Network) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.net = n
	old := f.cfg.Load()
	f.cfg.Store(f.st.compile(n))
	f.st.forgetDeleted(n)
	f.syncFlowLogs(old.enis)
}

// StartFlowLogs turns on topo.json's flow_logs (OBS-1, flowlog.go): every
// ENI's records, written to fl.Path at the end of every aggregation window
// and when the forwarder stops. Call it before the first AttachPort.
func (f *Forwarder) StartFlowLogs(fl *topology.FlowLogs, account string) error {
	g, err := openFlowLog(fl.Path, account)
	if err != nil {
		return err
	}
	s := g.sinks[0]
	s.every = int64(fl.AggregationSeconds)
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.flowLog
	l.mu.Lock()
	l.account = account
	l.sinks = append([]*flowSink{s}, l.sinks...)
	l.mu.Unlock()
	f.st.flowAll = true
	f.cfg.Store(f.st.compile(f.net))
	return nil
}

// FlushFlowLogs ends the current flow-log window now (tests, and Stop).
func (f *Forwarder) FlushFlowLogs() error {
	return f.flowLog.flush(f.cfg.Load().enis, time.Now())
}

// Stop closes every port and waits until all workers have returned.
func (f *Forwarder) Stop() {
	f.once.Do(func() { close(f.stop) })
	f.mu.Lock()
	// In parallel: closing a TAP waits for an RCU grace period in the
	// kernel (tens of ms), and 100 of them one after the other take seconds.
	var closing sync.WaitGroup
	for id, p := range f.st.ports {
		closing.Go(func() { p.Close() })
		delete(f.st.ports, id)
	}
	closing.Wait()
	for id := range f.polled {
		f.closedPolled(id)
	}
	loops := f.loops
	f.mu.Unlock()
	f.wg.Wait() // the loops retire the queues they own
	if loops != nil {
		loops.stop()
	}
	f.logWG.Wait()
	if err := f.FlushFlowLogs(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	f.flowLog.close() // later flushes do nothing
}

// run reads batches until the port closes.
func (w *worker) run() {
	defer w.f.wg.Done()
	defer w.closeWrites()
	if w.flows != nil {
		defer w.f.flowLog.retire(w.flows)
	}
	for {
		n, err := w.port.Read(w.bufs, w.sizes, 0)
		if err != nil {
			if errors.Is(err, ErrClosed) {
				return
			}
			// A transient read error: count it and go on.
			w.dropIn(w.f.cfg.Load(), dropShort)
			continue
		}
		cfg := w.f.cfg.Load()
		w.now = clock()
		for i := 0; i < n; i++ {
			w.handle(cfg, w.bufs[i][:w.sizes[i]])
		}
		w.endBatch()
	}
}

// Stats is a snapshot of every counter.
type Stats struct {
	Endpoints []EndpointStats      `json:"endpoints"`
	Stages    map[string]uint64    `json:"stages"`
	NAT       map[string]nat.Stats `json:"nat_gateways,omitempty"`
	Conntrack ConntrackStats       `json:"conntrack"`
}

// ConntrackStats describes the bounded flow table (SG-4) and how it is
// shared (SG-10).
type ConntrackStats struct {
	Flows   int            `json:"flows"`
	Max     int            `json:"max"`
	Refused uint64         `json:"refused_table_full"`
	Evicted uint64         `json:"evicted"`       // live flows evicted to make room, half-open first
	Share   int            `json:"share_per_eni"` // each ENI's fair share now: max / ENIs holding flows
	ENIs    []ENIConntrack `json:"enis,omitempty"`
}

// ENIConntrack is one ENI's part of the table (SG-10).
type ENIConntrack struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Flows   int    `json:"flows"`
	Evicted uint64 `json:"evicted"` // its live flows evicted to make room
}

// Stats returns the counters of every ENI, host, stage and NAT gateway.
func (f *Forwarder) Stats() Stats {
	cfg := f.cfg.Load()
	tb := f.st.table
	s := Stats{Stages: map[string]uint64{}, Conntrack: ConntrackStats{
		Flows: tb.Len(), Max: tb.Max(), Refused: tb.Refused(), Evicted: tb.Evictions(), Share: tb.Share()}}
	for i := range f.stages {
		s.Stages[stageNames[i]] = f.stages[i].Load()
	}
	for _, e := range cfg.enis {
		kind := "eni"
		if e.nat != nil {
			kind = "nat-eni"
		}
		s.Endpoints = append(s.Endpoints, withQueueDrops(e.st.ctr.snapshot(e.name, e.id, kind), e.port))
	}
	for _, h := range cfg.hostByName {
		s.Endpoints = append(s.Endpoints, withQueueDrops(h.ctr.snapshot(h.name, h.ip.String(), h.kind()), h.port))
	}
	for _, sv := range cfg.svcByID {
		s.Endpoints = append(s.Endpoints, withQueueDrops(sv.ctr.snapshot(sv.id, sv.dns.String(), "vpc-services"), sv.port))
	}
	seen := map[*peerState]bool{}
	for _, t := range cfg.tunnels { // one entry per machine, all its VNIs together
		if !seen[t.peer] {
			seen[t.peer] = true
			s.Endpoints = append(s.Endpoints, t.peer.ctr.snapshot("tunnel:"+t.peer.name, t.peer.name, "peer-machine"))
		}
	}
	sort.SliceStable(s.Endpoints, func(i, j int) bool { return s.Endpoints[i].Name < s.Endpoints[j].Name })
	for _, e := range cfg.enis {
		if t := e.st.tracker; t != nil {
			s.Conntrack.ENIs = append(s.Conntrack.ENIs, ENIConntrack{Name: e.name, ID: e.id, Flows: t.Len(), Evicted: t.Evicted()})
		}
	}
	sort.Slice(s.Conntrack.ENIs, func(i, j int) bool { return s.Conntrack.ENIs[i].Name < s.Conntrack.ENIs[j].Name })
	for _, e := range cfg.enis {
		if e.nat != nil {
			if s.NAT == nil {
				s.NAT = map[string]nat.Stats{}
			}
			s.NAT[e.nat.id] = e.nat.gw.Stats()
		}
	}
	return s
}

// queueDrops returns what p's kernel dropped because the queue toward the
// forwarder was full, or 0 when p cannot tell (closed, or not a TAP).
func queueDrops(p Port) uint64 {
	qd, ok := p.(queueDropper)
	if !ok {
		return 0
	}
	n, err := qd.QueueDrops()
	if err != nil {
		return 0
	}
	return n
}

// withQueueDrops adds the live kernel count of port p to es as the drop
// port-queue-full; counts of the ENI's earlier devices are already in es.
func withQueueDrops(es EndpointStats, p Port) EndpointStats {
	if n := queueDrops(p); n > 0 {
		if es.Drops == nil {
			es.Drops = map[string]uint64{}
		}
		es.Drops[dropPortQueueFull.String()] += n
	}
	return es
}

// busyPollWindow is the poll loops' spin window: d (settings.busy_poll_us),
// or VPCNET_BUSYPOLL (microseconds) when set, a lab override that lets a
// bench compare windows without editing its topology (issue 15).
func busyPollWindow(d time.Duration) time.Duration {
	if v, ok := os.LookupEnv("VPCNET_BUSYPOLL"); ok {
		if us, err := strconv.Atoi(v); err == nil && us >= 0 && us <= 100000 {
			return time.Duration(us) * time.Microsecond
		}
	}
	return d
}
