package dataplane

import (
	filter "github.com/vpcnet/vpcnet/dataplane/filtertmp"
	"github.com/vpcnet/vpcnet/topology"
)

func (st *state) compileGroups(v *topology.VPC) {}

func (st *state) compileNACL(a *topology.NACL) *naclCfg {
	return &naclCfg{id: a.ID, acl: &filter.ACL{}}
}

func (st *state) newTracker(e *topology.ENI) *filter.Tracker { return nil }
