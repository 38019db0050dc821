package daemon

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/topology"
)

// The record stream round-trips: header, packets (with and without a
// comment), end; then io.EOF.
func TestCaptureStreamRoundTrip(t *testing.T) {
	var b bytes.Buffer
	cw := NewCaptureWriter(&b)
	hdr := CaptureHeader{Endpoints: []CaptureEndpoint{{Name: "web", ID: "eni-1", Kind: "eni"}, {Name: "h", ID: "h", Kind: "internet-host"}}, Snaplen: 96}
	ts := time.Unix(1700000000, 123456789)
	cw.Header(hdr)
	cw.Packet(1, dataplane.CaptureIn, ts, 1500, "", []byte("frame-one"))
	cw.Packet(0, 0, ts, 9, "vpcnet drop: network-acl ingress (NACL-4) by acl-1 rule 50", []byte("frame-two"))
	cw.End(CaptureEnd{Captured: 2, Lost: 7})
	cw.Flush()
	r := bytes.NewReader(b.Bytes())
	rec, buf, err := ReadCaptureRecord(r, nil)
	if err != nil || rec.Header == nil || len(rec.Header.Endpoints) != 2 || rec.Header.Endpoints[1].Kind != "internet-host" || rec.Header.Snaplen != 96 {
		t.Fatalf("header: %+v %v", rec.Header, err)
	}
	rec, buf, err = ReadCaptureRecord(r, buf)
	p := rec.Packet
	if err != nil || rec.Type != RecPacket || p.Endpoint != 1 || p.Dir != dataplane.CaptureIn || !p.Time.Equal(ts) ||
		p.OrigLen != 1500 || len(p.Comment) != 0 || string(p.Data) != "frame-one" {
		t.Fatalf("packet 1: %+v %v", p, err)
	}
	rec, buf, err = ReadCaptureRecord(r, buf)
	if p := rec.Packet; err != nil || p.Dir != 0 || string(p.Comment) != "vpcnet drop: network-acl ingress (NACL-4) by acl-1 rule 50" || string(p.Data) != "frame-two" {
		t.Fatalf("packet 2: %+v %v", rec.Packet, err)
	}
	rec, buf, err = ReadCaptureRecord(r, buf)
	if err != nil || rec.End == nil || *rec.End != (CaptureEnd{Captured: 2, Lost: 7}) {
		t.Fatalf("end: %+v %v", rec.End, err)
	}
	if _, _, err = ReadCaptureRecord(r, buf); !errors.Is(err, io.EOF) {
		t.Fatalf("after the end: %v, want EOF", err)
	}
	// Cut anywhere inside a record: an error, never a panic or a record.
	for n := 1; n < b.Len(); n++ {
		r := bytes.NewReader(b.Bytes()[:n])
		var err error
		for err == nil {
			_, buf, err = ReadCaptureRecord(r, buf)
		}
	}
}

func FuzzReadCaptureRecord(f *testing.F) {
	var b bytes.Buffer
	cw := NewCaptureWriter(&b)
	cw.Header(CaptureHeader{Endpoints: []CaptureEndpoint{{Name: "a"}}})
	cw.Packet(0, 2, time.Unix(1, 0), 3, "c", []byte("abc"))
	cw.End(CaptureEnd{})
	cw.Flush()
	f.Add(b.Bytes())
	f.Add([]byte{0, 0, 0, 5, 'P', 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		var buf []byte
		for i := 0; i < 100; i++ {
			rec, nb, err := ReadCaptureRecord(r, buf)
			buf = nb
			if err != nil {
				return
			}
			if rec.Type == RecPacket && rec.Packet.OrigLen < len(rec.Packet.Data) {
				t.Fatal("a packet longer than its original length")
			}
		}
	})
}

func TestParseCaptureRequest(t *testing.T) {
	good := CaptureRequest{Endpoints: []string{"web", "eni-1"}, Host: "10.0.1.10", Port: 80, Proto: "tcp", Dir: "in",
		Snaplen: 128, Count: 5, Duration: 3 * time.Second, Drops: true}
	got, spec, err := parseCaptureRequest(good.Query())
	if err != nil {
		t.Fatal(err)
	}
	if got.Count != 5 || got.Duration != 3*time.Second || !got.Drops || got.Segment {
		t.Errorf("request %+v", got)
	}
	want := dataplane.CaptureSpec{Filter: dataplane.CaptureFilter{Host: netip.MustParseAddr("10.0.1.10"), Port: 80, Proto: 6},
		Dir: dataplane.CaptureIn, Drops: true, Snaplen: 128}
	if spec.Filter != want.Filter || spec.Dir != want.Dir || spec.Drops != want.Drops || spec.Snaplen != want.Snaplen {
		t.Errorf("spec %+v, want %+v", spec, want)
	}
	seg := CaptureRequest{Endpoints: []string{"web"}, Snaplen: 100, Segment: true, Proto: "47"}
	if _, spec, err := parseCaptureRequest(seg.Query()); err != nil || spec.Snaplen != 0 || spec.Filter.Proto != 47 || spec.Dir != dataplane.CaptureBoth {
		t.Errorf("segment: the dataplane must keep whole frames: %+v %v", spec, err)
	}
	for name, q := range map[string]string{
		"no endpoint":   "",
		"bad host":      "ep=a&host=nope",
		"IPv6 host":     "ep=a&host=::1",
		"bad port":      "ep=a&port=70000",
		"bad proto":     "ep=a&proto=sctpx",
		"proto 0":       "ep=a&proto=0",
		"bad direction": "ep=a&dir=sideways",
		"bad count":     "ep=a&count=-1",
		"bad duration":  "ep=a&duration=soon",
	} {
		v, _ := url.ParseQuery(q)
		if _, _, err := parseCaptureRequest(v); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDropComment(t *testing.T) {
	for _, c := range []struct {
		fr   dataplane.CapturedFrame
		want string
	}{
		{dataplane.CapturedFrame{}, ""},
		{dataplane.CapturedFrame{Drop: "network-acl ingress (NACL-4)", By: "acl-1", Rule: 50}, "vpcnet drop: network-acl ingress (NACL-4) by acl-1 rule 50"},
		{dataplane.CapturedFrame{Drop: "network-acl egress (NACL-4)", By: "acl-1", Rule: 32767}, "vpcnet drop: network-acl egress (NACL-4) by acl-1 rule *"},
		{dataplane.CapturedFrame{Drop: "security-group ingress (SG-2)", By: "sg-1,sg-2"}, "vpcnet drop: security-group ingress (SG-2) by sg-1,sg-2"},
		{dataplane.CapturedFrame{Drop: "no-route (RT-6)"}, "vpcnet drop: no-route (RT-6)"},
	} {
		if got := dropComment(&c.fr); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
	if !strings.HasPrefix(dropComment(&dataplane.CapturedFrame{Drop: "x"}), "vpcnet drop: ") {
		t.Error("prefix")
	}
}

// GET /capture: the header, then frames; -c ends the stream with the
// counts; a client that goes away ends the capture (no tap left, the
// handler returns); an unknown endpoint is refused.
func TestHandleCaptureEndsCleanly(t *testing.T) {
	n, err := topology.Load([]byte(twoVPCs))
	if err != nil {
		t.Fatal(err)
	}
	fwd := dataplane.New(n, dataplane.Options{})
	defer fwd.Stop()
	port := dataplane.NewFakePort(8)
	eni := n.InstanceByName["i1"].ENIs[0]
	fwd.AttachPort(eni.ID, port)
	d := newDaemon(n, fwd)
	srv := httptest.NewServer(http.HandlerFunc(d.handleCapture))
	get := func(ctx context.Context, q string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/capture?"+q, nil)
		return http.DefaultClient.Do(req)
	}
	// An ARP request from i1: captured as it sent it.
	arp := make([]byte, 10+14+28)
	binary.BigEndian.PutUint16(arp[10+12:], 0x0806)
	copy(arp[10+14:], []byte{0, 1, 8, 0, 6, 4, 0, 1})

	resp, err := get(context.Background(), "ep=i1&count=1")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	rec, buf, err := ReadCaptureRecord(resp.Body, nil)
	if err != nil || rec.Header == nil || rec.Header.Endpoints[0] != (CaptureEndpoint{Name: "i1", ID: eni.ID, Kind: "eni"}) {
		t.Fatalf("header %+v %v", rec.Header, err)
	}
	port.Inject(arp)
	rec, buf, err = ReadCaptureRecord(resp.Body, buf)
	if err != nil || rec.Type != RecPacket || rec.Packet.Dir != dataplane.CaptureOut || !bytes.Equal(rec.Packet.Data, arp[10:]) {
		t.Fatalf("packet %+v %v", rec.Packet, err)
	}
	rec, _, err = ReadCaptureRecord(resp.Body, buf)
	if err != nil || rec.End == nil || rec.End.Captured != 1 {
		t.Fatalf("end %+v %v", rec.End, err)
	}
	resp.Body.Close()
	waitNoCapture(t, fwd)

	ctx, cancel := context.WithCancel(context.Background())
	resp, err = get(ctx, "ep="+eni.ID)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	if rec, _, err := ReadCaptureRecord(resp.Body, nil); err != nil || rec.Header == nil {
		t.Fatalf("header: %v", err)
	}
	if fwd.CapturesRunning() != 1 {
		t.Fatal("the capture is not running")
	}
	cancel() // the CLI exits
	resp.Body.Close()
	waitNoCapture(t, fwd)
	srv.Close() // waits for the handler to return

	srv = httptest.NewServer(http.HandlerFunc(d.handleCapture))
	defer srv.Close()
	resp, err = get(context.Background(), "ep=nope")
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown endpoint: %v %v", resp, err)
	}
	resp.Body.Close()
	if fwd.CapturesRunning() != 0 {
		t.Error("a refused capture runs")
	}
}

func waitNoCapture(t *testing.T, fwd *dataplane.Forwarder) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); fwd.CapturesRunning() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the capture still runs after its client went")
		}
	}
}
