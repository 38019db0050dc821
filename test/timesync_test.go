package test

import (
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// End-to-end tests of the Amazon Time Sync Service (SG-8): a real NTP
// client, ntpdig (Debian's ntpsec-ntpdig), inside instances queries
// 169.254.169.123, served by the daemon in each VPC's service namespace
// (timesync/). ntpdig only reads the time: it would set the clock with -S
// or -s, which these tests never pass.

// timeTopo: closed in subnet a, whose group allows NO egress and whose NACL
// denies everything both ways; open and other in subnet b, of one open
// group; quiet in a VPC with enableDnsSupport off.
const timeTopo = `{
  "name": "NAME", "region": "ap-northeast-2",
  "vpcs": [{
    "name": "v", "cidr": "10.9.0.0/16",
    "subnets": [
      {"name": "a", "cidr": "10.9.2.0/24", "az": "ap-northeast-2a", "network_acl": "deny-all"},
      {"name": "b", "cidr": "10.9.0.0/24", "az": "ap-northeast-2a"}
    ],
    "network_acls": [{"name": "deny-all"}],
    "security_groups": [
      {"name": "closed-sg", "egress": []},
      {"name": "open-sg", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}
    ],
    "instances": [
      {"name": "closed", "subnet": "a", "private_ip": "10.9.2.11", "security_groups": ["closed-sg"]},
      {"name": "open", "subnet": "b", "private_ip": "10.9.0.20", "security_groups": ["open-sg"]},
      {"name": "other", "subnet": "b", "private_ip": "10.9.0.21", "security_groups": ["open-sg"]}
    ]
  }, {
    "name": "v-nodns", "cidr": "10.8.0.0/16", "enable_dns_support": false,
    "subnets": [{"name": "c", "cidr": "10.8.1.0/24", "az": "ap-northeast-2a"}],
    "instances": [{"name": "quiet", "subnet": "c", "private_ip": "10.8.1.10"}]
  }]
}`

const timeSyncAddr = "169.254.169.123"

func requireNTPDig(t *testing.T) {
	if _, err := exec.LookPath("ntpdig"); err != nil {
		t.Skip("ntpdig is not installed (ntpsec-ntpdig): run scripts/deps.sh as root")
	}
}

// ntpAnswer is ntpdig -j's report of the server it chose.
type ntpAnswer struct {
	Time      string  `json:"time"` // the server's transmit time, local time with its zone
	Offset    float64 `json:"offset"`
	Precision float64 `json:"precision"` // the synchronization distance, s
	IP        string  `json:"ip"`
	Stratum   int     `json:"stratum"`
	Leap      string  `json:"leap"`
	Adjusted  bool    `json:"adjusted"`
}

// ntpQuery asks the time service from inside name with ntpdig, which only
// reads the time (no -S/-s), a few times over for the first ARP; it
// returns the answer, or an error with ntpdig's output.
func (tp *Topo) ntpQuery(t *testing.T, name string) (ntpAnswer, error) {
	t.Helper()
	var a ntpAnswer
	var out string
	var err error
	for i := 0; i < 5; i++ {
		out, err = tp.Exec(t, name, "ntpdig", "-j", "-t", "1", timeSyncAddr)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "{") {
				if jerr := json.Unmarshal([]byte(line), &a); jerr != nil {
					t.Fatalf("ntpdig -j from %s: %v: %q", name, jerr, line)
				}
				return a, nil
			}
		}
	}
	return a, fmt.Errorf("ntpdig from %s: no answer (%v): %s", name, err, out)
}

// checkNTP asserts what the time service answers (timesync's package
// comment): stratum 3, no leap second announced, the host's time, nothing
// adjusted.
func checkNTP(t *testing.T, name string, a ntpAnswer, before, after time.Time) {
	t.Helper()
	if a.IP != timeSyncAddr || a.Stratum != 3 || a.Leap != "no-leap" || a.Adjusted {
		t.Errorf("%s: answer %+v, want %s at stratum 3, no-leap, not adjusted", name, a, timeSyncAddr)
	}
	// The server reads the host clock the client reads: no offset beyond
	// the time a query takes.
	if math.Abs(a.Offset) > 0.5 {
		t.Errorf("%s: offset %f s from the host clock", name, a.Offset)
	}
	at, err := time.Parse("2006-01-02T15:04:05.999999999-0700", a.Time)
	if err != nil {
		t.Fatalf("%s: time %q: %v", name, a.Time, err)
	}
	if at.Before(before.Add(-time.Second)) || at.After(after.Add(time.Second)) {
		t.Errorf("%s: server time %v outside the query's [%v, %v]", name, at, before, after)
	}
}

// TestTimeSync_SG8_InstancesGetTheTime: a real NTP client gets the time
// from 169.254.169.123 in an open instance; in closed, whose group allows
// nothing outbound and whose NACL denies everything (SG-8: neither filters
// the link-local services), while the same group and NACL do stop its
// other traffic; and in quiet, whose VPC has DNS support off (DNS-1
// silences only the DNS server). A datagram that is no NTP request gets no
// answer and breaks nothing.
func TestTimeSync_SG8_InstancesGetTheTime(t *testing.T) {
	requireNTPDig(t)
	tp := Up(t, timeTopo)
	if tp.Ping(t, "closed", "10.9.0.20") {
		t.Fatal("closed pings open: its group and NACL should block it")
	}
	for _, name := range []string{"open", "closed", "quiet"} {
		before := time.Now()
		a, err := tp.ntpQuery(t, name)
		if err != nil {
			t.Fatal(err)
		}
		checkNTP(t, name, a, before, time.Now())
	}
	// Bad input: a short datagram and a server-mode packet (what a
	// reflected answer looks like) are dropped unanswered; the same 48
	// bytes in client mode (v4, mode 3: 0x23) are answered with 48.
	for _, c := range []struct{ payload, want string }{
		{`x`, "0"}, {`\044` + strings.Repeat(`\000`, 47), "0"}, {`\043` + strings.Repeat(`\000`, 47), "48"},
	} {
		out, _ := tp.Exec(t, "open", "sh", "-c", `printf '`+c.payload+`' | nc -u -w 1 `+timeSyncAddr+` 123 | wc -c`)
		if strings.TrimSpace(out) != c.want {
			t.Errorf("datagram %.8q: answered %q bytes, want %s", c.payload, strings.TrimSpace(out), c.want)
		}
	}
	before := time.Now()
	a, err := tp.ntpQuery(t, "open")
	if err != nil {
		t.Fatalf("after bad input: %v", err)
	}
	checkNTP(t, "open after bad input", a, before, time.Now())
}

// TestTimeSync_SG8_EgressRevokedLive: with every outbound rule of its group
// revoked through the EC2 API, an instance still gets the time (SG-8).
func TestTimeSync_SG8_EgressRevokedLive(t *testing.T) {
	requireNTPDig(t)
	tp := Up(t, timeTopo)
	if _, err := tp.ntpQuery(t, "open"); err != nil {
		t.Fatalf("before the revoke: %v", err)
	}
	if !tp.PingEventually(t, "open", "10.9.0.21") {
		t.Fatal("open does not ping other before the revoke")
	}
	tp.ec2OK(t, nil, "revoke-security-group-egress", "--group-id", tp.groupID(t, "open-sg"), "--ip-permissions",
		`[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]`)
	if tp.Ping(t, "open", "10.9.0.21") {
		t.Fatal("open pings other after its egress was revoked")
	}
	before := time.Now()
	a, err := tp.ntpQuery(t, "open")
	if err != nil {
		t.Fatalf("egress revoked: %v", err)
	}
	checkNTP(t, "open, egress revoked", a, before, time.Now())
}
