package dataplane

// Frames between machines (issue 16). When a network is spread over several
// machines, each runs a forwarder for what is placed on it
// (topology.Network.HostOf). A frame for an ENI on another machine leaves
// this forwarder after the sender's side of the pipeline (source/dest check,
// the sender's groups and their tracked flows, the route, the NACL as it
// leaves the subnet) and is carried in Geneve (RFC 8926) to the machine
// that holds the ENI, whose forwarder does the rest (the NACL as it enters
// the subnet, the receiver's check and groups, a NAT gateway, delivery).
// Each ENI's tracked flows thus live where its instance runs, as a
// stateful group needs.
//
// The encapsulation is geneve_linux.go's: one UDP socket per machine in
// the underlay's namespace, a Port per (peer machine, VNI), a GSO
// super-frame whole in one datagram with its virtio-net header in a Geneve
// option. A VPC's frames travel under its VNI (VNIs); the emulated
// internet's under InternetVNI.
//
// The inner Ethernet addresses carry what the receiver needs: the
// destination MAC is the ENI the sender's route chose (the instance, or a
// NAT gateway's ENI that the address alone would not name), the source MAC
// the sending ENI, which gives its subnet (NACL-4: only between subnets).
//
// Peers are watched in the data path itself: each forwarder sends a
// heartbeat frame to every peer every heartbeatEvery, and a frame for a
// machine not heard for peerTimeout (its agent died, the underlay is cut)
// is a counted drop, peer-unreachable, not a frame lost in silence.

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"sort"
	"sync/atomic"
	"time"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/topology"
)

// InternetVNI is the VNI of the emulated internet's frames between
// machines; a VPC's VNI is never it (VNIs).
const InternetVNI = 1

const (
	heartbeatEvery = 200 * time.Millisecond
	peerTimeout    = time.Second
	// etherHeartbeat is IEEE 802's local experimental EtherType: a
	// heartbeat is never an IPv4 frame of an instance.
	etherHeartbeat = 0x88b5
)

// VNIs gives every VPC of n its VNI: 24 bits of FNV-1a of its id, the next
// free one on a collision, in the order of the ids, so that every machine
// that reads the same network computes the same VNIs without asking
// anyone.
func VNIs(n *topology.Network) map[string]uint32 {
	ids := make([]string, 0, len(n.VPCs))
	for _, v := range n.VPCs {
		ids = append(ids, v.ID)
	}
	sort.Strings(ids)
	out := make(map[string]uint32, len(ids))
	used := map[uint32]bool{0: true, InternetVNI: true}
	for _, id := range ids {
		h := fnv.New32a()
		h.Write([]byte(id))
		vni := h.Sum32() & 0xffffff
		for used[vni] {
			vni = (vni + 1) & 0xffffff
		}
		used[vni] = true
		out[id] = vni
	}
	return out
}

// peerState is what the forwarder knows of another machine: when it last
// heard it, and the drops of frames to and from it.
type peerState struct {
	name     string
	lastSeen atomic.Int64 // clock() of its last heartbeat; 0: never heard
	ctr      counters
}

func (p *peerState) alive(now int64) bool {
	t := p.lastSeen.Load()
	return t != 0 && now-t < int64(peerTimeout)
}

// tunnelCfg is the way to one machine under one VNI.
type tunnelCfg struct {
	peer *peerState
	vni  uint32
	port Port // nil: no device to that machine (it never registered)
	vpc  *vpcCfg
}

// TunnelKey names the way to one machine under one VNI.
type TunnelKey struct {
	Machine string
	VNI     uint32
}

func tunnelID(machine string, vni uint32) string { return fmt.Sprintf("tunnel:%s:%d", machine, vni) }

// AttachTunnel gives the forwarder the Geneve port to
// machine under vni, and starts its worker and the heartbeats.
func (f *Forwarder) AttachTunnel(machine string, vni uint32, p Port) {
	f.mu.Lock()
	f.st.tunnels[TunnelKey{machine, vni}] = p
	f.startHeartbeats()
	f.mu.Unlock()
	f.AttachPort(tunnelID(machine, vni), p)
}

// DetachTunnel closes the port to machine under vni.
func (f *Forwarder) DetachTunnel(machine string, vni uint32) {
	f.mu.Lock()
	delete(f.st.tunnels, TunnelKey{machine, vni})
	f.mu.Unlock()
	f.DetachPort(tunnelID(machine, vni))
}

// PeerAlive reports whether machine was heard within peerTimeout.
func (f *Forwarder) PeerAlive(machine string) bool {
	f.mu.Lock()
	p := f.st.peers[machine]
	f.mu.Unlock()
	return p != nil && p.alive(clock())
}

// peer returns machine's state, made on first sight. Caller holds f.mu
// (compile runs under it).
func (st *state) peer(machine string) *peerState {
	p := st.peers[machine]
	if p == nil {
		p = &peerState{name: machine}
		st.peers[machine] = p
	}
	return p
}

// compileTunnels marks what n places on other machines: their ENIs and
// internet hosts get the tunnel that leads there, and each tunnel port the
// VPC (or the internet) it carries. A single-machine network (no Machine in
// the options) has none.
func (st *state) compileTunnels(c *config, n *topology.Network) {
	self := st.opts.Machine
	if self == "" || !n.Distributed() {
		return
	}
	vnis := VNIs(n)
	c.tunnels = map[string]*tunnelCfg{}
	c.internetTunnels = map[*peerState]*tunnelCfg{}
	tunnel := func(machine string, vni uint32, vpc *vpcCfg) *tunnelCfg {
		id := tunnelID(machine, vni)
		if t := c.tunnels[id]; t != nil {
			return t
		}
		t := &tunnelCfg{peer: st.peer(machine), vni: vni, port: st.tunnels[TunnelKey{machine, vni}], vpc: vpc}
		c.tunnels[id] = t
		if vni == InternetVNI {
			c.internetTunnels[t.peer] = t
		}
		return t
	}
	byVNI := make(map[uint32]*vpcCfg, len(c.vpcs))
	for _, vc := range c.vpcs {
		vc.vni = vnis[vc.id]
		byVNI[vc.vni] = vc
	}
	for k := range st.tunnels { // every port has its receiving side, placed or not
		tunnel(k.Machine, k.VNI, byVNI[k.VNI])
	}
	for _, v := range n.VPCs {
		for _, e := range v.ENIs {
			if m := n.ENIHost(e); m != self {
				ec := c.eniByID[e.ID]
				ec.remote = tunnel(m, ec.vpc.vni, ec.vpc)
				ec.port = nil
				tunnel(m, InternetVNI, nil) // the internet gateway's way there (fromIGW)
			}
		}
	}
	if m := n.InternetHost(); m != self {
		for _, h := range c.hostByName {
			h.remote = tunnel(m, InternetVNI, nil)
			h.port = nil
		}
	}
}

// tunnel sends the frame to another machine through t (issue 16), with
// Ethernet addresses dst and src. c counts a drop: the destination's
// counters as this machine keeps them.
func (w *worker) tunnel(t *tunnelCfg, c *counters, dst, src []byte) {
	switch {
	case w.tunnelled:
		// Came through a tunnel and was not translated here: the machines
		// disagree on where its destination is (a change on its way).
		// Never send it back onto the underlay, which could loop.
		w.drop(c, dropMisdirected)
	case t.port == nil:
		w.drop(c, dropNoPeer)
	case !t.peer.alive(w.now):
		w.drop(c, dropPeerUnreachable)
	case w.crossed && w.p.ip.TTL() <= 1:
		// Translated here and sent on again: two gateways on two machines
		// routing to each other would pass it back and forth for ever.
		w.drop(c, dropHopLimit)
	default:
		if w.crossed {
			w.p.ip.DecTTL()
		}
		w.deliver(t.port, &t.peer.ctr, dst, src)
	}
}

// fromTunnel handles a frame another machine's forwarder sent here: a
// VPC's frame goes to the rest of the pipeline at the receiving ENI, the
// internet's onto the emulated internet.
func (w *worker) fromTunnel(cfg *config, t *tunnelCfg) {
	w.tunnelled, w.crossed = true, true
	c := &t.peer.ctr
	c.rxFrames.Add(1)
	c.rxBytes.Add(uint64(len(w.p.frame) - header.VnetHdrLen))
	if t.vni == InternetVNI {
		w.internet(cfg, c, 0)
		return
	}
	v := t.vpc
	if v == nil {
		w.drop(c, dropMisdirected) // a VPC this machine does not know (yet)
		return
	}
	eth := header.Ethernet(w.p.frame[header.VnetHdrLen:])
	to := v.byMAC[mac6(eth.Dst())]
	if to == nil || to.remote != nil {
		w.drop(c, dropMisdirected)
		return
	}
	from := v.byMAC[mac6(eth.Src())] // nil: it came in through the internet gateway
	if from != nil && (from.remote == nil || from.remote.peer != t.peer) {
		// Only the machine that holds an ENI sends as it: a frame naming
		// another's (a same-subnet one, to pass no NACL) is from outside
		// the subnet (NACL-4).
		from = nil
	}
	var s *subnetCfg
	if from != nil {
		s = from.subnet
	}
	w.arrive(cfg, s, from, to, 0)
}

// isHeartbeat reports whether frame (virtio-net header first) is a peer's
// heartbeat.
func isHeartbeat(frame []byte) bool {
	return len(frame) >= ipOff && binary.BigEndian.Uint16(frame[header.VnetHdrLen+12:]) == etherHeartbeat
}

// heartbeatFrame is what a forwarder sends its peers: broadcast, the
// experimental EtherType, the sender's name (for tcpdump's reader).
func heartbeatFrame(self string) []byte {
	b := make([]byte, header.VnetHdrLen+60)
	eth := b[header.VnetHdrLen:]
	copy(eth[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(eth[6:12], []byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01})
	binary.BigEndian.PutUint16(eth[12:], etherHeartbeat)
	copy(eth[14:], "vpcnet heartbeat "+self)
	return b
}

// startHeartbeats starts the sender of heartbeats once. Caller holds f.mu.
func (f *Forwarder) startHeartbeats() {
	if f.beating {
		return
	}
	f.beating = true
	frame := heartbeatFrame(f.st.opts.Machine)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		out := [][]byte{frame}
		for {
			select {
			case <-f.stop:
				return
			case <-t.C:
			}
			f.mu.Lock()
			for k, p := range f.st.tunnels {
				if k.VNI == InternetVNI { // one per machine is enough
					p.Write(out, 0)
				}
			}
			f.mu.Unlock()
		}
	}()
}

// internetTunnel is the internet's way to the machine t leads to;
// compileTunnels made one for every machine an ENI is on.
func (c *config) internetTunnel(t *tunnelCfg) *tunnelCfg {
	return c.internetTunnels[t.peer]
}
