package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"

	"github.com/vpcnet/vpcnet/daemon"
	"github.com/vpcnet/vpcnet/dataplane"
)

// epbOptions reads each enhanced packet block's opt_comment and epb_flags
// from a pcapng file (pcapgo's NgReader skips packet options).
func epbOptions(t testing.TB, b []byte) (comments []string, flags []uint32) {
	t.Helper()
	le := binary.LittleEndian
	for len(b) >= 12 {
		typ, n := le.Uint32(b), int(le.Uint32(b[4:]))
		if n < 12 || n > len(b) || le.Uint32(b[n-4:]) != uint32(n) {
			t.Fatalf("bad block length %d", n)
		}
		if typ == 6 {
			capLen := int(le.Uint32(b[20:]))
			o := 28 + capLen + (4-capLen&3)&3
			var c string
			var f uint32
			for o+4 <= n-4 {
				code, l := le.Uint16(b[o:]), int(le.Uint16(b[o+2:]))
				if code == 0 {
					break
				}
				v := b[o+4 : o+4+l]
				switch code {
				case 1:
					c = string(v)
				case 2:
					f = le.Uint32(v)
				}
				o += 4 + l + (4-l&3)&3
			}
			comments, flags = append(comments, c), append(flags, f)
		}
		b = b[n:]
	}
	return
}

// A stream becomes pcapng that gopacket's NgReader reads back: one named
// interface per endpoint, every frame on its interface with its lengths;
// the drop's comment and the directions are in the blocks' options.
func TestWriteCapturePcapng(t *testing.T) {
	var s bytes.Buffer
	cw := daemon.NewCaptureWriter(&s)
	cw.Header(daemon.CaptureHeader{Snaplen: 65535, Endpoints: []daemon.CaptureEndpoint{
		{Name: "web", ID: "eni-0a", Kind: "eni"}, {Name: "nat1", ID: "eni-0b", Kind: "nat-gateway"}}})
	ts := time.Unix(1700000000, 5)
	frames := [][]byte{bytes.Repeat([]byte{1}, 60), bytes.Repeat([]byte{2}, 61), bytes.Repeat([]byte{3}, 63)}
	cw.Packet(0, dataplane.CaptureOut, ts, 60, "", frames[0])
	cw.Packet(1, dataplane.CaptureIn, ts.Add(time.Millisecond), 1500, "", frames[1])
	cw.Packet(0, 0, ts.Add(2*time.Millisecond), 63, "vpcnet drop: network-acl ingress (NACL-4) by acl-1 rule 50", frames[2])
	cw.End(daemon.CaptureEnd{Captured: 3, Lost: 4})
	cw.Flush()
	var out bytes.Buffer
	end, err := writeCapture(&s, &out)
	if err != nil || end != (daemon.CaptureEnd{Captured: 3, Lost: 4}) {
		t.Fatalf("writeCapture: %+v %v", end, err)
	}
	r, err := pcapgo.NewNgReader(bytes.NewReader(out.Bytes()), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	wantIf, wantLen := []int{0, 1, 0}, []int{60, 1500, 63}
	for i := 0; ; i++ {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			if i != 3 {
				t.Fatalf("read %d packets, want 3", i)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, frames[i]) || ci.InterfaceIndex != wantIf[i] || ci.Length != wantLen[i] || !ci.Timestamp.Equal(ts.Add(time.Duration(i)*time.Millisecond)) {
			t.Errorf("packet %d: if %d len %d ts %v", i, ci.InterfaceIndex, ci.Length, ci.Timestamp)
		}
	}
	// NgReader reads interface blocks as it meets them.
	if r.NInterfaces() != 2 {
		t.Fatalf("%d interfaces", r.NInterfaces())
	}
	for i, want := range []string{"web", "nat1"} {
		if intf, _ := r.Interface(i); intf.Name != want {
			t.Errorf("interface %d named %q, want %q", i, intf.Name, want)
		}
	}
	comments, flags := epbOptions(t, out.Bytes())
	if want := []string{"", "", "vpcnet drop: network-acl ingress (NACL-4) by acl-1 rule 50"}; len(comments) != 3 || comments[0] != want[0] || comments[1] != want[1] || comments[2] != want[2] {
		t.Errorf("comments %q, want %q", comments, want)
	}
	if len(flags) != 3 || flags[0] != 2 || flags[1] != 1 || flags[2] != 0 {
		t.Errorf("epb_flags %v, want outbound, inbound, none", flags)
	}
}

// -w FILE: created 0600, never through a symbolic link.
func TestCaptureOutputFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.pcapng")
	w, closeOut, err := captureOutput(p)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	closeOut(true)
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v, want 0600", fi.Mode(), err)
	}
	link := filepath.Join(dir, "link")
	os.Symlink(filepath.Join(dir, "target"), link)
	if _, _, err := captureOutput(link); err == nil {
		t.Error("followed a symbolic link")
	}
	if _, err := os.Stat(filepath.Join(dir, "target")); err == nil {
		t.Error("the link's target was created")
	}
}
