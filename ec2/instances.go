package ec2

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

func init() {
	Define("RunInstances", Mutating, (*Service).runInstances)
	Define("TerminateInstances", Mutating, (*Service).terminateInstances)
	Define("StopInstances", Mutating, (*Service).stopInstances)
	Define("StartInstances", Mutating, (*Service).startInstances)
	Define("ModifyInstanceAttribute", Mutating, (*Service).modifyInstanceAttribute)
}

// --- instances (INST-1..INST-3, LIFE-3) ----------------------------------------

const (
	// maxLaunch bounds the instances one RunInstances launches: each is a
	// namespace, devices and a forwarder port, made under the lock.
	maxLaunch = 20
	// terminatedFor is how long a terminated instance stays visible (LIFE-3).
	terminatedFor = time.Hour
)

// stateOf is EC2's instance state name with its code (LIFE-3).
func stateOf(name types.InstanceStateName) *types.InstanceState {
	return &types.InstanceState{Code: ptr(stateCodes[name]), Name: name}
}

// InstanceState names an instance's state as EC2 does (running, stopped).
func InstanceState(i *topology.Instance) string { return string(instState(i)) }

// instState is where an instance rests: the passages (pending, stopping,
// shutting-down) are what the operations answer; the network changes at
// once, so describe-instances shows where they end.
func instState(i *topology.Instance) types.InstanceStateName {
	if i.Stopped {
		return types.InstanceStateNameStopped
	}
	return types.InstanceStateNameRunning
}

// launch is what RunInstances was given for an instance that the network
// model does not keep (the model keeps its type, QUOTA-2, its image and
// key name, which topo.json holds). An instance of the file, or one
// launched without an image, has describeInstance's image.
type launch struct {
	ImageID     string // "" for the default; the model's, while checking
	KeyName     string // "" when none was given; the model's, while checking
	Reservation string // r-…, one per RunInstances
	Index       int32  // AmiLaunchIndex: its place in the reservation
}

// launches are the launches RunInstances made, by instance id. Like
// describe.go's dates, the table belongs to the process: a dry run's copy
// and a network exported and loaded again keep their instances' ids.
var launches = struct {
	sync.Mutex
	by map[string]launch
}{by: map[string]launch{}}

func recordLaunch(id string, l launch) {
	launches.Lock()
	defer launches.Unlock()
	launches.by[id] = l
}

// withLaunch gives x, instance i as describeInstance builds it, what
// RunInstances was told of it: image and key pair (the model's), launch
// index (the process's). DescribeInstances and every answer about an
// instance call it.
func withLaunch(x *types.Instance, i *topology.Instance) {
	if i.ImageID != "" {
		x.ImageId = ptr(i.ImageID)
		if m := catalogImage(i.ImageID); m != nil { // the image's root device (catalog.go)
			x.RootDeviceName = ptr(m.root)
			for k := range x.BlockDeviceMappings {
				x.BlockDeviceMappings[k].DeviceName = ptr(m.root)
			}
		}
	}
	if i.KeyName != "" {
		x.KeyName = ptr(i.KeyName)
	}
	launches.Lock()
	l, ok := launches.by[deref(x.InstanceId)]
	launches.Unlock()
	if ok {
		x.AmiLaunchIndex = ptr(l.Index)
	}
}

// reservationID is the reservation instance id (named name) was launched
// in, also once it is terminated: one per RunInstances, shared by the
// instances it launched; an instance of the file is alone in r-<its name>.
func reservationID(n *topology.Network, id, name string) string {
	launches.Lock()
	defer launches.Unlock()
	if l, ok := launches.by[id]; ok && l.Reservation != "" {
		return l.Reservation
	}
	return n.NewID("r", name)
}

// instanceShape is instance i as EC2 describes it (describe.go's builder,
// with its launch).
func (d *Service) instanceShape(i *topology.Instance) types.Instance {
	x := describeInstance(d.net, i)
	withLaunch(&x, i)
	x.Tags = d.tagsOf(i.ID, i.Name) // tags.go
	return x
}

// terminatedBook holds one service's terminated instances, newest last,
// for an hour (LIFE-3). The service's callers hold the store's lock, which
// guards it.
type terminatedBook struct{ gone []terminated }

// terminated is an instance as describe-instances shows it once terminated.
type terminated struct {
	inst types.Instance
	at   time.Time
}

var terminatedBooks sync.Map // *Service → *terminatedBook

func (d *Service) book() *terminatedBook {
	b, _ := terminatedBooks.LoadOrStore(d, &terminatedBook{})
	return b.(*terminatedBook)
}

// dryRunning reports whether d is a dry run's copy of the network, whose
// changes are thrown away: it records nothing.
func (d *Service) dryRunning() bool { _, ok := d.k.(nopKernel); return ok }

// terminatedInstances are the instances terminated within the hour, as
// describe-instances shows them (state terminated, LIFE-3), oldest first;
// reservationID gives their reservations. One whose id a live instance has
// again (a new instance of the same name) is left out.
func (d *Service) terminatedInstances() []types.Instance {
	b := d.book()
	b.gone = slices.DeleteFunc(b.gone, func(g terminated) bool { return time.Since(g.at) > terminatedFor })
	out := []types.Instance{}
	for _, g := range b.gone {
		if _, err := d.findInstance(*g.inst.InstanceId); err != nil {
			out = append(out, g.inst)
		}
	}
	return out
}

// amiID is EC2's image id: ami- and 8 or 17 hex digits.
var amiID = regexp.MustCompile(`^ami-([0-9a-f]{8}|[0-9a-f]{17})$`)

// runRequest is a RunInstances request checked: everything the launch
// needs, before anything changes.
type runRequest struct {
	subnet    *topology.Subnet // eth0's (INST-1)
	enis      []launchENI      // by device index
	addrs     [][][]netip.Addr // instance → ENI (as enis) → addresses, primary first; nil for an existing ENI
	names     []string         // one per instance
	eniNames  [][]string       // instance → ENI (as enis) → name: eth0's is the instance's
	public    bool
	userData  string
	typ       string // instance type (QUOTA-2)
	launch    launch
	namespace []string
}

// launchENI is one network interface of a launch (NetworkInterfaces, or
// the one the top-level members describe), checked.
type launchENI struct {
	index        int
	existing     *topology.ENI // NetworkInterfaceId: attached as it is
	subnet       *topology.Subnet
	primary      netip.Addr   // given, or the zero Addr: a free one
	secondary    []netip.Addr // given secondary addresses
	count        int          // SecondaryPrivateIpAddressCount: free ones
	groups       []*topology.SecurityGroup
	description  string
	deleteOnTerm bool
}

// ips is how many private IPv4 addresses the launch gives l.
func (l *launchENI) ips() int {
	if l.existing != nil {
		return len(l.existing.IPs())
	}
	return 1 + len(l.secondary) + l.count
}

// given reports whether l names an address: then one instance only.
func (l *launchENI) given() bool { return l.primary.IsValid() || len(l.secondary) > 0 }

// maxDeviceIndex is the highest device index an ENI takes (ENI-6).
const maxDeviceIndex = 15

// runInstances launches MinCount to MaxCount instances (as many as the
// subnets' free addresses and maxLaunch allow, at least MinCount), each a
// namespace with eth0 in the subnet (INST-1) and the other network
// interfaces the launch names, its user_data started (INST-3). Their
// names are the Name tag (vpcnet's --name), or name-1, name-2 … when
// several are launched. All of them launch, or none.
func (d *Service) runInstances(in *types.RunInstancesRequest) (*types.Reservation, error) {
	r, err := d.checkRun(in)
	if err != nil {
		return nil, err
	}
	n := d.net
	var made []*topology.Instance
	undo := func() { // the ENIs the launch made go; an existing one is available again
		for _, inst := range made {
			d.k.RemoveInstance(inst)
			v := inst.VPC
			v.Instances = slices.DeleteFunc(v.Instances, func(x *topology.Instance) bool { return x == inst })
			delete(n.InstanceByName, inst.Name)
			for j, e := range inst.ENIs {
				if r.enis[j].existing == nil {
					d.dropENI(e)
				}
				e.Instance, e.DeviceIndex, e.DeleteOnTermination = nil, 0, false
			}
		}
	}
	for k, name := range r.names {
		inst := &topology.Instance{Name: name, ID: n.NewID("i", name), Namespace: r.namespace[k], Subnet: r.subnet, VPC: r.subnet.VPC,
			UserData: r.userData, AssociatePublicIP: r.public, Type: r.typ, ImageID: r.launch.ImageID, KeyName: r.launch.KeyName}
		for j, l := range r.enis {
			e := l.existing
			if e == nil {
				ips := r.addrs[k][j]
				e = &topology.ENI{Name: r.eniNames[k][j], Subnet: l.subnet, PrimaryIP: ips[0], SecondaryIPs: slices.Clone(ips[1:]),
					Groups: l.groups, SourceDestCheck: true, Kind: topology.ENICompute, Description: l.description,
					ConnTrack: defaultConnTrack(), PublicIPs: map[netip.Addr]netip.Addr{}}
				e.ID, e.MAC = n.NewID("eni", e.Name), n.NewMAC(e.Name)
				l.subnet.VPC.ENIs = append(l.subnet.VPC.ENIs, e)
			} else if !d.dryRunning() {
				setCreated(attachmentID(n, e), time.Now()) // the attachment's AttachTime
			}
			e.Instance, e.DeviceIndex, e.DeleteOnTermination = inst, l.index, l.deleteOnTerm
			inst.ENIs = append(inst.ENIs, e)
		}
		eth0 := inst.ENIs[0]
		if r.public {
			if pool := n.RegionPool(); pool != nil {
				if a, ok := n.FreePublicIP(pool, netip.Addr{}); ok {
					eth0.PublicIPs[eth0.PrimaryIP] = a
				}
			}
		}
		r.subnet.VPC.Instances = append(r.subnet.VPC.Instances, inst)
		n.InstanceByName[name] = inst
		made = append(made, inst)
		if err := d.k.LaunchInstance(inst); err != nil {
			undo()
			return nil, err
		}
	}
	d.k.RefreshHosts()
	now := time.Now()
	res := &types.Reservation{Groups: []types.GroupIdentifier{}, OwnerId: ptr(n.AccountID()), ReservationId: ptr(r.launch.Reservation)}
	for k, inst := range made {
		if !d.dryRunning() {
			l := r.launch
			l.Index = int32(k)
			recordLaunch(inst.ID, l)
			setCreated(inst.ID, now) // LaunchTime
		}
		x := d.instanceShape(inst)
		x.AmiLaunchIndex = ptr(int32(k))
		x.BlockDeviceMappings = []types.InstanceBlockDeviceMapping{} // the root volume is still attaching
		x.State = stateOf(types.InstanceStateNamePending)
		x.StateReason = &types.StateReason{Code: ptr("pending"), Message: ptr("pending")}
		res.Instances = append(res.Instances, x)
	}
	return res, nil
}

// checkRun checks a RunInstances request and plans the launch: subnets,
// addresses, names, groups (ENI-1, ENI-2, ENI-6, ADDR-2), image, type and
// its limits (QUOTA-2).
func (d *Service) checkRun(in *types.RunInstancesRequest) (*runRequest, error) {
	if err := unsupported(in, "ImageId", "InstanceType", "KeyName", "MinCount", "MaxCount", "SecurityGroupIds", "SecurityGroups",
		"SubnetId", "PrivateIpAddress", "UserData", "TagSpecifications", "NetworkInterfaces", "Placement",
		"DisableApiTermination", "DisableApiStop",
		// No meaning in an emulated network: storage, CPU, billing and
		// monitoring knobs are accepted and change nothing.
		"BlockDeviceMappings", "EbsOptimized", "Monitoring", "CreditSpecification", "CpuOptions",
		"CapacityReservationSpecification", "PrivateDnsNameOptions", "MaintenanceOptions", "AdditionalInfo",
		"InstanceInitiatedShutdownBehavior", "KernelId", "RamdiskId"); err != nil {
		return nil, err
	}
	for member, on := range map[string]bool{"DisableApiTermination": deref(in.DisableApiTermination), "DisableApiStop": deref(in.DisableApiStop)} {
		if on {
			return nil, opErr("Unsupported", "The parameter %s=true is not supported by vpcnet", member)
		}
	}
	// Counts: whole numbers, MinCount ≤ MaxCount, bounded.
	if in.MinCount < 1 {
		return nil, opErr("InvalidParameterValue", "Value (%d) for parameter minCount is invalid. Expected a positive integer.", in.MinCount)
	}
	if in.MaxCount < in.MinCount {
		return nil, opErr("InvalidParameterValue", "Value (%d) for parameter maxCount is invalid. Expected a value no less than minCount (%d).", in.MaxCount, in.MinCount)
	}
	if in.MinCount > maxLaunch {
		return nil, opErr("InstanceLimitExceeded", "You have requested more instances (%d) than your current instance limit of %d allows: vpcnet launches at most %d per call", in.MinCount, maxLaunch, maxLaunch)
	}
	r := &runRequest{typ: topology.DefaultInstanceType}
	if id := deref(in.ImageId); id != "" {
		if catalogImage(id) == nil { // catalog.go
			return nil, imageNotFound(id)
		}
		r.launch.ImageID = id
	}
	if t := in.InstanceType; t != "" {
		if catalogType(t) == nil { // catalog.go: vpcnet knows its limits (QUOTA-2)
			return nil, opErr("InvalidParameterValue", "Invalid value '%s' for InstanceType: vpcnet's catalogue has %v", t, topology.InstanceTypes())
		}
		r.typ = string(t)
	}
	if k := deref(in.KeyName); k != "" {
		if len(k) > 255 || strings.ContainsFunc(k, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
			return nil, opErr("InvalidKeyPair.Format", "Key pair name %q: at most 255 printable characters", k)
		}
		if err := d.checkLaunchKey(k); err != nil { // keypairs.go
			return nil, err
		}
		r.launch.KeyName = k
	}
	if in.UserData != nil {
		// The AWS CLI (and vpcnet's) send --user-data base64-encoded, as
		// EC2 takes it; the decoded text is what runs (INST-3).
		b, err := base64.StdEncoding.DecodeString(*in.UserData)
		if err != nil {
			return nil, opErr("InvalidParameterValue", "Invalid BASE64 encoding of user data.")
		}
		if len(b) > topology.MaxUserData {
			return nil, opErr("InvalidParameterValue", "User data is %d bytes: at most %d before base64 encoding (INST-3)", len(b), topology.MaxUserData)
		}
		if !utf8.Valid(b) || slices.Contains(b, 0) {
			return nil, opErr("InvalidParameterValue", "User data must be text without NUL bytes: vpcnet runs it as a shell command (INST-3)")
		}
		r.userData = string(b)
	}

	// Where: the top-level subnet, address and groups, or the network
	// interfaces (the AWS CLI builds one for --associate-public-ip-address).
	var err error
	if r.enis, err = d.launchENIs(in); err != nil {
		return nil, err
	}
	eth0 := &r.enis[0]
	r.subnet = eth0.subnet
	s := r.subnet
	if in.Placement != nil {
		if err := unsupported(in.Placement, "AvailabilityZone", "Tenancy"); err != nil {
			return nil, err
		}
		if az := deref(in.Placement.AvailabilityZone); az != "" && az != s.AZ {
			return nil, opErr("InvalidParameterValue", "Subnet %s is in %s, not in the placement's %s (INST-1)", s.ID, s.AZ, az)
		}
		if t := in.Placement.Tenancy; t != "" && t != types.TenancyDefault {
			return nil, opErr("Unsupported", "Tenancy %s is not supported by vpcnet", t)
		}
	}
	// QUOTA-2: the type's interfaces and addresses per interface.
	lim, _ := topology.InstanceTypeLimits(r.typ)
	if len(r.enis) > lim.ENIs {
		return nil, opErr("AttachmentLimitExceeded", "Interface count %d exceeds the limit for %s (%d, QUOTA-2)", len(r.enis), r.typ, lim.ENIs)
	}
	for _, l := range r.enis {
		if l.ips() > lim.IPv4PerENI {
			return nil, opErr("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit: the interface at device index %d would have %d, a %s's interfaces hold %d (QUOTA-2)",
				l.index, l.ips(), r.typ, lim.IPv4PerENI)
		}
	}
	// A public IP goes to an instance with one network interface only, as
	// EC2 assigns it (launchENIs refuses an explicit one otherwise).
	r.public = s.MapPublicIP && len(r.enis) == 1
	if len(in.NetworkInterfaces) > 0 && in.NetworkInterfaces[0].AssociatePublicIpAddress != nil {
		r.public = *in.NetworkInterfaces[0].AssociatePublicIpAddress && len(r.enis) == 1
	}

	// How many: as many as asked, the bound and the free addresses allow.
	count := int(min(in.MaxCount, maxLaunch))
	for _, l := range r.enis {
		switch {
		case l.existing != nil && in.MaxCount > 1:
			return nil, opErr("InvalidParameterCombination", "An existing network interface (%s) can be given when launching one instance only, not up to %d", l.existing.ID, in.MaxCount)
		case l.given() && in.MaxCount > 1:
			return nil, opErr("InvalidParameterCombination", "A private IP address can be given when launching one instance only, not up to %d", in.MaxCount)
		}
	}
	var taken []netip.Addr // the addresses this launch gives, so far
	for _, l := range r.enis {
		for _, a := range append([]netip.Addr{l.primary}, l.secondary...) {
			if !a.IsValid() {
				continue
			}
			if slices.Contains(taken, a) {
				return nil, opErr("InvalidParameterValue", "Address %s is given twice", a)
			}
			taken = append(taken, a)
		}
	}
	for len(r.addrs) < count {
		plan, ok := planAddrs(r.enis, &taken)
		if !ok {
			break
		}
		r.addrs = append(r.addrs, plan)
	}
	if len(r.addrs) < int(in.MinCount) {
		return nil, opErr("InsufficientFreeAddressesInSubnet", "The subnets have free addresses for %d instances with %d network interfaces: %d need them", len(r.addrs), len(r.enis), in.MinCount)
	}

	// Names: the instances', and those of the ENIs the launch makes.
	var instSpecs, eniSpecs []types.TagSpecification
	for _, ts := range in.TagSpecifications {
		if ts.ResourceType == types.ResourceTypeNetworkInterface {
			eniSpecs = append(eniSpecs, ts)
		} else {
			instSpecs = append(instSpecs, ts)
		}
	}
	want, err := nameFromTags(instSpecs, types.ResourceTypeInstance)
	if err != nil {
		return nil, err
	}
	eniWant, err := nameFromTags(eniSpecs, types.ResourceTypeNetworkInterface)
	if err != nil {
		return nil, err
	}
	if r.names, err = d.newNames(want, "instance", topology.KindInstance, len(r.addrs)); err != nil {
		return nil, err
	}
	if r.eniNames, err = d.launchENINames(r, eniWant); err != nil {
		return nil, err
	}
	for _, name := range r.names {
		ns := d.net.Name + "-" + name
		if d.k.NamespaceExists(ns) {
			return nil, opErr("InvalidParameterValue", "Namespace %s exists already", ns)
		}
		r.namespace = append(r.namespace, ns)
	}
	r.launch.Reservation = d.net.NewID("r", r.names[0])
	return r, nil
}

// planAddrs picks one instance's addresses: for each ENI the launch makes,
// its primary and secondary addresses, given or free ones of its subnet
// not yet taken. ok is false when a subnet has no free address left.
func planAddrs(enis []launchENI, taken *[]netip.Addr) (plan [][]netip.Addr, ok bool) {
	mark := len(*taken)
	for _, l := range enis {
		if l.existing != nil {
			plan = append(plan, nil)
			continue
		}
		a := l.primary
		if !a.IsValid() {
			if a, ok = l.subnet.FreePrivateIP(*taken...); !ok {
				*taken = (*taken)[:mark]
				return nil, false
			}
			*taken = append(*taken, a)
		}
		ips := append([]netip.Addr{a}, l.secondary...)
		for range l.count {
			b, ok := l.subnet.FreePrivateIP(*taken...)
			if !ok {
				*taken = (*taken)[:mark]
				return nil, false
			}
			*taken = append(*taken, b)
			ips = append(ips, b)
		}
		plan = append(plan, ips)
	}
	return plan, true
}

// launchENIs checks where a launch's instances go: the network interfaces
// (NetworkInterfaces), or the one the top-level SubnetId, PrivateIpAddress
// and groups describe. The answer is sorted by device index: eth0 first.
func (d *Service) launchENIs(in *types.RunInstancesRequest) ([]launchENI, error) {
	subnet, ip, groups := deref(in.SubnetId), deref(in.PrivateIpAddress), append(slices.Clone(in.SecurityGroupIds), in.SecurityGroups...)
	if len(in.NetworkInterfaces) == 0 {
		in := types.InstanceNetworkInterfaceSpecification{DeviceIndex: ptr(int32(0)), SubnetId: in.SubnetId, PrivateIpAddress: in.PrivateIpAddress, Groups: groups}
		l, err := d.launchENI(in, 1)
		if err != nil {
			return nil, err
		}
		return []launchENI{l}, nil
	}
	switch {
	case subnet != "":
		return nil, opErr("InvalidParameterCombination", "Network interfaces and an instance-level subnet ID may not be specified on the same request")
	case len(groups) > 0:
		return nil, opErr("InvalidParameterCombination", "Network interfaces and an instance-level security groups may not be specified on the same request")
	case ip != "":
		return nil, opErr("InvalidParameterCombination", "Network interfaces and an instance-level private IP address may not be specified on the same request")
	}
	var out []launchENI
	for _, ni := range in.NetworkInterfaces {
		l, err := d.launchENI(ni, len(in.NetworkInterfaces))
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(x launchENI) bool { return x.index == l.index }) {
			return nil, opErr("InvalidParameterValue", "Each network interface requires a unique device index: %d is given twice", l.index)
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b launchENI) int { return a.index - b.index })
	if out[0].index != 0 {
		return nil, opErr("InvalidParameterValue", "The network interfaces of a launch must include the primary one, at device index 0")
	}
	// ENI-6: every interface in eth0's VPC and availability zone.
	eth0 := out[0].subnet
	for _, l := range out[1:] {
		s := l.subnet
		switch {
		case s.VPC != eth0.VPC:
			return nil, opErr("InvalidParameterCombination", "The network interface at device index %d is in %s, the instance in %s: they must be in the same VPC (ENI-6)", l.index, s.VPC.ID, eth0.VPC.ID)
		case s.AZ != eth0.AZ:
			return nil, opErr("InvalidParameterCombination", "You may not attach a network interface to an instance if they are not in the same availability zone: device index %d is in %s, the instance in %s (ENI-6)", l.index, s.AZ, eth0.AZ)
		}
	}
	return out, nil
}

// launchENI checks one network interface of a launch (of all of them).
func (d *Service) launchENI(ni types.InstanceNetworkInterfaceSpecification, all int) (launchENI, error) {
	var l launchENI
	if err := unsupported(&ni, "AssociatePublicIpAddress", "DeviceIndex", "Groups", "SubnetId", "PrivateIpAddress",
		"PrivateIpAddresses", "SecondaryPrivateIpAddressCount", "DeleteOnTermination", "Description", "NetworkInterfaceId"); err != nil {
		return l, err
	}
	switch {
	case ni.DeviceIndex == nil && all > 1:
		return l, opErr("InvalidParameterValue", "Each network interface requires a device index.")
	case deref(ni.DeviceIndex) < 0 || deref(ni.DeviceIndex) > maxDeviceIndex:
		return l, opErr("InvalidParameterValue", "Invalid value '%d' for deviceIndex: 0 to %d", deref(ni.DeviceIndex), maxDeviceIndex)
	}
	l.index = int(deref(ni.DeviceIndex))
	if deref(ni.AssociatePublicIpAddress) && (l.index != 0 || all > 1 || ni.NetworkInterfaceId != nil) {
		return l, opErr("InvalidParameterCombination", "The associatePublicIPAddress parameter cannot be specified when launching with multiple network interfaces, nor for an existing one.")
	}
	if id := deref(ni.NetworkInterfaceId); id != "" {
		// An existing ENI, attached as it is (ENI-6): nothing of it is given again.
		if ni.SubnetId != nil || len(ni.Groups) > 0 || ni.PrivateIpAddress != nil || len(ni.PrivateIpAddresses) > 0 ||
			ni.SecondaryPrivateIpAddressCount != nil || ni.Description != nil {
			return l, opErr("InvalidParameterCombination", "A network interface ID may not be specified with a subnet, groups, addresses or a description for the same interface")
		}
		if l.index == 0 {
			return l, opErr("Unsupported", "vpcnet makes an instance's primary network interface with it: attach %s at device index 1 or more", id)
		}
		e, err := d.findENI(id)
		if err != nil {
			return l, err
		}
		if err := refuseManaged(e, "attach"); err != nil {
			return l, err
		}
		if e.Instance != nil {
			return l, opErr("InvalidNetworkInterface.InUse", "Interface %s is currently in use by %s", e.ID, e.Instance.ID)
		}
		l.existing, l.subnet, l.deleteOnTerm = e, e.Subnet, deref(ni.DeleteOnTermination)
		return l, nil
	}
	subnet := deref(ni.SubnetId)
	if subnet == "" {
		return l, opErr("MissingParameter", "The request must contain the parameter SubnetId: vpcnet has no default VPC")
	}
	s, err := d.findSubnet(subnet)
	if err != nil {
		return l, err
	}
	l.subnet = s
	l.deleteOnTerm = ni.DeleteOnTermination == nil || *ni.DeleteOnTermination // made by the launch: it goes with the instance
	// Addresses: PrivateIpAddress, or PrivateIpAddresses with at most one
	// primary (the AWS CLI moves --private-ip-address there), and free
	// secondary ones by count.
	primary := deref(ni.PrivateIpAddress)
	var secondary []string
	for _, p := range ni.PrivateIpAddresses {
		a := deref(p.PrivateIpAddress)
		if a == "" {
			return l, opErr("MissingParameter", "The request must contain the parameter PrivateIpAddresses.PrivateIpAddress")
		}
		if !deref(p.Primary) {
			secondary = append(secondary, a)
			continue
		}
		if primary != "" {
			return l, opErr("InvalidParameterCombination", "The primary private IP address is given twice")
		}
		primary = a
	}
	if primary != "" {
		if l.primary, err = pickIP(s, primary); err != nil {
			return l, err
		}
	}
	for _, a := range secondary {
		b, err := pickIP(s, a)
		if err != nil {
			return l, err
		}
		l.secondary = append(l.secondary, b)
	}
	if c := ni.SecondaryPrivateIpAddressCount; c != nil {
		switch {
		case len(secondary) > 0:
			return l, opErr("InvalidParameterCombination", "SecondaryPrivateIpAddressCount may not be given with secondary addresses in PrivateIpAddresses")
		case *c < 1 || *c > topology.MaxIPv4PerENI-1:
			return l, opErr("InvalidParameterValue", "Invalid value '%d' for secondaryPrivateIpAddressCount: 1 to %d", *c, topology.MaxIPv4PerENI-1)
		}
		l.count = int(*c)
	}
	if l.groups, err = d.groupsOf(s.VPC, ni.Groups); err != nil {
		return l, err
	}
	l.description = ""
	if l.index == 0 {
		l.description = topology.PrimaryENIDescription
	}
	if ni.Description != nil {
		if err := checkDescription(ni.Description); err != nil {
			return l, err
		}
		l.description = *ni.Description
	}
	return l, nil
}

// launchENINames names the ENIs a launch makes: eth0 is named as its
// instance; another is the network-interface Name tag (want, want-1 …
// when several) or <instance>-eth<N>. Each must be free.
func (d *Service) launchENINames(r *runRequest, want string) ([][]string, error) {
	used := d.names()
	for _, n := range r.names {
		used[n] = true
	}
	extra := 0
	for _, l := range r.enis[1:] {
		if l.existing == nil {
			extra++
		}
	}
	extra *= len(r.names)
	out := make([][]string, len(r.names))
	k := 0
	for i, inst := range r.names {
		for _, l := range r.enis {
			name := ""
			switch {
			case l.existing != nil:
			case l.index == 0:
				name = inst
			default:
				k++
				switch {
				case want != "" && extra == 1:
					name = want
				case want != "":
					name = fmt.Sprintf("%s-%d", want, k)
				default:
					name = fmt.Sprintf("%s-eth%d", inst, l.index)
				}
				if err := topology.CheckResourceName(topology.KindENI, name); err != nil {
					return nil, opErr("InvalidParameterValue", "%v", err)
				}
				if used[name] {
					return nil, opErr("InvalidParameterValue", "The name '%s' is already used by another resource", name)
				}
				used[name] = true
			}
			out[i] = append(out[i], name)
		}
	}
	return out, nil
}

// newNames names count new resources of kind: want (if given) for one,
// want-1, want-2 … for several; base-1, base-2 … (the first free ones)
// when none is wanted. Each must be free and one the file accepts.
func (d *Service) newNames(want, base, kind string, count int) ([]string, error) {
	if count == 1 {
		name, err := d.newName(want, base, kind)
		return []string{name}, err
	}
	used := d.names()
	var out []string
	for k := 1; len(out) < count; k++ {
		if want == "" {
			if n := fmt.Sprintf("%s-%d", base, k); !used[n] {
				out = append(out, n)
			}
			continue
		}
		n := fmt.Sprintf("%s-%d", want, k)
		if err := topology.CheckResourceName(kind, n); err != nil {
			return nil, opErr("InvalidParameterValue", "%v", err)
		}
		if used[n] {
			return nil, opErr("InvalidParameterValue", "The name '%s' is already used by another resource", n)
		}
		out = append(out, n)
	}
	return out, nil
}

// forget removes an instance from the model and the kernel: ports,
// user_data, namespace. Its ENIs with DeleteOnTermination go with it (its
// eth0 and the ENIs its launch made, unless told otherwise); the others
// are detached and stay, available, without their dynamic public IPs
// (ADDR-4; an EIP stays associated).
func (d *Service) forget(inst *topology.Instance) {
	d.k.RemoveInstance(inst)
	v := inst.VPC
	v.Instances = slices.DeleteFunc(v.Instances, func(x *topology.Instance) bool { return x == inst })
	delete(d.net.InstanceByName, inst.Name)
	for _, e := range inst.ENIs {
		if e.DeleteOnTermination {
			d.dropENI(e)
		}
		for priv, pub := range e.PublicIPs {
			if !isEIP(d.net, pub) {
				delete(e.PublicIPs, priv)
			}
		}
		e.Instance, e.DeviceIndex, e.DeleteOnTermination = nil, 0, false
	}
}

// instancesIn resolves InstanceIds, all of them or none; an id given twice
// counts once. An id of an instance terminated within the hour is gone
// (nil instance, with its terminated shape).
func (d *Service) instancesIn(ids []string) ([]*topology.Instance, []*types.Instance, error) {
	if len(ids) == 0 {
		return nil, nil, opErr("MissingParameter", "The request must contain the parameter InstanceIds")
	}
	var live []*topology.Instance
	var gone []*types.Instance
	for _, ref := range ids {
		i, err := d.findInstance(ref)
		if err == nil {
			if !slices.Contains(live, i) {
				live = append(live, i)
			}
			continue
		}
		g := d.goneInstance(ref)
		if g == nil {
			return nil, nil, err
		}
		if !slices.Contains(gone, g) {
			gone = append(gone, g)
		}
	}
	return live, gone, nil
}

func (d *Service) goneInstance(id string) *types.Instance {
	b := d.book()
	for k := range b.gone {
		if *b.gone[k].inst.InstanceId == id && time.Since(b.gone[k].at) <= terminatedFor {
			return &b.gone[k].inst
		}
	}
	return nil
}

func stateChange(id string, current, previous types.InstanceStateName) types.InstanceStateChange {
	return types.InstanceStateChange{InstanceId: ptr(id), CurrentState: stateOf(current), PreviousState: stateOf(previous)}
}

// userInitiated is the StateTransitionReason of a stop or terminate.
func userInitiated(t time.Time) string {
	return "User initiated (" + t.UTC().Format("2006-01-02 15:04:05") + " GMT)"
}

// terminateInstances removes instances: namespace, eth0, processes; other
// ENIs are detached. Each answers shutting-down; describe-instances shows
// it terminated for an hour (LIFE-3). Terminating a terminated instance
// answers terminated.
func (d *Service) terminateInstances(in *types.TerminateInstancesRequest) (*types.TerminateInstancesResult, error) {
	live, gone, err := d.instancesIn(in.InstanceIds)
	if err != nil {
		return nil, err
	}
	out := &types.TerminateInstancesResult{TerminatingInstances: []types.InstanceStateChange{}}
	now := time.Now().UTC().Truncate(time.Second)
	for _, i := range live {
		prev := instState(i)
		shape := d.instanceShape(i)
		d.forget(i)
		if !d.dryRunning() {
			b := d.book()
			b.gone = append(b.gone, terminated{inst: terminatedShape(shape, now), at: now})
		}
		out.TerminatingInstances = append(out.TerminatingInstances, stateChange(i.ID, types.InstanceStateNameShuttingDown, prev))
	}
	for _, g := range gone {
		out.TerminatingInstances = append(out.TerminatingInstances, stateChange(*g.InstanceId, types.InstanceStateNameTerminated, types.InstanceStateNameTerminated))
	}
	if len(live) > 0 {
		d.k.RefreshHosts()
	}
	return out, nil
}

// terminatedShape is an instance as EC2 describes it once terminated: no
// network, the reason of its end.
func terminatedShape(x types.Instance, at time.Time) types.Instance {
	x.State = stateOf(types.InstanceStateNameTerminated)
	x.StateTransitionReason = ptr(userInitiated(at))
	x.StateReason = &types.StateReason{Code: ptr("Client.UserInitiatedShutdown"), Message: ptr("Client.UserInitiatedShutdown: User initiated shutdown")}
	x.PrivateDnsName, x.PublicDnsName = ptr(""), ptr("")
	x.PrivateIpAddress, x.PublicIpAddress, x.SubnetId, x.VpcId, x.SourceDestCheck = nil, nil, nil, nil, nil
	x.NetworkInterfaces, x.SecurityGroups = []types.InstanceNetworkInterface{}, []types.GroupIdentifier{}
	x.BlockDeviceMappings = []types.InstanceBlockDeviceMapping{}
	return x
}

// stopInstances takes the instances' devices away, ends their processes
// and releases their dynamic public IPs (INST-2); EIPs and private IPs
// stay. A running instance answers stopping, a stopped one stopped.
func (d *Service) stopInstances(in *types.StopInstancesRequest) (*types.StopInstancesResult, error) {
	if err := unsupported(in, "InstanceIds", "Force"); err != nil {
		return nil, err
	}
	live, gone, err := d.instancesIn(in.InstanceIds)
	if err != nil {
		return nil, err
	}
	if len(gone) > 0 {
		return nil, opErr("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be stopped.", *gone[0].InstanceId)
	}
	out := &types.StopInstancesResult{StoppingInstances: []types.InstanceStateChange{}}
	for _, i := range live {
		prev := instState(i)
		if i.Stopped {
			out.StoppingInstances = append(out.StoppingInstances, stateChange(i.ID, types.InstanceStateNameStopped, prev))
			continue
		}
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
		out.StoppingInstances = append(out.StoppingInstances, stateChange(i.ID, types.InstanceStateNameStopping, prev))
	}
	return out, nil
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
// (INST-2); user_data does not run again (INST-3: once). A stopped
// instance answers pending, a running one running. Should a device fail,
// the instance's devices plugged so far are unplugged again and it stays
// stopped.
func (d *Service) startInstances(in *types.StartInstancesRequest) (*types.StartInstancesResult, error) {
	if err := unsupported(in, "InstanceIds", "AdditionalInfo"); err != nil {
		return nil, err
	}
	live, gone, err := d.instancesIn(in.InstanceIds)
	if err != nil {
		return nil, err
	}
	if len(gone) > 0 {
		return nil, opErr("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be started.", *gone[0].InstanceId)
	}
	out := &types.StartInstancesResult{StartingInstances: []types.InstanceStateChange{}}
	for _, i := range live {
		prev := instState(i)
		if !i.Stopped {
			out.StartingInstances = append(out.StartingInstances, stateChange(i.ID, types.InstanceStateNameRunning, prev))
			continue
		}
		for k, e := range i.ENIs {
			if err := d.k.PlugENI(i, e, e.DeviceIndex); err != nil {
				for _, x := range i.ENIs[:k] {
					d.k.UnplugENI(x)
				}
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
		out.StartingInstances = append(out.StartingInstances, stateChange(i.ID, types.InstanceStateNamePending, prev))
	}
	return out, nil
}

// modifyInstanceAttribute changes the source/dest check (ENI-4) or the
// groups of the instance's primary ENI, as EC2 does: by SourceDestCheck
// or Groups, or by Attribute sourceDestCheck with Value true or false.
func (d *Service) modifyInstanceAttribute(in *types.ModifyInstanceAttributeRequest) (*struct{}, error) {
	if err := unsupported(in, "InstanceId", "SourceDestCheck", "Groups", "Attribute", "Value"); err != nil {
		return nil, err
	}
	if in.InstanceId == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter InstanceId")
	}
	i, err := d.findInstance(in.InstanceId)
	if err != nil {
		return nil, err
	}
	sdc := in.SourceDestCheck
	switch in.Attribute {
	case "":
		if in.Value != nil {
			return nil, opErr("MissingParameter", "The request must contain the parameter Attribute with Value")
		}
	case types.InstanceAttributeNameSourceDestCheck:
		if sdc != nil || in.Value == nil || (*in.Value != "true" && *in.Value != "false") {
			return nil, opErr("InvalidParameterCombination", "Attribute sourceDestCheck takes Value true or false, and no SourceDestCheck beside it")
		}
		sdc = &types.AttributeBooleanValue{Value: ptr(*in.Value == "true")}
	default:
		return nil, opErr("Unsupported", "The attribute %s is not supported by vpcnet", in.Attribute)
	}
	if sdc == nil && len(in.Groups) == 0 {
		return nil, opErr("MissingParameter", "The request must contain one of SourceDestCheck, Groups or Attribute")
	}
	return nil, d.modifyENI(i.Primary(), sdc, in.Groups, nil)
}
