package nat

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
)

// OneToOne is the internet gateway's 1:1 NAT table (IGW-1): each private IP
// with a public IP or Elastic IP maps to exactly that address and back.
//
// It is read-mostly: lookups load an immutable snapshot atomically and take
// no lock; Set and Remove (control plane) copy the snapshot under mu and
// publish the copy, so a write costs O(entries). The zero value is an empty
// table ready to use; it must not be copied after first use.
type OneToOne struct {
	mu   sync.Mutex // serialises writers
	snap atomic.Pointer[oneToOneMaps]
}

type oneToOneMaps struct {
	pub  map[uint32]uint32 // private -> public
	priv map[uint32]uint32 // public -> private
}

// ErrNotIPv4 is returned for an address that is not IPv4.
var ErrNotIPv4 = errors.New("not an IPv4 address")

func (t *OneToOne) load() *oneToOneMaps {
	if m := t.snap.Load(); m != nil {
		return m
	}
	return &oneToOneMaps{}
}

// clone copies the current snapshot for a writer (mu held).
func (t *OneToOne) clone() *oneToOneMaps {
	old := t.load()
	n := &oneToOneMaps{
		pub:  make(map[uint32]uint32, len(old.pub)+1),
		priv: make(map[uint32]uint32, len(old.priv)+1),
	}
	for k, v := range old.pub {
		n.pub[k] = v
	}
	for k, v := range old.priv {
		n.priv[k] = v
	}
	return n
}

// Set maps priv to pub and back. Whatever either address was mapped to
// before is unmapped: associating an EIP that is in use moves it
// (re-association, EIP-2), and it replaces the public IP priv had.
func (t *OneToOne) Set(priv, pub netip.Addr) error {
	priv, pub = priv.Unmap(), pub.Unmap()
	if !priv.Is4() || !pub.Is4() {
		return ErrNotIPv4
	}
	a, b := addrU32(priv), addrU32(pub)
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.clone()
	if oldPub, ok := n.pub[a]; ok {
		delete(n.priv, oldPub)
	}
	if oldPriv, ok := n.priv[b]; ok {
		delete(n.pub, oldPriv)
	}
	n.pub[a], n.priv[b] = b, a
	t.snap.Store(n)
	return nil
}

// RemovePrivate unmaps priv and its public address; it reports whether a
// mapping existed.
func (t *OneToOne) RemovePrivate(priv netip.Addr) bool {
	priv = priv.Unmap()
	if !priv.Is4() {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.load().pub[addrU32(priv)]
	if !ok {
		return false
	}
	n := t.clone()
	delete(n.pub, addrU32(priv))
	delete(n.priv, b)
	t.snap.Store(n)
	return true
}

// RemovePublic unmaps pub (disassociation) and its private address; it
// reports whether a mapping existed.
func (t *OneToOne) RemovePublic(pub netip.Addr) bool {
	pub = pub.Unmap()
	if !pub.Is4() {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.load().priv[addrU32(pub)]
	if !ok {
		return false
	}
	n := t.clone()
	delete(n.priv, addrU32(pub))
	delete(n.pub, a)
	t.snap.Store(n)
	return true
}

// Public returns the public address of priv.
func (t *OneToOne) Public(priv netip.Addr) (netip.Addr, bool) {
	if !priv.Is4() {
		return netip.Addr{}, false
	}
	v, ok := t.load().pub[addrU32(priv)]
	if !ok {
		return netip.Addr{}, false
	}
	return u32Addr(v), true
}

// Private returns the private address pub is associated with.
func (t *OneToOne) Private(pub netip.Addr) (netip.Addr, bool) {
	if !pub.Is4() {
		return netip.Addr{}, false
	}
	v, ok := t.load().priv[addrU32(pub)]
	if !ok {
		return netip.Addr{}, false
	}
	return u32Addr(v), true
}

// Len returns the number of mappings.
func (t *OneToOne) Len() int { return len(t.load().pub) }

// Outbound translates a packet leaving through the internet gateway: its
// private source becomes the public address (IGW-1), ports untouched. A
// source with no public IP gives DropNoPublicIP (IGW-2).
func (t *OneToOne) Outbound(pkt []byte, partial bool) Verdict {
	if _, _, ok := ipv4Bounds(pkt); !ok {
		return DropMalformed
	}
	v, ok := t.load().pub[be32(pkt[12:])]
	if !ok {
		return DropNoPublicIP
	}
	var a [4]byte
	put32(a[:], v)
	if !rewrite(pkt, true, a, 0, false, partial) {
		return DropMalformed
	}
	return OK
}

// Inbound translates a packet entering from the internet: its public
// destination becomes the private address (IGW-1). A destination with no
// association gives DropNoAssociation (IGW-2).
func (t *OneToOne) Inbound(pkt []byte, partial bool) Verdict {
	if _, _, ok := ipv4Bounds(pkt); !ok {
		return DropMalformed
	}
	v, ok := t.load().priv[be32(pkt[16:])]
	if !ok {
		return DropNoAssociation
	}
	var a [4]byte
	put32(a[:], v)
	if !rewrite(pkt, false, a, 0, false, partial) {
		return DropMalformed
	}
	return OK
}
