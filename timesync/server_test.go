package timesync

import (
	"encoding/binary"
	"net"
	"testing"
	"time"
)

// serve starts s on a loopback socket and returns a client socket
// connected to it; both close with the test.
func serve(t *testing.T, s *Server) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	stop := s.Serve(c)
	t.Cleanup(stop)
	cl, err := net.DialUDP("udp4", nil, c.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// exchange sends b and returns the answer, or nil after wait.
func exchange(t *testing.T, cl *net.UDPConn, b []byte, wait time.Duration) []byte {
	t.Helper()
	if _, err := cl.Write(b); err != nil {
		t.Fatal(err)
	}
	cl.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 2048)
	n, err := cl.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

// waitCount waits until s has counted want of d.
func waitCount(t *testing.T, s *Server, d Drop, want uint64) {
	t.Helper()
	for i := 0; i < 200 && s.Stats().Counts[d] != want; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if got := s.Stats().Counts[d]; got != want {
		t.Fatalf("%v: %d, want %d", d, got, want)
	}
}

// TestServerAnswers: over a real socket, a v4 request gets a 48-byte
// answer whose origin is the request's transmit timestamp and whose
// receive and transmit timestamps are the host clock's, in order.
func TestServerAnswers(t *testing.T) {
	s := NewServer()
	cl := serve(t, s)
	before := time.Now()
	xmt := Timestamp(before)
	a := exchange(t, cl, request(48, 4, 3, xmt), 2*time.Second)
	after := time.Now()
	if len(a) != HeaderLen {
		t.Fatalf("answer of %d bytes, want %d", len(a), HeaderLen)
	}
	be := binary.BigEndian
	if org := be.Uint64(a[24:]); org != xmt {
		t.Errorf("origin %#x, want %#x", org, xmt)
	}
	rx, tx := Time(be.Uint64(a[32:])), Time(be.Uint64(a[40:]))
	slack := time.Microsecond // the timestamps' 2^-32 s truncation
	if rx.Before(before.Add(-slack)) || tx.Before(rx) || tx.After(after.Add(slack)) {
		t.Errorf("receive %v transmit %v, not within [%v, %v]", rx, tx, before, after)
	}
	waitCount(t, s, Answered, 1)
}

// TestServerDropsBadInput: every kind of bad datagram is counted under
// its reason and unanswered, and the server still answers after them.
func TestServerDropsBadInput(t *testing.T) {
	s := NewServer()
	cl := serve(t, s)
	for _, c := range []struct {
		b    []byte
		want Drop
	}{
		{[]byte("x"), Short},
		{request(47, 4, 3, 1), Short},
		{request(1400, 4, 3, 1), Oversized},
		{request(50, 4, 3, 1), Malformed},
		{request(48, 1, 3, 1), BadVersion},
		{request(48, 4, 4, 1), BadMode},
		{request(48, 4, 6, 1), BadMode},
	} {
		if a := exchange(t, cl, c.b, 50*time.Millisecond); a != nil {
			t.Errorf("%v: answered %d bytes", c.want, len(a))
		}
	}
	waitCount(t, s, Short, 2)
	waitCount(t, s, BadMode, 2)
	st := s.Stats()
	if st.Counts[Oversized] != 1 || st.Counts[Malformed] != 1 || st.Counts[BadVersion] != 1 || st.Counts[Answered] != 0 {
		t.Errorf("counts %v", st.Counts)
	}
	if a := exchange(t, cl, request(48, 3, 3, 7), 2*time.Second); len(a) != HeaderLen || a[0]>>3&7 != 3 {
		t.Errorf("after bad input a v3 request got %x", a)
	}
}

// TestServerRateLimit: with the clock standing still one source gets
// PerSourceRate answers, then none (counted); a second later it is
// answered again.
func TestServerRateLimit(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	clock := make(chan time.Time, 1)
	clock <- now
	s := &Server{Now: func() time.Time { t := <-clock; clock <- t; return t }}
	cl := serve(t, s)
	for i := 0; i < PerSourceRate; i++ {
		if a := exchange(t, cl, request(48, 4, 3, uint64(i)), 2*time.Second); len(a) != HeaderLen {
			t.Fatalf("request %d: no answer", i)
		}
	}
	if a := exchange(t, cl, request(48, 4, 3, 1), 100*time.Millisecond); a != nil {
		t.Fatal("answered over the rate")
	}
	waitCount(t, s, RateLimited, 1)
	<-clock
	clock <- now.Add(time.Second)
	if a := exchange(t, cl, request(48, 4, 3, 1), 2*time.Second); len(a) != HeaderLen {
		t.Fatal("not answered a second later")
	}
}

// TestServeStop: stop returns once the loop has ended, also twice.
func TestServeStop(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	stop := NewServer().Serve(c)
	stop()
	stop()
}
