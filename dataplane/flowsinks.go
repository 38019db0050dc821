package dataplane

// The flow logs of CreateFlowLogs (OBS-1), beside topo.json's flow_logs
// file: each keeps the records of the ENIs of one VPC, subnet or ENI whose
// action its traffic type keeps (ACCEPT, REJECT or ALL), and writes them to
// its log group's file in the folder SetFlowLogDir names (the topology's
// state folder's flow-logs/), once per window (60 or 600 s). An ENI's
// records go to every flow log that covers it: its own, its subnet's, its
// VPC's.
//
// The per-packet cost is one test of the ENI's logMask (compiled with the
// config): an ENI that no flow log covers records nothing. Apply opens the
// files of new flow logs and, for deleted ones, writes the window so far
// and closes the file. One goroutine ends the windows that are due, once
// a second.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vpcnet/vpcnet/topology"
)

// What a flow log keeps, as logMask bits.
const (
	logAccept uint8 = 1 << iota
	logReject
)

func actionBit(reject bool) uint8 {
	if reject {
		return logReject
	}
	return logAccept
}

// trafficMask is the logMask of a traffic type.
func trafficMask(tt string) uint8 {
	switch tt {
	case "ACCEPT":
		return logAccept
	case "REJECT":
		return logReject
	}
	return logAccept | logReject
}

// flowLogsOf sets which flow logs cover ENI e (of config entry ec) and the
// actions they keep. live are the network's live flow logs.
func (st *state) flowLogsOf(ec *eniCfg, e *topology.ENI, live []*topology.VPCFlowLog) {
	if st.flowAll {
		ec.logMask = logAccept | logReject
	}
	for _, fl := range live {
		if fl.Covers(e) {
			ec.flowLogs = append(ec.flowLogs, fl.ID)
			ec.logMask |= trafficMask(fl.TrafficType)
		}
	}
}

// SetFlowLogDir names the folder of the flow logs' files (made 0700 if
// missing) and opens those of the network's flow logs. Until it is called
// a flow log writes nothing.
func (f *Forwarder) SetFlowLogDir(dir string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flowDir = dir
	f.syncFlowLogs(f.cfg.Load().enis)
}

// syncFlowLogs opens the sinks of flow logs new in f.net and ends those of
// flow logs gone from it: their window so far is written (from old, the
// ENIs of the config before the change), then the file is closed. Call it
// with f.mu held.
func (f *Forwarder) syncFlowLogs(old []*eniCfg) {
	l := f.flowLog
	live := f.net.LiveFlowLogs()
	want := map[string]*topology.VPCFlowLog{}
	for _, x := range live {
		want[x.ID] = x
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	have := map[string]bool{}
	keep := l.sinks[:0]
	gathered := false
	for _, s := range l.sinks {
		if x := want[s.id]; s.id == "" || (x != nil && (s.file != nil || f.flowDir == "")) {
			keep = append(keep, s)
			have[s.id] = true
			continue
		}
		if !gathered {
			l.gather(old)
			gathered = true
		}
		if err := l.write(s, old, now.Unix()); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		if s.file != nil {
			s.file.Close()
		}
	}
	l.sinks = keep
	for _, x := range live {
		if have[x.ID] {
			continue
		}
		s := &flowSink{id: x.ID, every: int64(x.AggregationSeconds), start: now.Unix(),
			pending: map[flowKey]flowVal{}, skipped: map[*eniState]bool{}}
		m := trafficMask(x.TrafficType)
		s.accept, s.reject = m&logAccept != 0, m&logReject != 0
		if f.flowDir != "" {
			s.path = filepath.Join(f.flowDir, topology.FlowLogFile(x.LogGroup))
			file, err := openFlowLogFile(f.flowDir, topology.FlowLogFile(x.LogGroup))
			if err != nil {
				fmt.Fprintf(os.Stderr, "flow log %s: %v: it writes nothing (OBS-1)\n", x.ID, err)
			}
			s.file = file
		}
		l.sinks = append(l.sinks, s)
	}
}

// errNotPlain is a flow-log path that is not a plain file or folder.
var errNotPlain = errors.New("not a plain file or folder (a symlink?): refused")

// openFlowLogFile opens (appending) or creates file name in dir, both
// root's only (0700, 0600). The daemon runs as root, so it never follows
// a symlink: dir must be a real folder and name is opened with O_NOFOLLOW
// and must be a regular file (O_NONBLOCK: a FIFO planted there does not
// hang the daemon). A new or empty file starts with the header.
func openFlowLogFile(dir, name string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(dir); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s: %w", dir, errNotPlain)
	}
	path := filepath.Join(dir, name)
	file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%s: %w", path, errNotPlain)
		}
		return nil, err
	}
	fi, err := file.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w", path, errNotPlain)
	}
	if err == nil {
		err = file.Chmod(0o600)
	}
	if err != nil {
		file.Close()
		return nil, err
	}
	if fi.Size() == 0 {
		file.WriteString(flowLogHeader)
	}
	return file, nil
}

// flowLogWriter ends the flow logs' windows that are due, once a second,
// until Stop.
func (f *Forwarder) flowLogWriter() {
	defer f.logWG.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case now := <-t.C:
			if err := f.flowLog.tick(f.cfg.Load().enis, now); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}
	}
}
