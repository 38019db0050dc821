package test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vpcnet/vpcnet/netns"
)

// secure: server in subnet b (default NACL); nsrv and c2 in subnet c behind
// acl-c, which has no ephemeral-port rule for replies; clients in subnet a.
const secure = `{
  "name": "NAME", "region": "us-east-1",
  "settings": {"conntrack_max": CTMAX},
  "vpcs": [{
    "name": "v", "cidr": "10.6.0.0/16",
    "subnets": [
      {"name": "a", "cidr": "10.6.1.0/24", "az": "us-east-1a"},
      {"name": "b", "cidr": "10.6.2.0/24", "az": "us-east-1a"},
      {"name": "c", "cidr": "10.6.3.0/24", "az": "us-east-1a", "network_acl": "acl-c"}
    ],
    "network_acls": [{"name": "acl-c",
      "ingress": [{"rule": 100, "protocol": "tcp", "ports": "80", "cidr": "10.6.1.0/24", "action": "allow"},
                  {"rule": 120, "protocol": "icmp", "cidr": "10.6.0.0/16", "action": "allow"}],
      "egress":  [{"rule": 100, "protocol": "icmp", "cidr": "0.0.0.0/0", "action": "allow"}]}],
    "security_groups": [
      {"name": "srv", "ingress": [
        {"protocol": "tcp", "ports": "7", "source": "members"},
        {"protocol": "tcp", "ports": "80", "source": "10.6.0.0/16"},
        {"protocol": "icmp", "source": "10.6.0.0/16"}]},
      {"name": "members"},
      {"name": "nonmember"},
      {"name": "noout", "egress": []},
      {"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}
    ],
    "instances": [
      {"name": "server", "subnet": "b", "private_ip": "10.6.2.10", "security_groups": ["srv"], "user_data": "vpcnet serve --tcp :7 --http :80"},
      {"name": "member", "subnet": "a", "private_ip": "10.6.1.10", "security_groups": ["members"]},
      {"name": "other", "subnet": "a", "private_ip": "10.6.1.11", "security_groups": ["nonmember"]},
      {"name": "mute", "subnet": "a", "private_ip": "10.6.1.12", "security_groups": ["noout"]},
      {"name": "d1", "subnet": "a", "private_ip": "10.6.1.20"},
      {"name": "d2", "subnet": "a", "private_ip": "10.6.1.21"},
      {"name": "nsrv", "subnet": "c", "private_ip": "10.6.3.10", "security_groups": ["open"], "user_data": "vpcnet serve --http :80"},
      {"name": "c2", "subnet": "c", "private_ip": "10.6.3.11", "security_groups": ["open"]}
    ]
  }]
}`

func upSecure(t *testing.T, ctmax int) *Topo {
	return Up(t, strings.ReplaceAll(secure, "CTMAX", fmt.Sprint(ctmax)))
}

// echoConn is a TCP connection made from inside a namespace.
type echoConn struct {
	net.Conn
	r *bufio.Reader
}

// dialIn connects to addr from inside instance name (netns.DialIn).
func (tp *Topo) dialIn(name, addr string, timeout time.Duration) (*echoConn, error) {
	c, err := netns.DialIn(tp.Name+"-"+name, addr, timeout)
	if err != nil {
		return nil, err
	}
	return &echoConn{Conn: c, r: bufio.NewReader(c)}, nil
}

// dialEventually retries while the server may still be starting.
func (tp *Topo) dialEventually(t *testing.T, name, addr string) *echoConn {
	t.Helper()
	var err error
	for i := 0; i < 30; i++ {
		var c *echoConn
		if c, err = tp.dialIn(name, addr, time.Second); err == nil {
			return c
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("dial %s from %s: %v", addr, name, err)
	return nil
}

// echo sends a line and reports whether it came back in time.
func (c *echoConn) echo(msg string) bool {
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := fmt.Fprintln(c, msg); err != nil {
		return false
	}
	line, err := c.r.ReadString('\n')
	return err == nil && strings.TrimSpace(line) == msg
}

// TestSG3_GroupPeerMembersOnly: a rule whose peer is a group admits its
// members and no one else; the drop names the receiver's group.
func TestSG3_GroupPeerMembersOnly(t *testing.T) {
	tp := upSecure(t, 262144)
	c := tp.dialEventually(t, "member", "10.6.2.10:7")
	defer c.Close()
	if !c.echo("hello") {
		t.Fatal("member's echo failed")
	}
	if _, err := tp.dialIn("other", "10.6.2.10:7", time.Second); err == nil {
		t.Fatal("a non-member reached the server's group-only port")
	}
	st := tp.Stats(t)
	found := false
	for _, e := range st.Endpoints {
		if e.Name == "server" {
			for _, d := range e.Details {
				found = found || (strings.HasPrefix(d.Reason, "security-group ingress") && strings.HasPrefix(d.By, "sg-"))
			}
		}
	}
	if !found {
		t.Fatalf("server's SG ingress drop does not name its group: %+v", st.Endpoints)
	}
}

// TestSG2_EgressAndIngressBothMustPass: an empty egress list lets nothing
// out even where the receiver allows it (SG-1), and the receiver's ingress
// decides even where the sender's egress allows it.
func TestSG2_EgressAndIngressBothMustPass(t *testing.T) {
	tp := upSecure(t, 262144)
	if _, err := tp.Curl(t, "member", "http://10.6.2.10/"); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	if _, err := tp.Exec(t, "mute", "curl", "-sS", "--max-time", "1", "http://10.6.2.10/"); err == nil {
		t.Fatal("an ENI whose groups have no egress rule sent traffic")
	}
	if n := tp.Drops(t, "mute", "security-group egress"); n == 0 {
		t.Fatal("SG egress drop not counted at the sender")
	}
	if tp.Ping(t, "other", "10.6.1.10") {
		t.Fatal("member's group has no ingress rule, yet other's ping was answered")
	}
	if n := tp.Drops(t, "member", "security-group ingress"); n == 0 {
		t.Fatal("SG ingress drop not counted at the receiver")
	}
}

// TestSG7_DefaultGroup: instances that name no group get the VPC's default
// group (ENI-2), which admits its own members only.
func TestSG7_DefaultGroup(t *testing.T) {
	tp := upSecure(t, 262144)
	if !tp.PingEventually(t, "d1", "10.6.1.21") {
		t.Fatal("default-group members cannot reach each other")
	}
	if tp.Ping(t, "member", "10.6.1.21") {
		t.Fatal("a non-member reached a default-group instance")
	}
	out, _ := vpcnet(t, "status", "--topology", tp.Name)
	if !strings.Contains(out, "default") {
		t.Fatalf("status does not show the default group:\n%s", out)
	}
}

// TestNACL1_EphemeralPortsAcrossSubnets: acl-c has no rule for replies to
// ephemeral ports, so TCP across subnets fails while traffic within subnet
// c (never seen by the NACL, NACL-4) works; adding the rule live fixes it.
func TestNACL1_EphemeralPortsAcrossSubnets(t *testing.T) {
	tp := upSecure(t, 262144)
	if _, err := tp.Curl(t, "c2", "http://10.6.3.10/"); err != nil {
		t.Fatalf("within subnet c: %v", err)
	}
	if _, err := tp.Exec(t, "member", "curl", "-sS", "--max-time", "1", "http://10.6.3.10/"); err == nil {
		t.Fatal("replies crossed acl-c without an ephemeral-port rule")
	}
	found := false
	for _, e := range tp.Stats(t).Endpoints {
		for _, d := range e.Details {
			found = found || (e.Name == "nsrv" && strings.HasPrefix(d.Reason, "network-acl egress") && d.Rule == "*" && strings.HasPrefix(d.By, "acl-"))
		}
	}
	if !found {
		t.Fatal("the NACL drop does not name acl-c's implicit deny rule")
	}
	out, code := vpcnet(t, "create-network-acl-entry", "--topology", tp.Name, "--network-acl-id", "acl-c", "--egress",
		"--rule-number", "200", "--protocol", "tcp", "--port-range", "From=32768,To=60999", "--cidr-block", "10.6.1.0/24", "--rule-action", "allow")
	if code != 0 {
		t.Fatalf("create-network-acl-entry: %d %s", code, out)
	}
	if w, err := tp.Curl(t, "member", "http://10.6.3.10/"); err != nil || w.Name != "nsrv" {
		t.Fatalf("after adding the ephemeral rule: %+v %v", w, err)
	}
	// The same entry again is refused with AWS's code, and nothing changes.
	out, code = vpcnet(t, "create-network-acl-entry", "--topology", tp.Name, "--network-acl-id", "acl-c", "--egress",
		"--rule-number", "200", "--protocol", "tcp", "--port-range", "From=1,To=2", "--cidr-block", "10.6.1.0/24", "--rule-action", "deny")
	if code == 0 || !strings.Contains(out, "An error occurred (NetworkAclEntryAlreadyExists) when calling the CreateNetworkAclEntry operation") {
		t.Fatalf("duplicate entry: %d %s", code, out)
	}
	if _, err := tp.Curl(t, "member", "http://10.6.3.10/"); err != nil {
		t.Fatalf("the refused edit changed something: %v", err)
	}
}

// TestSG5_RevokeKeepsTrackedConnection: revoking the rule mid-connection
// leaves the open TCP connection working and refuses a new one.
func TestSG5_RevokeKeepsTrackedConnection(t *testing.T) {
	tp := upSecure(t, 262144)
	c := tp.dialEventually(t, "member", "10.6.2.10:7")
	defer c.Close()
	if !c.echo("before") {
		t.Fatal("echo before revoke failed")
	}
	out, code := vpcnet(t, "revoke-security-group-ingress", "--topology", tp.Name, "--group-id", "srv",
		"--protocol", "tcp", "--port", "7", "--source-group", "members")
	if code != 0 {
		t.Fatalf("revoke: %d %s", code, out)
	}
	if !c.echo("after") {
		t.Fatal("SG-5: the tracked connection was cut by a rule revoke")
	}
	if c2, err := tp.dialIn("member", "10.6.2.10:7", time.Second); err == nil {
		c2.Close()
		t.Fatal("a new connection was allowed after the revoke")
	}
	// Revoking it again: InvalidPermission.NotFound.
	out, code = vpcnet(t, "revoke-security-group-ingress", "--topology", tp.Name, "--group-id", "srv",
		"--protocol", "tcp", "--port", "7", "--source-group", "members")
	if code == 0 || !strings.Contains(out, "InvalidPermission.NotFound") {
		t.Fatalf("second revoke: %d %s", code, out)
	}
	// Authorizing restores new connections; authorizing twice is a duplicate.
	args := []string{"authorize-security-group-ingress", "--topology", tp.Name, "--group-id", "srv", "--protocol", "tcp", "--port", "7", "--cidr", "10.6.1.10/32"}
	if out, code := vpcnet(t, args...); code != 0 {
		t.Fatalf("authorize: %s", out)
	}
	if out, code := vpcnet(t, args...); code == 0 || !strings.Contains(out, "InvalidPermission.Duplicate") {
		t.Fatalf("duplicate authorize: %d %s", code, out)
	}
	c3 := tp.dialEventually(t, "member", "10.6.2.10:7")
	c3.Close()
}

// TestNACL_DenyCutsTrackedConnection: a NACL deny added mid-connection cuts
// it at once (NACLs are checked on every packet).
func TestNACL_DenyCutsTrackedConnection(t *testing.T) {
	tp := upSecure(t, 262144)
	c := tp.dialEventually(t, "member", "10.6.2.10:7")
	defer c.Close()
	if !c.echo("before") {
		t.Fatal("echo before deny failed")
	}
	out, code := vpcnet(t, "create-network-acl-entry", "--topology", tp.Name, "--network-acl-id", "default", "--ingress",
		"--rule-number", "50", "--protocol", "tcp", "--port-range", "7", "--cidr-block", "10.6.1.0/24", "--rule-action", "deny")
	if code != 0 {
		t.Fatalf("create-network-acl-entry: %d %s", code, out)
	}
	if c.echo("after") {
		t.Fatal("the tracked connection survived a NACL deny")
	}
	if n := tp.Drops(t, "server", "network-acl ingress"); n == 0 {
		t.Fatal("NACL drop not counted")
	}
}

// TestSG4_ConntrackTableFull: when the bounded table is full, new flows are
// dropped and counted; an established connection keeps working.
func TestSG4_ConntrackTableFull(t *testing.T) {
	tp := upSecure(t, 6)
	c := tp.dialEventually(t, "member", "10.6.2.10:7") // 2 entries: member's and server's
	defer c.Close()
	// Fill the table with new flows until one is refused.
	refused := false
	for i := 0; i < 6 && !refused; i++ {
		tp.Ping(t, "d1", "10.6.1.21")
		refused = tp.Stats(t).Conntrack.Refused > 0
	}
	if !refused {
		t.Fatalf("the table never filled: %+v", tp.Stats(t).Conntrack)
	}
	if tp.Ping(t, "d2", "10.6.1.20") {
		t.Fatal("a new flow passed a full table")
	}
	if n := tp.Drops(t, "d2", "conntrack-table-full"); n == 0 {
		t.Fatal("conntrack-full drop not counted per ENI")
	}
	if !c.echo("still here") {
		t.Fatal("an established flow was hurt by the full table")
	}
}
