package test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The textbook's labs, runnable (issue 12): each folder of examples/ is
// brought up from its topo.json, and its scripts of real `aws ec2` calls
// (Debian's AWS CLI v2) run against the topology's endpoint after the exports
// of `vpcnet env`, exactly as examples/README.md tells a reader to. A script
// checks EC2's answers, the error codes a reader meets and the traffic
// (ping, curl, nc between the namespaces); the test demands exit 0 and the
// lines that say the traffic checks ran and held, and checks what it can
// again from outside the scripts. The four run in parallel with each other
// (after the package's serial tests), each on its own topology.

// exampleTopo brings up examples/DIR/topo.json under a fresh name.
func exampleTopo(t *testing.T, dir, name string) *Topo {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", dir, "topo.json"))
	if err != nil {
		t.Fatal(err)
	}
	from := `"name": "` + name + `"`
	if !bytes.Contains(b, []byte(from)) {
		t.Fatalf("examples/%s/topo.json: no %s", dir, from)
	}
	return Up(t, strings.Replace(string(b), from, `"name": "NAME"`, 1))
}

// runExample runs examples/DIR/SCRIPT with bash after eval "$(vpcnet env)",
// with TOPO set to the topology's name, and returns its output (stdout and
// stderr interleaved, as a reader sees them). A script that fails ends the
// test, naming the EC2 operation or feature that is missing when the
// endpoint said so.
func runExample(t *testing.T, tp *Topo, env *awsEnv, dir, script string) string {
	t.Helper()
	// A script makes 2–50 AWS CLI calls of about 1 s of CPU each: minutes
	// on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	path, _ := filepath.Abs(filepath.Join("..", "examples", dir, script))
	cmd := exec.CommandContext(ctx, "bash", "-c", `eval "$VPCNET_ENV"; exec bash "$0"`, path)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + env.home, "LANG=C.UTF-8",
		"VPCNET_ENV=" + env.exports, "TOPO=" + tp.Name, "AWS=" + debianAWS,
		"AWS_PROFILE=someone-else", "AWS_SESSION_TOKEN=stale"} // vpcnet env unsets both
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("examples/%s/%s: %v, %.1fs", dir, script, err, time.Since(start).Seconds())
	if err != nil {
		t.Fatalf("examples/%s/%s failed (%v)%s\n%s", dir, script, err, missing(out.String()), out.String())
	}
	return out.String()
}

var (
	invalidAction = regexp.MustCompile(`\(InvalidAction\) when calling the (\w+) operation`)
	unsupportedOp = regexp.MustCompile(`\((Unsupported|UnknownParameter)\) when calling the (\w+) operation: (.*)`)
)

// missing names what a failed script ran into that vpcnet does not do yet.
func missing(out string) string {
	var b strings.Builder
	for _, m := range invalidAction.FindAllStringSubmatch(out, -1) {
		b.WriteString("\nMISSING OPERATION: " + m[1] + " is not served by the EC2 endpoint")
	}
	for _, m := range unsupportedOp.FindAllStringSubmatch(out, -1) {
		b.WriteString("\nMISSING FEATURE of " + m[2] + ": " + m[3])
	}
	return b.String()
}

// mustSay demands that each pattern (a regexp) match a line of out.
func mustSay(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(`(?m)` + p).MatchString(out) {
			t.Errorf("the output lacks %q", p)
		}
	}
}

// mustList demands that describe-OP list want items of key.
func mustList(t *testing.T, tp *Topo, op, key string, want int) {
	t.Helper()
	out, code := vpcnet(t, op, "--topology", tp.Name, "--query", "length("+key+")", "--output", "text")
	if code != 0 || strings.TrimSpace(out) != strconv.Itoa(want) {
		t.Errorf("vpcnet %s: exit %d, %s %s; want %d", op, code, strings.TrimSpace(out), key, want)
	}
}

// TestExamples_Lab1_EIP1_EIP2_EIP3: lab 1 allocates an Elastic IP, reaches
// web1 by it from the internet, is refused moving it without
// --allow-reassociation (Resource.AlreadyAssociated), moves it to web2,
// is refused releasing it while associated (InvalidIPAddress.InUse),
// disassociates it (the internet no longer reaches it), releases it, and is
// refused releasing an unknown allocation id.
func TestExamples_Lab1_EIP1_EIP2_EIP3(t *testing.T) {
	RequireRoot(t)
	requireAWSCLI(t)
	t.Parallel() // the labs' topologies are independent; the AWS CLI's start-up (~1 s of CPU a call) dominates
	tp := exampleTopo(t, "lab1-elastic-ip", "lab1")
	out := runExample(t, tp, newAWSEnv(t, tp.Name), "lab1-elastic-ip", "lab.sh")
	mustSay(t, out,
		`ok remote cannot reach http://13\.125\.\d+\.\d+/$`,
		`ok remote reached http://13\.125\.\d+\.\d+/: "name":"web1"`,
		`ok remote pings 13\.125\.`,
		`refused with \(Resource\.AlreadyAssociated\)`,
		`ok remote reached http://13\.125\.\d+\.\d+/: "name":"web2"`,
		`refused with \(InvalidIPAddress\.InUse\)`,
		`ok remote cannot ping 13\.125\.`,
		`refused with \(InvalidAllocationID\.NotFound\)`,
		`^lab 1 done`)
	// From outside the script: the lab left no address, and the web servers
	// have no public address.
	mustList(t, tp, "describe-addresses", "Addresses", 0)
	if pub, code := vpcnet(t, "describe-instances", "--topology", tp.Name,
		"--query", "Reservations[].Instances[].PublicIpAddress", "--output", "text"); code != 0 || strings.TrimSpace(pub) != "" {
		t.Errorf("public IPs after the lab: exit %d: %q", code, pub)
	}
}

// TestExamples_Lab2_ENI1_ENI6: lab 2 creates ENIs with an automatic and a
// given private IP and a group, attaches one to web as eth1 (web sees it,
// peer pings and fetches through it), is refused attaching an ENI of another
// zone, deleting an attached ENI and detaching eth0, detaches and deletes.
func TestExamples_Lab2_ENI1_ENI6(t *testing.T) {
	RequireRoot(t)
	requireAWSCLI(t)
	t.Parallel() // the labs' topologies are independent; the AWS CLI's start-up (~1 s of CPU a call) dominates
	tp := exampleTopo(t, "lab2-eni", "lab2")
	out := runExample(t, tp, newAWSEnv(t, tp.Name), "lab2-eni", "lab.sh")
	mustSay(t, out,
		`ok eni-[0-9a-f]{17} got 92\.75\.100\.4,`,
		`refused with \(InvalidIPAddress\.InUse\)`,
		`ok the group of eni-[0-9a-f]{17} is default`,
		`refused with \(InvalidParameterCombination\)`,
		`eth1 +\S+ +92\.75\.100\.50/24`,
		`ok peer pings 92\.75\.100\.50`,
		`ok peer reached http://92\.75\.100\.50/: "local":"92\.75\.100\.50:80"`,
		`refused with \(InvalidNetworkInterface\.InUse\)`,
		`ok web has no eth1`,
		`ok peer cannot ping 92\.75\.100\.50`,
		`refused with \(OperationNotPermitted\)`,
		`^lab 2 done`)
	mustList(t, tp, "describe-network-interfaces", "NetworkInterfaces", 2)
	if links := tp.MustExec(t, "web", "ip", "-br", "link"); strings.Contains(links, "eth1") {
		t.Errorf("web still has eth1:\n%s", links)
	}
}

// TestExamples_Lab3_INST1_LIFE3: lab 3 picks an image, creates a key pair
// and a group, is refused an unknown image and key pair and three addresses
// on a t2.micro's interface (QUOTA-2), launches web1 with
// --associate-public-ip-address and web2 with --network-interfaces (a
// description, a secondary IP, a public IP), reaches both from the internet
// by their public IPs and web2's secondary IP from web1, and terminates them.
func TestExamples_Lab3_INST1_LIFE3(t *testing.T) {
	RequireRoot(t)
	requireAWSCLI(t)
	t.Parallel() // the labs' topologies are independent; the AWS CLI's start-up (~1 s of CPU a call) dominates
	tp := exampleTopo(t, "lab3-instance", "lab3")
	out := runExample(t, tp, newAWSEnv(t, tp.Name), "lab3-instance", "lab.sh")
	mustSay(t, out,
		`ok image ami-[0-9a-f]+`,
		`refused with \(InvalidAMIID\.NotFound\)`,
		`refused with \(InvalidKeyPair\.NotFound\)`,
		`refused with \(PrivateIpAddressLimitExceeded\)`,
		`ok web1's state, type, image and key is running t2\.micro ami-\S+ my-lab3-key`,
		`ok remote reached http://13\.125\.\d+\.\d+/: "name":"web1"`,
		`ok eth0's description is Lab 3 web server`,
		`ok web2's eth0 has 92\.75\.100\.20 and 92\.75\.100\.21`,
		`ok remote reached http://13\.125\.\d+\.\d+/: "name":"web2"`,
		`ok web1 reached http://92\.75\.100\.21/`,
		`refused with \(DependencyViolation\)`,
		`ok both terminated`,
		`^lab 3 done`)
	if left := namespacesWithPrefix(tp.Name + "-web"); len(left) > 0 {
		t.Errorf("terminated instances' namespaces left: %v", left)
	}
	mustList(t, tp, "describe-security-groups", "SecurityGroups", 1) // the VPC's default group
}

// TestExamples_Ch5FromNothing_LIFE1_LIFE2: from a topology of only internet
// hosts and an address pool, build.sh builds the textbook's network with the
// AWS CLI (VPC, subnets, internet gateway, route tables, NAT gateway and its
// EIP, NACL, groups, web and db); check.sh makes the demo's checks (web
// reaches db:3306, db reaches the internet as the NAT gateway's EIP, the
// internet reaches web's EIP); the export of the built network is a valid
// topology file; destroy.sh deletes it all again in the order AWS allows.
func TestExamples_Ch5FromNothing_LIFE1_LIFE2(t *testing.T) {
	RequireRoot(t)
	requireAWSCLI(t)
	t.Parallel() // the labs' topologies are independent; the AWS CLI's start-up (~1 s of CPU a call) dominates
	tp := exampleTopo(t, "ch5-from-nothing", "ch5-nothing")
	env := newAWSEnv(t, tp.Name)
	out := runExample(t, tp, env, "ch5-from-nothing", "build.sh")
	mustSay(t, out, `ok nat-2a is nat-[0-9a-f]{17}, available`, `ok web is i-[0-9a-f]{17}, db is i-[0-9a-f]{17}: running`)

	out = runExample(t, tp, env, "ch5-from-nothing", "check.sh")
	mustSay(t, out,
		`ok db's echo is SELECT 1;`,
		`ok db reached http://13\.52\.201\.147/: "client":"13\.125\.`,
		`ok remote reached http://13\.125\.\d+\.\d+/: "local":"92\.75\.100\.10:80"`,
		`ok remote cannot reach 13\.125\.\d+\.\d+:3306`,
		`^all checks passed`)

	// From outside the scripts: db's requests leave as the NAT gateway's EIP.
	natEIP, code := vpcnet(t, "describe-nat-gateways", "--topology", tp.Name,
		"--query", "NatGateways[0].NatGatewayAddresses[0].PublicIp", "--output", "text")
	natEIP = strings.TrimSpace(natEIP)
	if w, err := tp.Curl(t, "db", "http://13.52.201.147/"); code != 0 || err != nil || !strings.HasPrefix(w.Client, natEIP+":") {
		t.Errorf("db → remote: %+v %v; want the client %s (exit %d)", w, err, natEIP, code)
	}
	// The network built by the API exports as a file that loads again.
	exported, code := vpcnet(t, "export", tp.Name)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, exported)
	}
	path := filepath.Join(t.TempDir(), "export.json")
	if err := os.WriteFile(path, []byte(exported), 0o644); err != nil {
		t.Fatal(err)
	}
	if o, code := vpcnet(t, "validate", path); code != 0 {
		t.Errorf("the export does not validate: %s\n%s", o, exported)
	}

	out = runExample(t, tp, env, "ch5-from-nothing", "destroy.sh")
	mustSay(t, out, `refused with \(DependencyViolation\)`, `^the account is empty again`)
	mustList(t, tp, "describe-vpcs", "Vpcs", 0)
	for _, ns := range []string{"web", "db"} {
		if left := namespacesWithPrefix(tp.Name + "-" + ns); len(left) > 0 {
			t.Errorf("namespaces left after destroy.sh: %v", left)
		}
	}
}

// TestExamples_FailureNamesWhatIsMissing: when a lab fails because the
// endpoint does not serve an operation, or not one of its parameters, the
// test's failure names it.
func TestExamples_FailureNamesWhatIsMissing(t *testing.T) {
	out := "$ aws ec2 create-vpc --cidr-block 92.75.0.0/16\n\n" +
		"An error occurred (InvalidAction) when calling the CreateVpc operation: The action CreateVpc is not supported by vpcnet's endpoint yet.\n" +
		"An error occurred (Unsupported) when calling the RunInstances operation: The parameter NetworkInterfaces.1.Description is not supported by vpcnet\n"
	got := missing(out)
	for _, want := range []string{"MISSING OPERATION: CreateVpc", "MISSING FEATURE of RunInstances: The parameter NetworkInterfaces.1.Description"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing(…) = %q, want %q in it", got, want)
		}
	}
	if got := missing("An error occurred (InvalidIPAddress.InUse) when calling the ReleaseAddress operation: …"); got != "" {
		t.Errorf("an expected refusal named as missing: %q", got)
	}
}
