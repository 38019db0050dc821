package dataplane

// Flow logs (OBS-1): one record per flow, per aggregation window, per ENI,
// in the default version 2 format:
//
//	version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
//
// A flow is the 5-tuple as the ENI sees it (private addresses; a reply is a
// flow of its own) together with the action: ACCEPT when the ENI's security
// groups and its subnet's network ACL let the frame through on that side,
// REJECT when one of them dropped it. The sender's record is made where the
// frame leaves its subnet (or reaches a same-subnet receiver), the
// receiver's where it is delivered, so a frame the receiver refuses is
// ACCEPT at the sender and REJECT at the receiver, as on AWS. Packets and
// bytes count wire segments: a GSO super-frame of 45 segments counts 45
// packets and the bytes of 45 IP packets. An ENI that saw nothing in a
// window gets a NODATA record; one whose records did not fit (flowTableMax
// flows per worker per window) gets SKIPDATA.
//
// Each worker keeps its own table, so the per-packet cost is an
// uncontended lock and a lookup in a table sized up front: no allocation.
// The writer swaps the tables at the end of each window and writes them out.

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

// flowTableMax bounds the flows one worker records in one window.
const flowTableMax = 4096

// flowLogHeader is the first line of a new flow-log file, as in the files
// AWS delivers to S3.
const flowLogHeader = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"

type flowKey struct {
	eni          *eniState
	src, dst     [4]byte
	sport, dport uint16
	proto        uint8
	reject       bool
}

type flowVal struct {
	packets, bytes uint64
	start, end     int64 // Unix seconds of the first and last packet in the window
}

// flowTable is one worker's records of the current window.
type flowTable struct {
	mu    sync.Mutex
	flows map[flowKey]flowVal
	spare map[flowKey]flowVal // swapped in by the writer
}

func newFlowTable() *flowTable { return newFlowTableSized(flowTableMax) }

// newFlowTableSized is a table whose maps are made for n flows: a worker
// that nothing logs yet starts with 0 and grows only once a flow log
// covers its ENI.
func newFlowTableSized(n int) *flowTable {
	return &flowTable{flows: make(map[flowKey]flowVal, n), spare: make(map[flowKey]flowVal, n)}
}

// flowLog gathers the records of every worker's table and hands them to
// its sinks: the file of topo.json's flow_logs (id "", every ENI, both
// actions) and the flow logs of CreateFlowLogs (flowsinks.go), each with
// its own ENIs, actions, file and window.
type flowLog struct {
	account string

	mu      sync.Mutex // guards the fields below
	tables  []*flowTable
	retired []*flowTable // of workers that ended: flushed once more, then dropped
	sinks   []*flowSink
	closed  bool
}

// flowSink is one flow log's destination and window.
type flowSink struct {
	id             string // fl-… ("" for the file's flow_logs)
	path           string
	file           *os.File // nil: closed, or it could not be opened (nothing is written)
	every          int64    // window, in seconds
	accept, reject bool     // which actions it logs (TrafficType)
	start          int64    // Unix seconds the current window began
	pending        map[flowKey]flowVal
	skipped        map[*eniState]bool
}

// openFlowLog opens (appending) or creates the flow-log file of
// topo.json's flow_logs; a new or empty file starts with the header line.
func openFlowLog(path, account string) (*flowLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("flow_logs.path: %w (OBS-1)", err)
	}
	if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
		f.WriteString(flowLogHeader)
	}
	l := newFlowLogs(account)
	l.sinks = append(l.sinks, &flowSink{path: path, file: f, every: 60, accept: true, reject: true,
		start: time.Now().Unix(), pending: map[flowKey]flowVal{}, skipped: map[*eniState]bool{}})
	return l, nil
}

// newFlowLogs is a flowLog with no sink yet.
func newFlowLogs(account string) *flowLog { return &flowLog{account: account} }

// table gives a new worker its table, made for flowTableMax flows when
// topo.json's flow_logs logs every ENI.
func (l *flowLog) table() *flowTable {
	n := 0
	l.mu.Lock()
	if len(l.sinks) > 0 && l.sinks[0].id == "" {
		n = flowTableMax
	}
	l.mu.Unlock()
	t := newFlowTableSized(n)
	l.mu.Lock()
	l.tables = append(l.tables, t)
	l.mu.Unlock()
	return t
}

// retire takes the table of a worker that ended out of the live set: its
// records go out with the next window, then it is dropped.
func (l *flowLog) retire(t *flowTable) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, x := range l.tables {
		if x == t {
			l.tables = append(l.tables[:i], l.tables[i+1:]...)
			l.retired = append(l.retired, t)
			return
		}
	}
}

// record counts the frame in w.p against ENI e's flow (OBS-1).
func (w *worker) record(e *eniCfg, reject bool) {
	t := w.flows
	if t == nil || e.logMask&actionBit(reject) == 0 {
		return // no flow log keeps this ENI's records of this action
	}
	m := &w.p.meta
	k := flowKey{eni: e.st, src: m.Src.As4(), dst: m.Dst.As4(), proto: m.Proto, reject: reject}
	switch m.Proto {
	case header.ProtoTCP, header.ProtoUDP:
		k.sport, k.dport = m.SrcPort, m.DstPort
	}
	segs, bytes := w.p.wire()
	sec := w.now / int64(time.Second)
	t.mu.Lock()
	v, ok := t.flows[k]
	switch {
	case ok:
		v.packets += segs
		v.bytes += bytes
		v.end = sec
		t.flows[k] = v
	case len(t.flows) < flowTableMax:
		t.flows[k] = flowVal{packets: segs, bytes: bytes, start: sec, end: sec}
	default:
		e.st.flowLogSkipped.Add(1)
	}
	t.mu.Unlock()
}

// wire returns how many IP packets the frame is on the wire and their
// bytes: a GSO super-frame is cut into segments of GSOSize payload bytes,
// each with a copy of the IP and L4 headers.
func (p *packet) wire() (segs, bytes uint64) {
	n := uint64(len(p.ip))
	vh := header.VnetHdr(p.frame)
	size := uint64(vh.GSOSize())
	if vh.GSOType()&^header.VnetGSOECN == header.VnetGSONone || size == 0 || p.l4 == nil {
		return 1, n
	}
	hl := uint64(p.ip.HeaderLen())
	switch p.meta.Proto {
	case header.ProtoTCP:
		hl += uint64(header.TCP(p.l4).DataOffset())
	case header.ProtoUDP:
		hl += header.UDPLen
	default:
		return 1, n
	}
	if n <= hl {
		return 1, n
	}
	segs = (n - hl + size - 1) / size
	return segs, n + (segs-1)*hl
}

// flush ends the window of every sink at now (FlushFlowLogs, Stop, a
// test); tick ends only the windows that are due. Either writes each
// ending window's flows, then a NODATA or SKIPDATA record for each of its
// ENIs (of enis) that has no flow in it.
func (l *flowLog) flush(enis []*eniCfg, now time.Time) error { return l.end(enis, now, true) }

func (l *flowLog) tick(enis []*eniCfg, now time.Time) error { return l.end(enis, now, false) }

func (l *flowLog) end(enis []*eniCfg, now time.Time, all bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.gather(enis)
	var first error
	for _, s := range l.sinks {
		if all || now.Unix()-s.start >= s.every {
			if err := l.write(s, enis, now.Unix()); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// gather moves every worker's records into the sinks that log them: a
// flow's ENI is one of the sink's, its action one the sink keeps. A flow
// whose frames several workers saw (the queues of a multi-queue TAP) is
// one record: the tables are merged. The caller holds l.mu.
func (l *flowLog) gather(enis []*eniCfg) {
	byState := make(map[*eniState]*eniCfg, len(enis))
	for _, e := range enis {
		byState[e.st] = e
		if e.st.flowLogSkipped.Swap(0) > 0 {
			for _, s := range l.sinks {
				if s.covers(e) {
					s.skipped[e.st] = true
				}
			}
		}
	}
	for _, t := range append(l.tables, l.retired...) {
		t.mu.Lock()
		full := t.flows
		t.flows, t.spare = t.spare, t.flows
		t.mu.Unlock()
		for k, v := range full {
			e := byState[k.eni]
			if e == nil {
				continue // the ENI was deleted during the window
			}
			for _, s := range l.sinks {
				if !s.covers(e) || (k.reject && !s.reject) || (!k.reject && !s.accept) {
					continue
				}
				if m, ok := s.pending[k]; ok {
					v.packets += m.packets
					v.bytes += m.bytes
					v.start = min(v.start, m.start)
					v.end = max(v.end, m.end)
				}
				s.pending[k] = v
			}
		}
		clear(full)
	}
	l.retired = nil
}

// covers reports whether ENI e's records go to sink s.
func (s *flowSink) covers(e *eniCfg) bool {
	return s.id == "" || slices.Contains(e.flowLogs, s.id)
}

// write ends sink s's window at end: its flows, oldest first, then NODATA
// or SKIPDATA for its ENIs that have none. The caller holds l.mu.
func (l *flowLog) write(s *flowSink, enis []*eniCfg, end int64) error {
	defer func() {
		clear(s.pending)
		clear(s.skipped)
		s.start = end
	}()
	if s.file == nil {
		return nil
	}
	type rec struct {
		k flowKey
		v flowVal
	}
	recs := make([]rec, 0, len(s.pending))
	for k, v := range s.pending {
		recs = append(recs, rec{k, v})
	}
	idOf := make(map[*eniState]string, len(enis))
	for _, e := range enis {
		idOf[e.st] = e.id
	}
	seen := map[*eniState]bool{}
	sort.Slice(recs, func(i, j int) bool {
		a, b := recs[i], recs[j]
		if a.v.start != b.v.start {
			return a.v.start < b.v.start
		}
		return idOf[a.k.eni] < idOf[b.k.eni]
	})
	w := bufio.NewWriter(s.file)
	for _, r := range recs {
		id, ok := idOf[r.k.eni]
		if !ok {
			continue // the ENI was deleted during the window
		}
		seen[r.k.eni] = true
		action := "ACCEPT"
		if r.k.reject {
			action = "REJECT"
		}
		fmt.Fprintf(w, "2 %s %s %s %s %d %d %d %d %d %d %d %s OK\n", l.account, id,
			netip.AddrFrom4(r.k.src), netip.AddrFrom4(r.k.dst), r.k.sport, r.k.dport, r.k.proto,
			r.v.packets, r.v.bytes, r.v.start, r.v.end, action)
	}
	for _, e := range enis {
		if !s.covers(e) {
			continue
		}
		status := "NODATA"
		if s.skipped[e.st] {
			status = "SKIPDATA"
		} else if seen[e.st] {
			continue
		}
		w.WriteString("2 " + l.account + " " + e.id + " - - - - - - - " +
			strconv.FormatInt(s.start, 10) + " " + strconv.FormatInt(end, 10) + " - " + status + "\n")
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("flow log %s: %w", s.path, err)
	}
	return nil
}

// close writes nothing more; a flush after it does nothing.
func (l *flowLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var first error
	for _, s := range l.sinks {
		if s.file != nil {
			if err := s.file.Close(); err != nil && first == nil {
				first = err
			}
			s.file = nil
		}
	}
	return first
}
