//go:build !linux

package dataplane

import "net/netip"

// GenevePort is Geneve's UDP port (RFC 8926).
const GenevePort = 6081

// MaxGeneveInnerFrame is the largest Ethernet frame the tunnel carries.
const MaxGeneveInnerFrame = 65535 - 20 - 8 - 24

// Geneve is this machine's tunnel socket (Linux only).
type Geneve struct{}

func OpenGeneve(fd int) (*Geneve, error)                         { return nil, ErrUnsupported }
func (g *Geneve) Port(peer netip.Addr, vni uint32) (Port, error) { return nil, ErrUnsupported }
func (g *Geneve) Dropped() (unknown, bad uint64)                 { return 0, 0 }
func (g *Geneve) Close() error                                   { return nil }
