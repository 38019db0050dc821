package daemon

// Packet capture over the control socket: GET /capture streams the frames
// of a dataplane.Capture to `vpcnet capture`, which writes them as pcapng.
//
// The stream is a sequence of records, each
//
//	u32 length of what follows (big endian) | u8 type | body
//
// 'H' (first): JSON CaptureHeader, the endpoints in interface order;
// 'P': a frame: u16 endpoint | u8 direction (1 in, 2 out, 0 a drop) |
//      i64 time (ns since 1970) | u32 original length | u16 comment length |
//      comment | the captured bytes (Ethernet on);
// 'E' (last): JSON CaptureEnd, the counts.
//
// The capture ends after Count frames or Duration, when the client goes
// (the request's context ends), or when the daemon shuts down; the
// handler's deferred Close removes the forwarder's taps in every case.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/topology"
)

// CaptureHeader opens a capture stream.
type CaptureHeader struct {
	Endpoints []CaptureEndpoint `json:"endpoints"`
	Snaplen   int               `json:"snaplen"`
}

// CaptureEndpoint is one captured endpoint, a pcapng interface.
type CaptureEndpoint struct {
	Name string `json:"name"` // as the user named it: instance, ENI, host or NAT gateway name
	ID   string `json:"id"`   // the port's id: an ENI id, or the host's name
	Kind string `json:"kind"` // eni, internet-host, nat-gateway
}

// CaptureEnd closes a capture stream.
type CaptureEnd struct {
	Captured uint64 `json:"captured"`
	Lost     uint64 `json:"not_captured"` // frames the ring had no room for (a slow reader)
}

// Record types of the stream.
const (
	RecHeader = 'H'
	RecPacket = 'P'
	RecEnd    = 'E'
)

// MaxCaptureRecord bounds a record: a whole frame and its comment.
const MaxCaptureRecord = 1 + 17 + 1<<16 + dataplane.MaxFrame

// CapturePacket is a decoded 'P' record. Comment and Data alias the
// reader's buffer.
type CapturePacket struct {
	Endpoint int
	Dir      dataplane.CaptureDir // 0: a dropped frame
	Time     time.Time
	OrigLen  int
	Comment  []byte
	Data     []byte
}

// CaptureRecord is one record read from the stream: Type says which of the
// other fields is set.
type CaptureRecord struct {
	Type   byte
	Header *CaptureHeader
	Packet CapturePacket
	End    *CaptureEnd
}

// ReadCaptureRecord reads the next record, reusing buf (returned, grown).
// It returns io.EOF at a clean end of stream.
func ReadCaptureRecord(r io.Reader, buf []byte) (CaptureRecord, []byte, error) {
	var rec CaptureRecord
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return rec, buf, err
	}
	n := binary.BigEndian.Uint32(lb[:])
	if n < 1 || n > MaxCaptureRecord {
		return rec, buf, fmt.Errorf("capture stream: record of %d bytes", n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	b := buf[:n]
	if _, err := io.ReadFull(r, b); err != nil {
		return rec, buf, fmt.Errorf("capture stream: %w", io.ErrUnexpectedEOF)
	}
	rec.Type, b = b[0], b[1:]
	switch rec.Type {
	case RecHeader:
		rec.Header = &CaptureHeader{}
		if err := json.Unmarshal(b, rec.Header); err != nil {
			return rec, buf, fmt.Errorf("capture stream header: %w", err)
		}
	case RecEnd:
		rec.End = &CaptureEnd{}
		if err := json.Unmarshal(b, rec.End); err != nil {
			return rec, buf, fmt.Errorf("capture stream end: %w", err)
		}
	case RecPacket:
		if len(b) < 17 {
			return rec, buf, errors.New("capture stream: short packet record")
		}
		p := &rec.Packet
		p.Endpoint = int(binary.BigEndian.Uint16(b))
		p.Dir = dataplane.CaptureDir(b[2])
		p.Time = time.Unix(0, int64(binary.BigEndian.Uint64(b[3:])))
		p.OrigLen = int(binary.BigEndian.Uint32(b[11:]))
		cl := int(binary.BigEndian.Uint16(b[15:]))
		if len(b) < 17+cl {
			return rec, buf, errors.New("capture stream: short comment")
		}
		p.Comment, p.Data = b[17:17+cl], b[17+cl:]
		if p.OrigLen < len(p.Data) {
			return rec, buf, errors.New("capture stream: frame longer than its original")
		}
	default:
		return rec, buf, fmt.Errorf("capture stream: record type %q", rec.Type)
	}
	return rec, buf, nil
}

// CaptureWriter writes a record stream (the daemon's side; tests).
type CaptureWriter struct {
	w   *bufio.Writer
	hdr [4 + 1 + 17]byte
}

// NewCaptureWriter writes records to w, buffered: call Flush.
func NewCaptureWriter(w io.Writer) *CaptureWriter {
	return &CaptureWriter{w: bufio.NewWriterSize(w, 64<<10)}
}

// Flush writes out what is buffered.
func (cw *CaptureWriter) Flush() error { return cw.w.Flush() }

// Header and End write the first and last records.
func (cw *CaptureWriter) Header(h CaptureHeader) error { return cw.json(RecHeader, h) }
func (cw *CaptureWriter) End(e CaptureEnd) error       { return cw.json(RecEnd, e) }

func (cw *CaptureWriter) json(t byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint32(cw.hdr[:], uint32(1+len(b)))
	cw.hdr[4] = t
	cw.w.Write(cw.hdr[:5])
	_, err = cw.w.Write(b)
	return err
}

// Packet writes a frame record.
func (cw *CaptureWriter) Packet(ep int, dir dataplane.CaptureDir, ts time.Time, orig int, comment string, data []byte) error {
	if len(comment) > 1<<16-1 {
		comment = comment[:1<<16-1]
	}
	h := cw.hdr[:]
	binary.BigEndian.PutUint32(h, uint32(1+17+len(comment)+len(data)))
	h[4] = RecPacket
	binary.BigEndian.PutUint16(h[5:], uint16(ep))
	h[7] = byte(dir)
	binary.BigEndian.PutUint64(h[8:], uint64(ts.UnixNano()))
	binary.BigEndian.PutUint32(h[16:], uint32(orig))
	binary.BigEndian.PutUint16(h[20:], uint16(len(comment)))
	cw.w.Write(h)
	cw.w.WriteString(comment)
	_, err := cw.w.Write(data)
	return err
}

// CaptureRequest is what GET /capture asks for; its query form is built by
// Query and read by parseCaptureRequest.
type CaptureRequest struct {
	Endpoints []string // instance, ENI (name or id), internet host or NAT gateway (name or id)
	Host      string
	Port      int
	Proto     string // tcp, udp, icmp or a number
	Dir       string // in, out, both
	Snaplen   int
	Count     int
	Duration  time.Duration
	Drops     bool
	Segment   bool
}

// Query encodes r for GET /capture.
func (r *CaptureRequest) Query() url.Values {
	q := url.Values{"ep": r.Endpoints}
	set := func(k, v string, ok bool) {
		if ok {
			q.Set(k, v)
		}
	}
	set("host", r.Host, r.Host != "")
	set("port", strconv.Itoa(r.Port), r.Port != 0)
	set("proto", r.Proto, r.Proto != "")
	set("dir", r.Dir, r.Dir != "")
	set("snaplen", strconv.Itoa(r.Snaplen), r.Snaplen != 0)
	set("count", strconv.Itoa(r.Count), r.Count != 0)
	set("duration", r.Duration.String(), r.Duration != 0)
	set("drops", "1", r.Drops)
	set("segment", "1", r.Segment)
	return q
}

// protoNumbers names the protocols --proto takes.
var protoNumbers = map[string]uint8{"tcp": 6, "udp": 17, "icmp": 1}

// parseCaptureRequest checks a request's query and makes the dataplane's
// spec of it (endpoints not yet resolved).
func parseCaptureRequest(q url.Values) (CaptureRequest, dataplane.CaptureSpec, error) {
	var r CaptureRequest
	var spec dataplane.CaptureSpec
	r.Endpoints = q["ep"]
	if len(r.Endpoints) == 0 {
		return r, spec, errors.New("name at least one instance, ENI, internet host or NAT gateway to capture")
	}
	if len(r.Endpoints) > 64 {
		return r, spec, errors.New("at most 64 endpoints per capture")
	}
	num := func(k string, max int) (int, error) {
		v := q.Get(k)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > max {
			return 0, fmt.Errorf("--%s %q: a number from 0 to %d", k, v, max)
		}
		return n, nil
	}
	var err error
	if r.Host = q.Get("host"); r.Host != "" {
		a, err := netip.ParseAddr(r.Host)
		if err != nil || !a.Is4() {
			return r, spec, fmt.Errorf("--host %q: an IPv4 address", r.Host)
		}
		spec.Filter.Host = a
	}
	if r.Port, err = num("port", 65535); err != nil {
		return r, spec, err
	}
	spec.Filter.Port = uint16(r.Port)
	if r.Proto = strings.ToLower(q.Get("proto")); r.Proto != "" {
		p, ok := protoNumbers[r.Proto]
		if !ok {
			n, err := strconv.Atoi(r.Proto)
			if err != nil || n < 1 || n > 255 {
				return r, spec, fmt.Errorf("--proto %q: tcp, udp, icmp or a protocol number 1-255", r.Proto)
			}
			p = uint8(n)
		}
		spec.Filter.Proto = p
	}
	switch r.Dir = q.Get("dir"); r.Dir {
	case "", "both":
		spec.Dir = dataplane.CaptureBoth
	case "in":
		spec.Dir = dataplane.CaptureIn
	case "out":
		spec.Dir = dataplane.CaptureOut
	default:
		return r, spec, fmt.Errorf("--direction %q: in, out or both", r.Dir)
	}
	if r.Snaplen, err = num("snaplen", 1<<18); err != nil {
		return r, spec, err
	}
	if r.Count, err = num("count", 1<<31-1); err != nil {
		return r, spec, err
	}
	if v := q.Get("duration"); v != "" {
		if r.Duration, err = time.ParseDuration(v); err != nil || r.Duration < 0 {
			return r, spec, fmt.Errorf("--duration %q: a duration such as 10s", v)
		}
	}
	r.Drops, r.Segment = q.Get("drops") == "1", q.Get("segment") == "1"
	spec.Drops = r.Drops
	spec.Snaplen = r.Snaplen
	if r.Segment {
		spec.Snaplen = 0 // whole super-frames to split; each segment is snapped
	}
	return r, spec, nil
}

// resolveEndpoint finds what the user named: an instance (its primary
// ENI), an ENI by name or id, an internet host, or a NAT gateway by name
// or id (its ENI: in is what reaches the gateway, out what it sends on
// translated). Call it with d.mu held.
func resolveEndpoint(n *topology.Network, name string) (CaptureEndpoint, bool) {
	if i := n.InstanceByName[name]; i != nil && len(i.ENIs) > 0 {
		return CaptureEndpoint{Name: name, ID: i.ENIs[0].ID, Kind: "eni"}, true
	}
	for _, v := range n.VPCs {
		for _, e := range v.ENIs {
			if e.Name == name || e.ID == name {
				return CaptureEndpoint{Name: e.Name, ID: e.ID, Kind: "eni"}, true
			}
		}
		for _, g := range v.NATs {
			if g.Name == name || g.ID == name {
				return CaptureEndpoint{Name: g.Name, ID: g.ENI.ID, Kind: "nat-gateway"}, true
			}
		}
	}
	for _, h := range n.Hosts {
		if h.Name == name {
			return CaptureEndpoint{Name: h.Name, ID: h.Name, Kind: "internet-host"}, true
		}
	}
	return CaptureEndpoint{}, false
}

// dropComment is a dropped frame's pcapng comment: the reason and what
// decided it (OBS-2).
func dropComment(fr *dataplane.CapturedFrame) string {
	if fr.Drop == "" {
		return ""
	}
	s := "vpcnet drop: " + fr.Drop
	if fr.By != "" {
		s += " by " + fr.By
	}
	switch {
	case fr.Rule == 32767:
		s += " rule *"
	case fr.Rule > 0:
		s += " rule " + strconv.Itoa(int(fr.Rule))
	}
	return s
}

// handleCapture serves GET /capture.
func (d *Daemon) handleCapture(w http.ResponseWriter, r *http.Request) {
	req, spec, err := parseCaptureRequest(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var hdr CaptureHeader
	d.mu.Lock()
	for _, name := range req.Endpoints {
		ep, ok := resolveEndpoint(d.net, name)
		if !ok {
			d.mu.Unlock()
			http.Error(w, fmt.Sprintf("%q: no instance, ENI, internet host or NAT gateway of that name or id", name), http.StatusNotFound)
			return
		}
		hdr.Endpoints = append(hdr.Endpoints, ep)
		spec.Endpoints = append(spec.Endpoints, ep.ID)
	}
	d.mu.Unlock()
	c, err := d.fwd.StartCapture(spec)
	if err != nil {
		http.Error(w, err.Error()+" (is its instance running?)", http.StatusNotFound)
		return
	}
	defer c.Close()
	hdr.Snaplen = req.Snaplen
	if hdr.Snaplen == 0 {
		hdr.Snaplen = dataplane.MaxFrame
	}
	// A capture lasts as long as the client wants, past the server's
	// write timeout.
	http.NewResponseController(w).SetWriteDeadline(time.Time{})
	ctx := r.Context()
	if req.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Duration)
		defer cancel()
	}
	w.Header().Set("Content-Type", "application/vnd.vpcnet.capture")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	cw := NewCaptureWriter(w)
	flush := func() error {
		if err := cw.w.Flush(); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	cw.Header(hdr)
	if flush() != nil {
		return
	}
	var n uint64
	var fr dataplane.CapturedFrame
	var segBuf []byte
	var werr error
	emit := func(data []byte, orig int) {
		if req.Count > 0 && n >= uint64(req.Count) || werr != nil {
			return
		}
		if req.Snaplen > 0 && len(data) > req.Snaplen {
			data = data[:req.Snaplen]
		}
		werr = cw.Packet(fr.Endpoint, fr.Dir, fr.Time, orig, dropComment(&fr), data)
		n++
	}
	for werr == nil && (req.Count == 0 || n < uint64(req.Count)) {
		if !c.TryRead(&fr) {
			// Idle: what is buffered goes to the client now.
			if werr = flush(); werr != nil || !c.Read(ctx, &fr) {
				break
			}
		}
		if req.Segment {
			segBuf = dataplane.Segments(fr.Vnet[:], fr.Data, segBuf, func(s []byte) { emit(s, len(s)) })
		} else {
			emit(fr.Data, fr.OrigLen)
		}
	}
	if werr != nil {
		return // the client is gone
	}
	c.Close() // Lost is final
	cw.End(CaptureEnd{Captured: n, Lost: c.Lost()})
	flush()
}

// Capture starts a capture and returns the stream of records; the caller
// reads it with ReadCaptureRecord and closes it, which ends the capture.
func (c *Client) Capture(req *CaptureRequest) (io.ReadCloser, error) {
	if c.nameErr != nil {
		return nil, c.nameErr
	}
	hr, err := http.NewRequest(http.MethodGet, "http://vpcnet/capture?"+req.Query().Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, c.callErr(err, 0)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("capture: %s", strings.TrimSpace(string(b)))
	}
	return resp.Body, nil
}
