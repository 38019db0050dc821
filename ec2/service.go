// Package ec2 holds vpcnet's EC2 operations: one registry of them, by their
// EC2 names, and the Service that runs them on a network. The daemon owns
// the process, its sockets and the kernel; it serves every operation from
// this one registry, and so does the CLI that sends them.
//
// An operation checks everything first and returns an AWS-style *Error
// with nothing changed; then it changes the model (the Store's network) and,
// through the Kernel, the namespaces and ports. The caller then swaps the
// forwarder's tables (unless the operation is read-only).
package ec2

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/topology"
)

// readOnly are the operations that change nothing (no new forwarding
// tables); Define fills it.
var readOnly = map[string]bool{}

// Names returns every operation's name, sorted.
func Names() []string {
	out := make([]string, 0, len(typed))
	for n := range typed {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Exists reports whether there is an operation called name.
func Exists(name string) bool { _, ok := typed[name]; return ok }

// IsReadOnly reports whether operation name only reads the network.
func IsReadOnly(name string) bool { return readOnly[name] }

// Error is an operation's error in AWS's shape: a code such as
// InvalidGroup.NotFound and a message.
type Error struct {
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func opErr(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Store holds the network's state. Today it is the daemon's memory; the
// seam is here so that it can live in a distributed store later. Callers of
// Service.Call hold the store's lock.
type Store interface {
	Network() *topology.Network
}

// Kernel is what operations need done outside the model: devices in
// namespaces, forwarder ports, processes. The daemon implements it; each
// method leaves nothing half-made when it fails.
type Kernel interface {
	// NamespaceExists reports whether a namespace of that name exists.
	NamespaceExists(name string) bool
	// LaunchInstance makes inst's namespace, its ENIs' devices and ports,
	// and starts its user_data (INST-3).
	LaunchInstance(inst *topology.Instance) error
	// RemoveInstance removes inst's ports, processes and namespace.
	RemoveInstance(inst *topology.Instance)
	// StopProcesses ends what runs in inst (stop-instances).
	StopProcesses(inst *topology.Instance)
	// PlugENI creates eth<idx> for e in inst's namespace, hands it to the
	// forwarder and configures it.
	PlugENI(inst *topology.Instance, e *topology.ENI, idx int) error
	// UnplugENI closes e's port; its device leaves the namespace.
	UnplugENI(e *topology.ENI)
	// ConfigureENI re-applies an attached ENI's addresses and routes.
	ConfigureENI(e *topology.ENI) error
	// RemoveAddress takes private address a off e's device.
	RemoveAddress(e *topology.ENI, a netip.Addr)
	// RefreshHosts rewrites every namespace's hosts file.
	RefreshHosts()
	// ExplainPath answers path analysis from the forwarder's tables (OBS-3).
	ExplainPath(src string, dst netip.Addr, proto uint8, port uint16) (dataplane.PathAnalysis, error)
}

// ServiceKernel is a Kernel that runs each VPC's services (DNS-1, SG-8):
// the Amazon DNS server and the metadata service in a namespace of their
// own. The daemon is one; a kernel that is not (a dry run's, tests') has
// no services to start.
type ServiceKernel interface {
	// StartVPCServices makes v's service namespace and serves it
	// (CreateVpc); on failure nothing stays.
	StartVPCServices(v *topology.VPC) error
	// StopVPCServices removes v's service namespace (DeleteVpc).
	StopVPCServices(v *topology.VPC)
}

// Service runs operations on one network.
type Service struct {
	net        *topology.Network
	k          Kernel
	lastPublic map[string]netip.Addr // instance id → dynamic public IP it had before stop (ADDR-4)
	acct       *account              // key pairs and tags: the account's (keypairs.go), exported by Export (export.go)
	insight    *insightStore         // path analysis's paths and analyses (analyze.go)
}

// New returns a service over store's network and kernel k.
func New(store Store, k Kernel) *Service {
	d := &Service{net: store.Network(), k: k, lastPublic: map[string]netip.Addr{}, acct: newAccount()}
	d.loadAccount() // export.go: the file's tags and key pairs
	return d
}
