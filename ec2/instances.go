package ec2

import (
	"net/netip"
	"slices"

	"github.com/vpcnet/vpcnet/topology"
)

func init() {
	for name, fn := range map[string]opFunc{
		"RunInstances":            (*Service).runInstances,
		"TerminateInstances":      (*Service).terminateInstances,
		"StopInstances":           (*Service).stopInstances,
		"StartInstances":          (*Service).startInstances,
		"ModifyInstanceAttribute": (*Service).modifyInstanceAttribute,
	} {
		operations[name] = fn
	}
}

// --- instances (INST-1..INST-3) ----------------------------------------------

func (d *Service) runInstances(r OpRequest) (any, error) {
	n := d.net
	s, ip, groups, name, err := d.newENIFields(r, "security-group-ids", "instance", topology.KindInstance)
	if err != nil {
		return nil, err
	}
	public := s.MapPublicIP
	switch r["associate-public-ip-address"] {
	case "true":
		public = true
	case "false":
		public = false
	}
	inst := &topology.Instance{Name: name, ID: n.NewID("i", name), Namespace: n.Name + "-" + name, Subnet: s, VPC: s.VPC,
		UserData: r["user-data"], AssociatePublicIP: public}
	eni := &topology.ENI{Name: name, ID: n.NewID("eni", name), Subnet: s, MAC: n.NewMAC(name), PrimaryIP: ip, Groups: groups,
		SourceDestCheck: true, Kind: topology.ENICompute, Description: "Primary network interface", ConnTrack: defaultConnTrack(),
		PublicIPs: map[netip.Addr]netip.Addr{}, Instance: inst}
	inst.ENIs = []*topology.ENI{eni}
	if d.k.NamespaceExists(inst.Namespace) {
		return nil, opErr("InvalidParameterValue", "Namespace %s exists already", inst.Namespace)
	}
	if public {
		if pool := n.RegionPool(); pool != nil {
			if a, ok := n.FreePublicIP(pool, netip.Addr{}); ok {
				eni.PublicIPs[ip] = a
			}
		}
	}
	s.VPC.ENIs = append(s.VPC.ENIs, eni)
	s.VPC.Instances = append(s.VPC.Instances, inst)
	n.InstanceByName[name] = inst
	if err := d.k.LaunchInstance(inst); err != nil {
		d.forget(inst)
		return nil, err
	}
	d.k.RefreshHosts()
	// A reservation, as EC2's RunInstances answers (its describe-instances
	// reservation has the same id).
	return map[string]any{"ReservationId": n.NewID("r", inst.Name), "OwnerId": n.AccountID(), "Groups": []any{},
		"Instances": []any{describeInstance(n, inst)}}, nil
}

// forget removes an instance and its primary ENI from the model and the
// kernel: ports, user_data, namespace.
func (d *Service) forget(inst *topology.Instance) {
	d.k.RemoveInstance(inst)
	v := inst.VPC
	v.Instances = slices.DeleteFunc(v.Instances, func(x *topology.Instance) bool { return x == inst })
	delete(d.net.InstanceByName, inst.Name)
	for _, e := range inst.ENIs {
		if e.DeviceIndex == 0 {
			d.dropENI(e)
		}
		e.Instance, e.DeviceIndex = nil, 0
	}
}

func (d *Service) instances(r OpRequest) ([]*topology.Instance, error) {
	var out []*topology.Instance
	for _, ref := range list(r["instance-ids"]) {
		i, err := d.findInstance(ref)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	if len(out) == 0 {
		return nil, opErr("MissingParameter", "The request must contain the parameter --instance-ids")
	}
	return out, nil
}

type stateChange struct {
	InstanceID    string `json:"InstanceId"`
	CurrentState  state  `json:"CurrentState"`
	PreviousState state  `json:"PreviousState"`
}

type state struct {
	Code int    `json:"Code"`
	Name string `json:"Name"`
}

var (
	stRunning    = state{16, "running"}
	stStopped    = state{80, "stopped"}
	stTerminated = state{48, "terminated"}
)

// InstanceState names an instance's state as EC2 does (running, stopped).
func InstanceState(i *topology.Instance) string { return instState(i).Name }

func instState(i *topology.Instance) state {
	if i.Stopped {
		return stStopped
	}
	return stRunning
}

func (d *Service) terminateInstances(r OpRequest) (any, error) {
	insts, err := d.instances(r)
	if err != nil {
		return nil, err
	}
	var out []stateChange
	for _, i := range insts {
		prev := instState(i)
		d.forget(i)
		out = append(out, stateChange{i.ID, stTerminated, prev})
	}
	d.k.RefreshHosts()
	return map[string]any{"TerminatingInstances": out}, nil
}

// stopInstances takes the instance's devices away and releases its dynamic
// public IP (INST-2); EIPs and private IPs stay.
func (d *Service) stopInstances(r OpRequest) (any, error) {
	insts, err := d.instances(r)
	if err != nil {
		return nil, err
	}
	var out []stateChange
	for _, i := range insts {
		prev := instState(i)
		if !i.Stopped {
			for _, e := range i.ENIs {
				d.k.UnplugENI(e)
				for priv, pub := range e.PublicIPs {
					if !isEIP(d.net, pub) {
						d.lastPublic[i.ID] = pub
						delete(e.PublicIPs, priv) // ADDR-4: the dynamic public IP is released
					}
				}
			}
			d.k.StopProcesses(i)
			i.Stopped = true
		}
		out = append(out, stateChange{i.ID, stStopped, prev})
	}
	return map[string]any{"StoppingInstances": out}, nil
}

func isEIP(n *topology.Network, a netip.Addr) bool {
	for _, e := range n.EIPs {
		if e.Addr == a {
			return true
		}
	}
	return false
}

// startInstances gives the devices back and takes a new dynamic public IP
// (INST-2). user_data does not run again (INST-3: once).
func (d *Service) startInstances(r OpRequest) (any, error) {
	insts, err := d.instances(r)
	if err != nil {
		return nil, err
	}
	var out []stateChange
	for _, i := range insts {
		prev := instState(i)
		if i.Stopped {
			for _, e := range i.ENIs {
				if err := d.k.PlugENI(i, e, e.DeviceIndex); err != nil {
					return nil, err
				}
			}
			i.Stopped = false
			e := i.Primary()
			if i.AssociatePublicIP {
				if _, has := e.PublicIPs[e.PrimaryIP]; !has {
					if pool := d.net.RegionPool(); pool != nil {
						if a, ok := d.net.FreePublicIP(pool, d.lastPublic[i.ID]); ok {
							e.PublicIPs[e.PrimaryIP] = a
						}
					}
				}
			}
		}
		out = append(out, stateChange{i.ID, stRunning, prev})
	}
	return map[string]any{"StartingInstances": out}, nil
}

func (d *Service) modifyInstanceAttribute(r OpRequest) (any, error) {
	i, err := d.findInstance(r["instance-id"])
	if err != nil {
		return nil, err
	}
	return d.modifyENI(i.Primary(), r)
}
