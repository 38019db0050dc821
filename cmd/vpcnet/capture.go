package main

// `vpcnet capture`: the daemon streams the frames of the named endpoints
// (daemon/capture.go); this process writes them as pcapng. The file is
// written here, by the CLI, never by the daemon.
//
// pcapng: gopacket's pcapgo.NgWriter writes the section header and one
// interface description per endpoint (named after it). Its WritePacket
// (v1.1.19) writes no packet options, so the enhanced packet blocks are
// written by writeEPB below, with epb_flags (the direction) and, for a
// dropped frame, opt_comment (why, and which rule: OBS-2) — Wireshark shows
// it as the packet's comment.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/spf13/cobra"

	"github.com/vpcnet/vpcnet/daemon"
	"github.com/vpcnet/vpcnet/dataplane"
)

func captureCmd() *cobra.Command {
	var topo, file string
	var req daemon.CaptureRequest
	c := &cobra.Command{
		Use:   "capture ENDPOINT...",
		Short: "Capture the frames of instances, ENIs, internet hosts or NAT gateways as pcapng",
		Long: `Capture the frames of instances (their primary ENI), ENIs (name or eni- id),
internet hosts or NAT gateways (name or nat- id) as pcapng: one interface per
endpoint, named after it. Frames are captured as the forwarder sees them: "out"
as the endpoint sent them, "in" as it receives them (a NAT gateway: what
reaches it, and what it sends on translated).

  vpcnet capture web -w web.pcapng -c 100
  vpcnet capture web | tcpdump -n -r -
  vpcnet capture web db --port 5432 --duration 30s | wireshark -k -i -
  vpcnet capture db --drops -w why.pcapng    # dropped frames, each with its reason and rule as a comment`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Endpoints = args
			switch req.Dir {
			case "", "in", "out", "both":
			default:
				return fmt.Errorf("--direction %q: in, out or both", req.Dir)
			}
			out, closeOut, err := captureOutput(file)
			if err != nil {
				return err
			}
			t, err := pickTopology(topo)
			if err != nil {
				closeOut(false)
				return err
			}
			end, err := runCapture(daemon.NewClient(t), &req, out)
			if cerr := closeOut(err == nil); err == nil {
				err = cerr
			}
			if err != nil {
				return &exitError{exitFail, err}
			}
			fmt.Fprintf(os.Stderr, "%d frames captured", end.Captured)
			if end.Lost > 0 {
				fmt.Fprintf(os.Stderr, ", %d frames not captured (the reader was too slow)", end.Lost)
			}
			fmt.Fprintln(os.Stderr)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&topo, "topology", "", "topology name (default: the only one up)")
	fl.StringVarP(&file, "write", "w", "", "pcapng file to write (created 0600), - for stdout (the default when stdout is not a terminal)")
	fl.StringVar(&req.Host, "host", "", "only frames from or to this IPv4 address")
	fl.IntVar(&req.Port, "port", 0, "only TCP or UDP frames from or to this port")
	fl.StringVar(&req.Proto, "proto", "", "only this protocol: tcp, udp, icmp or a number")
	fl.StringVar(&req.Dir, "direction", "both", "in (to the endpoint), out (from it) or both")
	fl.IntVarP(&req.Count, "count", "c", 0, "stop after this many frames")
	fl.DurationVar(&req.Duration, "duration", 0, "stop after this long (e.g. 30s)")
	fl.IntVar(&req.Snaplen, "snaplen", 0, "bytes of each frame to keep (default: whole frames)")
	fl.BoolVar(&req.Segment, "segment", false, "split GSO super-frames into wire-sized segments (default: as they travel)")
	fl.BoolVar(&req.Drops, "drops", false, "capture the frames the forwarder dropped, each with its reason and rule as a comment")
	return c
}

// captureOutput opens where the capture goes: the file (root's, 0600, not
// through a symbolic link) or stdout. closeOut(keep) closes it; a file that
// got no capture (keep false) is removed.
func captureOutput(file string) (io.Writer, func(keep bool) error, error) {
	if file == "" || file == "-" {
		if file == "" && isTerminal(os.Stdout) {
			return nil, nil, errors.New("stdout is a terminal: write to a file with -w FILE, or pipe into `tcpdump -r -` or `wireshark -k -i -`")
		}
		return os.Stdout, func(bool) error { return nil }, nil
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, nil, err
	}
	return f, func(keep bool) error {
		err := f.Close()
		if !keep {
			if fi, serr := os.Stat(file); serr == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
				os.Remove(file)
			}
		}
		return err
	}, nil
}

// isTerminal reports whether f is a terminal (a character device that is
// not /dev/null).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

// runCapture streams a capture into out as pcapng until the daemon ends it
// (count, duration) or the user interrupts it (Ctrl-C): closing the stream
// ends the capture in the daemon. It returns the daemon's end counts.
func runCapture(cl *daemon.Client, req *daemon.CaptureRequest, out io.Writer) (daemon.CaptureEnd, error) {
	var end daemon.CaptureEnd
	body, err := cl.Capture(req)
	if err != nil {
		return end, err
	}
	defer body.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	defer signal.Stop(sig)
	interrupted := make(chan struct{})
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sig:
			close(interrupted)
			body.Close() // the read below returns; the daemon sees the stream close
		case <-done:
		}
	}()
	end, err = writeCapture(body, out)
	select {
	case <-interrupted:
		return end, nil // what was read is written
	default:
	}
	return end, err
}

// writeCapture copies the record stream r to w as pcapng.
func writeCapture(r io.Reader, w io.Writer) (daemon.CaptureEnd, error) {
	var end daemon.CaptureEnd
	br := bufio.NewReaderSize(r, 256<<10)
	rec, buf, err := daemon.ReadCaptureRecord(br, nil)
	if err != nil {
		return end, fmt.Errorf("capture: %w", err)
	}
	if rec.Header == nil {
		return end, errors.New("capture stream: no header")
	}
	pw, err := newPcapngWriter(w, rec.Header)
	if err != nil {
		return end, err
	}
	for {
		rec, buf, err = daemon.ReadCaptureRecord(br, buf)
		if err != nil {
			pw.flush()
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return end, err
			}
			return end, err
		}
		switch {
		case rec.End != nil:
			end = *rec.End
			return end, pw.close(end.Lost)
		case rec.Type == daemon.RecPacket:
			if err := pw.packet(&rec.Packet); err != nil {
				return end, err
			}
			end.Captured++
		}
	}
}

// pcapngWriter writes a capture as pcapng.
type pcapngWriter struct {
	bw   *bufio.Writer
	ng   *pcapgo.NgWriter
	n    int // interfaces
	scr  []byte
	last time.Time
}

func newPcapngWriter(w io.Writer, h *daemon.CaptureHeader) (*pcapngWriter, error) {
	if len(h.Endpoints) == 0 {
		return nil, errors.New("capture stream: no endpoint")
	}
	pw := &pcapngWriter{bw: bufio.NewWriterSize(w, 64<<10), n: len(h.Endpoints)}
	intf := func(e daemon.CaptureEndpoint) pcapgo.NgInterface {
		return pcapgo.NgInterface{Name: e.Name, Description: e.Kind + " " + e.ID, OS: "vpcnet",
			LinkType: layers.LinkTypeEthernet, SnapLength: uint32(h.Snaplen)}
	}
	opts := pcapgo.DefaultNgWriterOptions
	opts.SectionInfo.Application = "vpcnet capture"
	ng, err := pcapgo.NewNgWriterInterface(pw.bw, intf(h.Endpoints[0]), opts)
	if err != nil {
		return nil, err
	}
	for _, e := range h.Endpoints[1:] {
		if _, err := ng.AddInterface(intf(e)); err != nil {
			return nil, err
		}
	}
	pw.ng = ng
	return pw, ng.Flush() // the header is out: a reader on a pipe starts now
}

func (pw *pcapngWriter) packet(p *daemon.CapturePacket) error {
	if p.Endpoint >= pw.n {
		return fmt.Errorf("capture stream: interface %d of %d", p.Endpoint, pw.n)
	}
	var flags uint32
	switch p.Dir {
	case dataplane.CaptureIn:
		flags = 1 // inbound
	case dataplane.CaptureOut:
		flags = 2 // outbound
	}
	pw.scr = appendEPB(pw.scr[:0], p.Endpoint, p.Time, p.Data, p.OrigLen, flags, p.Comment)
	if _, err := pw.bw.Write(pw.scr); err != nil {
		return err
	}
	// A live reader (tcpdump -r -, wireshark -k -i -) sees frames as
	// they come, yet a busy capture is not a write per frame.
	if now := time.Now(); now.Sub(pw.last) > 100*time.Millisecond || pw.bw.Buffered() == 0 {
		pw.last = now
		return pw.bw.Flush()
	}
	return nil
}

func (pw *pcapngWriter) flush() error { return pw.bw.Flush() }

// close writes each interface's statistics (lost: the frames not captured,
// as isb_ifdrop of the first) and flushes.
func (pw *pcapngWriter) close(lost uint64) error {
	now := time.Now()
	if err := pw.ng.WriteInterfaceStats(0, pcapgo.NgInterfaceStatistics{LastUpdate: now, PacketsDropped: lost}); err != nil {
		return err
	}
	if err := pw.ng.Flush(); err != nil {
		return err
	}
	return pw.bw.Flush()
}

// appendEPB appends a pcapng enhanced packet block (block type 6) with the
// options epb_flags (when flags is not 0) and opt_comment (when comment is
// not empty) to b.
func appendEPB(b []byte, iface int, ts time.Time, data []byte, orig int, flags uint32, comment []byte) []byte {
	le := binary.LittleEndian
	pad := func(n int) int { return (4 - n&3) & 3 }
	optLen := 0
	if len(comment) > 0 {
		optLen += 4 + len(comment) + pad(len(comment))
	}
	if flags != 0 {
		optLen += 8
	}
	if optLen > 0 {
		optLen += 4 // opt_endofopt
	}
	total := 32 + len(data) + pad(len(data)) + optLen
	ns := uint64(ts.UnixNano())
	b = le.AppendUint32(b, 6)
	b = le.AppendUint32(b, uint32(total))
	b = le.AppendUint32(b, uint32(iface))
	b = le.AppendUint32(b, uint32(ns>>32))
	b = le.AppendUint32(b, uint32(ns))
	b = le.AppendUint32(b, uint32(len(data)))
	b = le.AppendUint32(b, uint32(orig))
	b = append(b, data...)
	b = append(b, make([]byte, pad(len(data)))...)
	if len(comment) > 0 {
		b = le.AppendUint16(b, 1) // opt_comment
		b = le.AppendUint16(b, uint16(len(comment)))
		b = append(b, comment...)
		b = append(b, make([]byte, pad(len(comment)))...)
	}
	if flags != 0 {
		b = le.AppendUint16(b, 2) // epb_flags
		b = le.AppendUint16(b, 4)
		b = le.AppendUint32(b, flags)
	}
	if optLen > 0 {
		b = le.AppendUint32(b, 0) // opt_endofopt
	}
	return le.AppendUint32(b, uint32(total))
}
