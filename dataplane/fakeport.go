package dataplane

import "sync"

// FakePort is a channel-backed Port for unit tests. Frames given to Inject
// come out of Read; frames the forwarder writes can be taken with Sent.
type FakePort struct {
	in     chan []byte
	out    chan []byte
	once   sync.Once
	closed chan struct{}
}

// NewFakePort returns a fake port whose queues hold depth frames each.
func NewFakePort(depth int) *FakePort {
	return &FakePort{in: make(chan []byte, depth), out: make(chan []byte, depth), closed: make(chan struct{})}
}

// Inject queues a frame (virtio-net header included) for Read.
func (p *FakePort) Inject(frame []byte) { p.in <- frame }

// Sent returns the channel of frames written to the port.
func (p *FakePort) Sent() <-chan []byte { return p.out }

// Read implements Port.
func (p *FakePort) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n := 0
	select {
	case f := <-p.in:
		sizes[0] = copy(bufs[0][offset:], f)
		n = 1
	case <-p.closed:
		return 0, ErrClosed
	}
	for n < len(bufs) {
		select {
		case f := <-p.in:
			sizes[n] = copy(bufs[n][offset:], f)
			n++
		default:
			return n, nil
		}
	}
	return n, nil
}

// Write implements Port. A full queue drops the frame, as a device would.
func (p *FakePort) Write(bufs [][]byte, offset int) (int, error) {
	for i, b := range bufs {
		c := append([]byte(nil), b[offset:]...)
		select {
		case p.out <- c:
		case <-p.closed:
			return i, ErrClosed
		default:
		}
	}
	return len(bufs), nil
}

// BatchSize implements Port.
func (p *FakePort) BatchSize() int { return 8 }

// Close implements Port.
func (p *FakePort) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

// FakeMultiPort is a multi-queue fake port, like a multi-queue TAP: each
// queue is a FakePort read by its own worker, and WriteQueue writes on a
// chosen queue.
type FakeMultiPort struct {
	Q []*FakePort
}

// NewFakeMultiPort returns a fake port of n queues of depth frames each.
func NewFakeMultiPort(n, depth int) *FakeMultiPort {
	m := &FakeMultiPort{}
	for range n {
		m.Q = append(m.Q, NewFakePort(depth))
	}
	return m
}

// Queues returns the queues as ports.
func (m *FakeMultiPort) Queues() []Port {
	ps := make([]Port, len(m.Q))
	for i, q := range m.Q {
		ps[i] = q
	}
	return ps
}

// Read implements Port: it reads the first queue.
func (m *FakeMultiPort) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	return m.Q[0].Read(bufs, sizes, offset)
}

// Write implements Port: it writes on the first queue.
func (m *FakeMultiPort) Write(bufs [][]byte, offset int) (int, error) {
	return m.Q[0].Write(bufs, offset)
}

// WriteQueue writes on queue q modulo the number of queues.
func (m *FakeMultiPort) WriteQueue(q int, bufs [][]byte, offset int) (int, error) {
	return m.Q[q%len(m.Q)].Write(bufs, offset)
}

// BatchSize implements Port.
func (m *FakeMultiPort) BatchSize() int { return 8 }

// Close implements Port: it closes every queue.
func (m *FakeMultiPort) Close() error {
	for _, q := range m.Q {
		q.Close()
	}
	return nil
}
