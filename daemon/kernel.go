package daemon

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/netns"
	"github.com/vpcnet/vpcnet/topology"
)

// The daemon is the EC2 operations' Kernel (ec2.Kernel): what they need
// done in namespaces, ports and processes. Each is called with d.mu held.

// NamespaceExists reports whether namespace name exists.
func (d *Daemon) NamespaceExists(name string) bool { return netns.Exists(name) }

// LaunchInstance builds inst's namespace and devices and starts its
// user_data (INST-3). On failure the caller removes what was made
// (RemoveInstance).
func (d *Daemon) LaunchInstance(inst *topology.Instance) error {
	if err := d.buildInstance(inst, hostEntries(d.net)); err != nil {
		return err
	}
	return d.startUserData(inst.Namespace, inst.Name, inst.UserData)
}

// RemoveInstance closes inst's ports, ends its processes and removes its
// namespace.
func (d *Daemon) RemoveInstance(inst *topology.Instance) {
	for _, e := range inst.ENIs {
		d.fwd.DetachPort(e.ID)
	}
	d.StopProcesses(inst)
	netns.Delete(inst.Namespace)
	d.st.Namespaces = slices.DeleteFunc(d.st.Namespaces, func(s string) bool { return s == inst.Namespace })
	d.st.write()
}

// StopProcesses ends inst's user_data and what it started.
func (d *Daemon) StopProcesses(inst *topology.Instance) {
	var keep []netns.Proc
	for _, p := range d.st.Procs {
		if p.Name == inst.Namespace {
			p.Stop(2 * time.Second)
			continue
		}
		keep = append(keep, p)
	}
	d.st.Procs = keep
	d.st.write()
}

// PlugENI creates eth<idx> for e in inst's namespace, hands it to the
// forwarder and configures it. On failure nothing stays.
func (d *Daemon) PlugENI(inst *topology.Instance, e *topology.ENI, idx int) error {
	ns, err := netns.Create(inst.Namespace)
	if err != nil {
		return err
	}
	defer ns.Close()
	dev := fmt.Sprintf("eth%d", idx)
	if err := d.addPort(ns, dev, e.ID); err != nil {
		return err
	}
	if err := netns.ConfigureIface(inst.Namespace, ns, idx, eniIface(dev, e)); err != nil {
		d.fwd.DetachPort(e.ID)
		return err
	}
	return nil
}

// UnplugENI closes e's port: closing the TAP removes its device.
func (d *Daemon) UnplugENI(e *topology.ENI) { d.fwd.DetachPort(e.ID) }

// ConfigureENI re-applies an attached ENI's addresses inside its instance.
func (d *Daemon) ConfigureENI(e *topology.ENI) error {
	if e.Instance == nil || e.Instance.Stopped {
		return nil
	}
	ns, err := netns.Create(e.Instance.Namespace)
	if err != nil {
		return err
	}
	defer ns.Close()
	dev := fmt.Sprintf("eth%d", e.DeviceIndex)
	return netns.ConfigureIface(e.Instance.Namespace, ns, e.DeviceIndex, eniIface(dev, e))
}

// RemoveAddress takes private address a off e's device, if it is plugged.
func (d *Daemon) RemoveAddress(e *topology.ENI, a netip.Addr) {
	if e.Instance == nil || e.Instance.Stopped {
		return
	}
	if ns, err := netns.Create(e.Instance.Namespace); err == nil {
		netns.DelAddr(ns, fmt.Sprintf("eth%d", e.DeviceIndex), netip.PrefixFrom(a, e.Subnet.CIDR.Bits()))
		ns.Close()
	}
}

// RefreshHosts rewrites every namespace's hosts file after instances came
// or went, so that names resolve to the instances that exist now.
func (d *Daemon) RefreshHosts() {
	entries := hostEntries(d.net)
	for _, v := range d.net.VPCs {
		for _, i := range v.Instances {
			netns.WriteHosts(i.Namespace, entries)
		}
	}
	for _, h := range d.net.Hosts {
		netns.WriteHosts(h.Namespace, entries)
	}
}

// ExplainPath answers path analysis from the forwarder's tables (OBS-3).
func (d *Daemon) ExplainPath(src string, dst netip.Addr, proto uint8, port uint16) (dataplane.PathAnalysis, error) {
	return d.fwd.ExplainPath(src, dst, proto, port)
}
