package ec2

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"reflect"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/ec2/query"
	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// An operation is declared once, in the file of its area, with Define:
//
//	func init() {
//		Define("DescribeVpcs", ReadOnly, (*Service).describeVpcs)
//	}
//
//	func (d *Service) describeVpcs(in *types.DescribeVpcsRequest) (*types.DescribeVpcsResult, error)
//
// An operation that EC2 answers with nothing (its model has no output
// shape: DeleteNetworkAclEntry, ReleaseAddress …) has Out struct{}; its
// handler returns (nil, nil) or a *struct{}, and the operation answers nil
// (the socket sends null, the endpoint <return>true</return>, the CLI prints
// nothing), as EC2 does:
//
//	Define("ReleaseAddress", Mutating, (*Service).releaseAddress)
//
//	func (d *Service) releaseAddress(in *types.ReleaseAddressRequest) (*struct{}, error)
//
// Its input and output are EC2's own types (ec2/types, generated from EC2's
// model), so what it answers has EC2's member names, types and enum values.
// The unix socket, the EC2 endpoint and the CLI are all built from this
// registry: a new operation is this one declaration and its handler.

// Mode says whether an operation changes the network.
type Mode bool

// The modes of Define.
const (
	ReadOnly Mode = true  // reads only: no new forwarding tables, any caller timeout short
	Mutating Mode = false // changes the network
)

// typedOp is an operation over EC2's types.
type typedOp struct {
	call func(d *Service, in any) (any, error)
}

var typed = map[string]typedOp{}

// Define declares operation name with its handler. The handler is called
// with the store locked, and must change nothing when it returns an error.
// In and Out must be EC2's input and output types of name (Out struct{}
// when EC2 answers nothing): a mismatch panics at init.
func Define[In, Out any](name string, mode Mode, h func(d *Service, in *In) (*Out, error)) {
	want := reflect.TypeOf(types.NewInput(name))
	if want == nil || want != reflect.TypeOf((*In)(nil)) {
		panic(fmt.Sprintf("ec2: %s takes %v, not %T", name, want, (*In)(nil)))
	}
	noOutput := types.NewOutput(name) == nil
	wantOut, gotOut := reflect.TypeOf(types.NewOutput(name)), reflect.TypeOf((*Out)(nil))
	if noOutput {
		wantOut = reflect.TypeOf((*struct{})(nil))
	}
	if gotOut != wantOut {
		panic(fmt.Sprintf("ec2: %s answers %v, not %v", name, wantOut, gotOut))
	}
	if _, dup := typed[name]; dup {
		panic("ec2: " + name + " defined twice")
	}
	typed[name] = typedOp{call: func(d *Service, in any) (any, error) {
		out, err := h(d, in.(*In))
		if err != nil || noOutput {
			return nil, err
		}
		return out, nil
	}}
	if mode == ReadOnly {
		readOnly[name] = true
	}
}

// CallInput runs typed operation name on in, a request by EC2's member names
// (as ec2/query.Decode reads one, or as JSON from the socket). A request
// with DryRun true is checked as if it ran, and answers DryRunOperation
// with nothing changed (EC2's way); its real error otherwise.
func (d *Service) CallInput(name string, in map[string]any) (any, error) {
	op, ok := typed[name]
	if !ok {
		return nil, opErr("InvalidAction", "The action %s is not valid for this web service.", name)
	}
	v, err := types.DecodeInput(name, in)
	if err != nil {
		return nil, fromQuery(err)
	}
	if dry, _ := in["DryRun"].(bool); dry {
		return nil, d.dryRun(op, v)
	}
	specs := creationTags(v)
	var before map[string]bool
	if len(specs) > 0 {
		before = map[string]bool{}
		for _, r := range d.resources() {
			before[r.id] = true
		}
	}
	out, err := op.call(d, v)
	if err == nil && len(specs) > 0 {
		err = d.tagNew(before, specs)
	}
	return out, err
}

// creationTags returns the tags other than Name that a request's
// TagSpecifications give the resources it creates, by resource type: EC2
// tags them as it makes them (Terraform and the AWS CLI send them so). The
// operation has checked them already (nameFromTags).
func creationTags(in any) map[types.ResourceType][]types.Tag {
	f := reflect.ValueOf(in).Elem().FieldByName("TagSpecifications")
	if !f.IsValid() {
		return nil
	}
	specs, ok := f.Interface().([]types.TagSpecification)
	if !ok {
		return nil
	}
	out := map[types.ResourceType][]types.Tag{}
	for _, s := range specs {
		for _, t := range s.Tags {
			if deref(t.Key) != "Name" {
				out[s.ResourceType] = append(out[s.ResourceType], t)
			}
		}
	}
	return out
}

// tagNew puts specs' tags on the resources the operation made: those not
// in before, of each spec's resource type.
func (d *Service) tagNew(before map[string]bool, specs map[types.ResourceType][]types.Tag) error {
	for _, r := range d.resources() {
		if tags := specs[r.kind]; !before[r.id] && len(tags) > 0 {
			// Checked before the operation ran (nameFromTags): a refusal
			// here is vpcnet's fault, said as such.
			if _, err := d.createTags(&types.CreateTagsRequest{Resources: []string{r.id}, Tags: tags}); err != nil {
				return opErr("InternalError", "%s was created, but its tags were not put on it: %v", r.id, err)
			}
		}
	}
	return nil
}

// dryRun runs op on a copy of the network (exported and loaded again,
// which keeps every id) with a kernel that changes nothing, and answers
// DryRunOperation if it would have succeeded, or the error it would have
// given.
func (d *Service) dryRun(op typedOp, v any) error {
	b, err := json.Marshal(topology.Export(d.net))
	if err != nil {
		return err
	}
	n, err := topology.Load(b)
	if err != nil {
		return fmt.Errorf("dry run: the network does not copy: %w", err)
	}
	shadow := &Service{net: n, k: nopKernel{d.k}, lastPublic: maps.Clone(d.lastPublic), acct: d.account().clone(), insight: d.insights().clone()}
	if _, err := op.call(shadow, v); err != nil {
		return err
	}
	return &Error{Code: "DryRunOperation", Message: query.DryRunMessage}
}

// nopKernel is a dry run's kernel: it reads the real one, changes nothing.
type nopKernel struct{ real Kernel }

func (k nopKernel) NamespaceExists(name string) bool                   { return k.real.NamespaceExists(name) }
func (nopKernel) LaunchInstance(*topology.Instance) error              { return nil }
func (nopKernel) RemoveInstance(*topology.Instance)                    {}
func (nopKernel) StopProcesses(*topology.Instance)                     {}
func (nopKernel) PlugENI(*topology.Instance, *topology.ENI, int) error { return nil }
func (nopKernel) UnplugENI(*topology.ENI)                              {}
func (nopKernel) ConfigureENI(*topology.ENI) error                     { return nil }
func (nopKernel) RemoveAddress(*topology.ENI, netip.Addr)              {}
func (nopKernel) RefreshHosts()                                        {}
func (k nopKernel) ExplainPath(src string, dst netip.Addr, proto uint8, port uint16) (dataplane.PathAnalysis, error) {
	return k.real.ExplainPath(src, dst, proto, port)
}

// fromQuery turns ec2/query's errors into operation errors.
func fromQuery(err error) error {
	var qe *query.Error
	if errors.As(err, &qe) {
		return &Error{Code: qe.Code, Message: qe.Message}
	}
	return err
}
