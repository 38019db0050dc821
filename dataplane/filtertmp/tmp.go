// Package filtertmp is a temporary stand-in until dataplane/filter lands.
package filtertmp

import (
	"errors"
	"net/netip"
)

type Packet struct {
	Src, Dst           netip.Addr
	Proto              uint8
	SrcPort, DstPort   uint16
	ICMPType, ICMPCode uint8
	ICMPID             uint16
	TCPFlags           uint8
	Len                int
}
type Verdict uint8

const (
	Allow Verdict = iota
	DropEgress
	DropIngress
	DropConntrackFull
)

type GroupID uint32
type Tracker struct{}

func (t *Tracker) Egress(p *Packet, now int64) (Verdict, GroupID)  { return Allow, 0 }
func (t *Tracker) Ingress(p *Packet, now int64) (Verdict, GroupID) { return Allow, 0 }
func (t *Tracker) SetGroups([]GroupID)                             {}

type ACL struct{}

func (a *ACL) Check(egress bool, p *Packet) (bool, int) { return true, 0 }

type Groups struct{}

func NewGroups() *Groups                            { return &Groups{} }
func ParseProtocol(s string) (int16, error)         { return 0, errors.New("x") }
func ParsePortRange(s string) (int32, int32, error) { return 0, 0, errors.New("x") }
func ParseCIDR(s string) (netip.Prefix, error)      { return netip.ParsePrefix(s) }
