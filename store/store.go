// Package store keeps vpcnet's desired state in etcd when a topology names
// one (settings.store): the topologies, the machines that run agents, and
// what each agent has applied. It is the only package that talks to etcd.
//
// Key space (every name checked, so none can write elsewhere):
//
//	/vpcnet/topologies/<topology>      topo.json bytes
//	/vpcnet/machines/<host>            Machine JSON, under the machine's lease (alive)
//	/vpcnet/hosts/<host>               the same JSON, no lease: the machine once was
//	/vpcnet/applied/<topology>/<host>  Applied JSON, under the machine's lease
//
// Every change is a transaction on the key's revision, so two writers
// cannot lose each other's update. A call waits at most Options.Timeout;
// etcd unreachable, or without a quorum, is ErrUnavailable.
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vpcnet/vpcnet/topology"
)

// Errors callers branch on (errors.Is); every error of this package wraps
// one of them or the cause, and names the store's URL and the operation.
var (
	ErrUnavailable = errors.New("etcd unreachable")
	ErrExists      = errors.New("already exists")
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("changed meanwhile")
	errClosed      = errors.New("store closed")
)

// DefaultTimeout bounds one call when Options.Timeout is zero.
const DefaultTimeout = 3 * time.Second

// updateAttempts bounds Update's read-modify-write retries.
const updateAttempts = 16

// Key prefixes.
const (
	topologiesPrefix = "/vpcnet/topologies/"
	machinesPrefix   = "/vpcnet/machines/"
	hostsPrefix      = "/vpcnet/hosts/"
	appliedPrefix    = "/vpcnet/applied/"
)

// Options tune Open.
type Options struct {
	// Dial opens the TCP connection to one endpoint ("host:port"); nil is
	// net.Dialer. Tests dial from inside a namespace (etcdtest).
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Timeout bounds every call; 0 is DefaultTimeout.
	Timeout time.Duration
}

// Store is a connection to one etcd cluster. Its methods are safe for
// concurrent use.
type Store struct {
	url     string // canonical etcd://… for messages
	cli     *clientv3.Client
	timeout time.Duration
	dial    func(ctx context.Context, addr string) (net.Conn, error)
	lastErr atomic.Pointer[error] // last failed dial, cleared by a good one: says why a call timed out

	// ctx ends with Close: it stops every watch and registration.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // goroutines of Watch, WatchMachines, Register
	once   sync.Once

	mu   sync.Mutex
	regs map[string]*Registration // by host; guarded by mu
}

// Open connects to the etcd cluster of url (settings.store). It does not
// wait for etcd: when etcd is down Open succeeds, and calls fail later
// with ErrUnavailable.
func Open(url string, o Options) (*Store, error) {
	eps, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	s := &Store{url: "etcd://" + strings.Join(eps, ","), timeout: o.Timeout, dial: o.Dial, regs: map[string]*Registration{}}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.dial == nil {
		var d net.Dialer
		s.dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	urls := make([]string, len(eps))
	for i, ep := range eps {
		urls[i] = "http://" + ep
	}
	s.cli, err = clientv3.New(clientv3.Config{
		Endpoints: urls,
		Logger:    zap.NewNop(),
		// Pings find a dead peer (a machine cut off) without waiting for
		// TCP; gRPC raises anything below 10 s to 10 s.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		DialOptions: []grpc.DialOption{
			grpc.WithContextDialer(s.dialer),
			// Reconnect within 2 s of etcd coming back, rather than
			// gRPC's backoff of up to 2 min.
			grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           grpcbackoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
				MinConnectTimeout: 2 * time.Second,
			}),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("store (etcd at %s): open: %w", s.url, err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// dialer dials through Options.Dial and remembers the last failure.
func (s *Store) dialer(ctx context.Context, addr string) (net.Conn, error) {
	c, err := s.dial(ctx, addr)
	if err != nil {
		s.lastErr.Store(&err)
		return nil, err
	}
	s.lastErr.Store(nil)
	return c, nil
}

// URL returns the store's URL in canonical form.
func (s *Store) URL() string { return s.url }

// Close ends every watch (their channels close) and every registration
// WITHOUT revoking its lease: the machine's keys expire after their TTL, as
// when the process dies. Cancel Register's context first to leave cleanly.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock() // no spawn after this: wg.Add never races wg.Wait
		s.cancel()
		s.mu.Unlock()
		s.wg.Wait()
		if e := s.cli.Close(); e != nil && !errors.Is(e, context.Canceled) {
			err = fmt.Errorf("store (etcd at %s): close: %w", s.url, e)
		}
	})
	return err
}

// opError is every error of the package: the store, the operation, why.
type opError struct {
	url         string
	op          string // "create topology demo"
	err         error
	unavailable bool
}

func (e *opError) Error() string {
	if e.unavailable {
		return fmt.Sprintf("the store (etcd at %s) is unreachable: %s: %v", e.url, e.op, e.err)
	}
	return fmt.Sprintf("store (etcd at %s): %s: %v", e.url, e.op, e.err)
}

func (e *opError) Unwrap() []error {
	if e.unavailable {
		return []error{ErrUnavailable, e.err}
	}
	return []error{e.err}
}

// errorf makes an error of op that wraps err.
func (s *Store) errorf(op string, err error) error { return &opError{url: s.url, op: op, err: err} }

// call runs fn under the per-call timeout with the leader requirement (a
// member cut off from the quorum answers at once rather than hang), and
// maps its error. "No leader" before the request was taken (an election
// under way: nothing applied) is retried until the timeout.
func (s *Store) call(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	if s.ctx.Err() != nil {
		return s.errorf(op, errClosed)
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	rctx := clientv3.WithRequireLeader(cctx)
	for {
		err := fn(rctx)
		if err == nil {
			return nil
		}
		if errors.Is(err, rpctypes.ErrNoLeader) && cctx.Err() == nil {
			select {
			case <-time.After(50 * time.Millisecond):
				continue
			case <-cctx.Done():
				return &opError{url: s.url, op: op, unavailable: true,
					err: fmt.Errorf("no leader within %v: fewer than a quorum of members are up (%w)", s.timeout, err)}
			}
		}
		return s.fail(ctx, cctx, op, err)
	}
}

// fail maps an etcd client error: our own timeout and every "no quorum,
// no connection" error are ErrUnavailable; the caller's context ending is
// its own error.
func (s *Store) fail(ctx, cctx context.Context, op string, err error) error {
	var oe *opError
	switch {
	case errors.As(err, &oe):
		return err // made by us (fn's own checks)
	case s.ctx.Err() != nil:
		return s.errorf(op, errClosed)
	case ctx.Err() != nil:
		return s.errorf(op, ctx.Err())
	case cctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded ||
		// The member's own copy of our deadline, which may end a hair
		// before ours: "code = Unknown desc = context deadline exceeded".
		rpctypes.ErrorDesc(err) == context.DeadlineExceeded.Error():
		why := fmt.Errorf("no answer within %v", s.timeout)
		if last := s.lastErr.Load(); last != nil {
			why = fmt.Errorf("no answer within %v; last connection error: %w", s.timeout, *last)
		}
		return &opError{url: s.url, op: op, err: why, unavailable: true}
	case unavailable(err):
		return &opError{url: s.url, op: op, err: err, unavailable: true}
	}
	return s.errorf(op, err)
}

// unavailable reports errors that mean "no quorum or no connection now":
// retrying later may succeed.
func unavailable(err error) bool {
	for _, e := range []error{rpctypes.ErrNoLeader, rpctypes.ErrTimeout, rpctypes.ErrTimeoutDueToLeaderFail,
		rpctypes.ErrTimeoutDueToConnectionLost, rpctypes.ErrTimeoutWaitAppliedIndex, rpctypes.ErrLeaderChanged,
		rpctypes.ErrNotCapable, rpctypes.ErrStopped, rpctypes.ErrUnhealthy, rpctypes.ErrTooManyRequests} {
		if errors.Is(err, e) {
			return true
		}
	}
	return status.Code(err) == codes.Unavailable
}

// checkTopo validates a topology name before it becomes part of a key.
func checkTopo(name string) error { return topology.CheckName(name) }

// checkHost validates a machine name before it becomes one key element:
// the rule of settings.placement and --host (topology.CheckHostName).
func checkHost(name string) error { return topology.CheckHostName("machine", name) }

func topoKey(topo string) string          { return topologiesPrefix + topo }
func machineKey(host string) string       { return machinesPrefix + host }
func hostKey(host string) string          { return hostsPrefix + host }
func appliedDir(topo string) string       { return appliedPrefix + topo + "/" }
func appliedKey(topo, host string) string { return appliedDir(topo) + host }

// Create stores a new topology; ErrExists if it is there already. It
// returns the key's revision.
func (s *Store) Create(ctx context.Context, topo string, spec []byte) (int64, error) {
	op := "create topology " + topo
	if err := checkTopo(topo); err != nil {
		return 0, s.errorf("create topology", err)
	}
	var rev int64
	err := s.call(ctx, op, func(ctx context.Context) error {
		k := topoKey(topo)
		r, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
			Then(clientv3.OpPut(k, string(spec))).Commit()
		if err != nil {
			return err
		}
		if !r.Succeeded {
			return s.errorf(op, ErrExists)
		}
		rev = r.Header.Revision
		return nil
	})
	return rev, err
}

// Get returns a topology and its revision (the key's ModRevision, what Put
// takes as ifRev); ErrNotFound if there is none.
func (s *Store) Get(ctx context.Context, topo string) ([]byte, int64, error) {
	op := "get topology " + topo
	if err := checkTopo(topo); err != nil {
		return nil, 0, s.errorf("get topology", err)
	}
	var spec []byte
	var rev int64
	err := s.call(ctx, op, func(ctx context.Context) error {
		r, err := s.cli.Get(ctx, topoKey(topo))
		if err != nil {
			return err
		}
		if len(r.Kvs) == 0 {
			return s.errorf(op, ErrNotFound)
		}
		spec, rev = r.Kvs[0].Value, r.Kvs[0].ModRevision
		return nil
	})
	return spec, rev, err
}

// Put replaces a topology if its revision is still ifRev (0: if it does
// not exist), else ErrConflict, and returns the new revision.
func (s *Store) Put(ctx context.Context, topo string, spec []byte, ifRev int64) (int64, error) {
	op := "put topology " + topo
	if err := checkTopo(topo); err != nil {
		return 0, s.errorf("put topology", err)
	}
	var rev int64
	err := s.call(ctx, op, func(ctx context.Context) error {
		k := topoKey(topo)
		r, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), "=", ifRev)).
			Then(clientv3.OpPut(k, string(spec))).Else(clientv3.OpGet(k, clientv3.WithKeysOnly())).Commit()
		if err != nil {
			return err
		}
		if !r.Succeeded {
			now := "deleted"
			if kvs := r.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
				now = fmt.Sprintf("at revision %d", kvs[0].ModRevision)
			}
			return s.errorf(op, fmt.Errorf("%w: read at revision %d, now %s", ErrConflict, ifRev, now))
		}
		rev = r.Header.Revision
		return nil
	})
	return rev, err
}

// Update applies fn to the current topology and writes the result on the
// revision it read, again on ErrConflict (up to 16 times), so concurrent
// updates all land. fn gets its own copy; its error is returned as is;
// when it returns the bytes it got, nothing is written. The result is the
// topology's revision afterwards.
func (s *Store) Update(ctx context.Context, topo string, fn func(spec []byte) ([]byte, error)) (int64, error) {
	var lastErr error
	for range updateAttempts {
		spec, rev, err := s.Get(ctx, topo)
		if err != nil {
			return 0, err
		}
		next, err := fn(bytes.Clone(spec))
		if err != nil {
			return 0, err
		}
		if bytes.Equal(next, spec) {
			return rev, nil
		}
		nrev, err := s.Put(ctx, topo, next, rev)
		if !errors.Is(err, ErrConflict) {
			return nrev, err
		}
		lastErr = err
	}
	return 0, s.errorf("update topology "+topo, fmt.Errorf("%d attempts lost to other writers, last: %w", updateAttempts, lastErr))
}

// Delete removes a topology and the agents' reports on it; ErrNotFound if
// there is none.
func (s *Store) Delete(ctx context.Context, topo string) error {
	op := "delete topology " + topo
	if err := checkTopo(topo); err != nil {
		return s.errorf("delete topology", err)
	}
	return s.call(ctx, op, func(ctx context.Context) error {
		k := topoKey(topo)
		r, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), ">", 0)).
			Then(clientv3.OpDelete(k), clientv3.OpDelete(appliedDir(topo), clientv3.WithPrefix())).Commit()
		if err != nil {
			return err
		}
		if !r.Succeeded {
			return s.errorf(op, ErrNotFound)
		}
		return nil
	})
}

// Topologies lists the stored topologies' names, sorted.
func (s *Store) Topologies(ctx context.Context) ([]string, error) {
	var names []string
	err := s.call(ctx, "list topologies", func(ctx context.Context) error {
		r, err := s.cli.Get(ctx, topologiesPrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
		if err != nil {
			return err
		}
		names = names[:0]
		for _, kv := range r.Kvs {
			// etcd returns keys sorted; a name written by hand around
			// vpcnet that is no topology name is left out.
			if n := strings.TrimPrefix(string(kv.Key), topologiesPrefix); checkTopo(n) == nil {
				names = append(names, n)
			}
		}
		return nil
	})
	return names, err
}
