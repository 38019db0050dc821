package multihost

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// peerUnreachable is the tunnel's drop reason: the sending machine has not
// heard the destination's for about a second.
const peerUnreachable = "peer-unreachable"

// TestFaults: an agent crashes and comes back, another is stopped and
// started, etcd loses a member then all of them, the underlay splits two
// machines; one lab, one topology, in that order, each case leaving the
// lab whole for the next.
func TestFaults(t *testing.T) {
	l := upSpread(t)

	t.Run("AgentKilled_OthersForward_Unreachable_ThenRebuilt", func(t *testing.T) {
		l.KillAgent(t, "h2")
		// h1 and h3 keep talking, both ways.
		for _, p := range [][2]string{{"web", dbIP}, {"db", webIP}, {"app2", webIP}} {
			if !l.Ping(t, p[0], p[1]) {
				t.Errorf("with h2's agent dead, %s cannot ping %s", p[0], p[1])
			}
		}
		// To h2's instances: nothing arrives, and each sender's machine
		// counts it once it has missed h2 for about a second.
		for _, c := range []struct{ from, host, to string }{{"web", "h1", appIP}, {"db", "h3", appIP}, {"x1", "h1", x2IP}} {
			l.expectUnreachable(t, c.from, c.host, c.to, "h2's agent dead")
		}
		for _, h := range []string{"h1", "h3"} {
			if !l.AgentAlive(h) {
				t.Errorf("agent %s died with h2's", h)
			}
		}
		// Restarted, h2 rebuilds from etcd.
		start := time.Now()
		l.StartAgent(t, "h2")
		if !l.PingEventually(t, 30*time.Second, "web", appIP) {
			t.Fatalf("30 s after h2's agent restarted, web cannot ping app")
		}
		t.Logf("h2's agent restarted: web → app answered after %v", time.Since(start).Round(time.Millisecond))
		if w, err := l.Curl(t, "web", "http://"+appIP+"/"); err != nil || w.Name != "app" {
			t.Errorf("web → app:80 after h2's restart: %+v %v", w, err)
		}
		if w, err := l.Curl(t, "app", "http://"+inetIP+"/"); err != nil || clientIP(w) != natEIP {
			t.Errorf("app → inet through the NAT gateway after h2's restart: %+v %v", w, err)
		}
		if !l.PingEventually(t, 10*time.Second, "x2", x1IP) {
			t.Error("x2 (v2, on h2) cannot ping x1 after h2's restart")
		}
	})

	// SIGTERM takes the machine's own part down, nothing else; the network
	// stays in the store and a new agent builds it again.
	t.Run("AgentStopped_RemovesItsPartOnly_ThenRebuilt", func(t *testing.T) {
		l.StopAgent(t, "h2")
		var mine, others []string
		for _, ns := range namespacesWithPrefix(l.Topo + "-") {
			inst := strings.TrimPrefix(ns, l.Topo+"-")
			if placed[inst] == "h2" || strings.HasSuffix(inst, "@h2") {
				mine = append(mine, ns)
			} else {
				others = append(others, ns)
			}
		}
		if len(mine) > 0 {
			t.Errorf("h2's agent stopped (SIGTERM), its namespaces are left: %v", mine)
		}
		for _, inst := range []string{"web", "db", "app2", "x1", "inet"} {
			if !slices.Contains(others, l.Topo+"-"+inst) {
				t.Errorf("h2's agent stopped, and %s (on %s) is gone too: %v", inst, placed[inst], others)
			}
		}
		if !l.Ping(t, "web", dbIP) {
			t.Error("with h2's agent stopped, web (h1) cannot ping db (h3)")
		}
		l.StartAgent(t, "h2")
		if !l.PingEventually(t, 30*time.Second, "web", appIP) || !l.PingEventually(t, 10*time.Second, "x1", x2IP) {
			t.Fatal("h2's agent started again: web → app or x1 → x2 still unanswered after 30 s")
		}
	})

	t.Run("Etcd_MemberDown_AllDown_Back", func(t *testing.T) {
		// One member down (h2's): a quorum stands and operations work,
		// through h2's agent too (its client uses the other members).
		l.Cluster.Kill(1)
		l.Ec2OK(t, "h1", nil, "authorize-security-group-ingress", "--group-id", "db-sg", "--protocol", "tcp", "--port", "7", "--cidr", "10.5.1.0/24")
		if !poll(3*time.Second, func() bool { return l.Opens(t, "web", dbIP, "7") }) {
			t.Error("web → db:7 refused 3 s after authorizing it with one etcd member down")
		}
		l.Ec2OK(t, "h2", nil, "revoke-security-group-ingress", "--group-id", "db-sg", "--protocol", "tcp", "--port", "7", "--cidr", "10.5.1.0/24")
		if !poll(3*time.Second, func() bool { return !l.Opens(t, "web", dbIP, "7") }) {
			t.Error("web → db:7 still opens 3 s after revoking it through h2 (its etcd member down)")
		}

		// All down: forwarding goes on with the last state; an operation
		// is refused, saying why, in bounded time.
		l.Cluster.Kill(0)
		l.Cluster.Kill(2)
		for _, p := range [][2]string{{"web", dbIP}, {"app", webIP}, {"x1", x2IP}} {
			if !l.Ping(t, p[0], p[1]) {
				t.Errorf("with etcd down, %s cannot ping %s", p[0], p[1])
			}
		}
		start := time.Now()
		out, code := l.Ec2(t, "h1", "authorize-security-group-ingress", "--group-id", "db-sg", "--protocol", "tcp", "--port", "7", "--cidr", "10.5.1.0/24")
		took := time.Since(start).Round(time.Millisecond)
		low := strings.ToLower(out)
		switch {
		case code == 0:
			t.Errorf("an operation succeeded with all of etcd down:\n%s", out)
		case code < 0:
			t.Errorf("an operation hung with all of etcd down:\n%s", out)
		case !strings.Contains(low, "etcd") && !strings.Contains(low, "store"):
			t.Errorf("the refusal (exit %d, after %v) does not say the store is unreachable:\n%s", code, took, out)
		default:
			t.Logf("with etcd down, an operation is refused after %v, exit %d: %s", took, code, strings.TrimSpace(out))
		}
		// Still forwarding after the agents have noticed.
		if w, err := l.Curl(t, "app", "http://"+webIP+"/"); err != nil || w.Name != "web" {
			t.Errorf("app → web:80 with etcd down: %+v %v", w, err)
		}
		for _, h := range hosts {
			if !l.AgentAlive(h) {
				t.Errorf("agent %s died while etcd was down", h)
			}
		}

		// Back: operations work again, and the refused one was not half
		// applied (it is not a duplicate now).
		for i := range hosts {
			l.Cluster.Restart(i)
		}
		start = time.Now()
		if !poll(30*time.Second, func() bool {
			out, code = l.Ec2(t, "h1", "authorize-security-group-ingress", "--group-id", "db-sg", "--protocol", "tcp", "--port", "7", "--cidr", "10.5.1.0/24")
			return code == 0 || strings.Contains(out, "Duplicate")
		}) {
			t.Fatalf("30 s after etcd restarted, operations still refused: exit %d\n%s", code, out)
		}
		if code != 0 {
			t.Fatalf("the operation refused while etcd was down had been applied:\n%s", out)
		}
		t.Logf("etcd restarted: an operation succeeded after %v", time.Since(start).Round(time.Millisecond))
		if !poll(3*time.Second, func() bool { return l.Opens(t, "web", dbIP, "7") }) {
			t.Error("web → db:7 refused 3 s after authorizing it once etcd was back")
		}
	})

	t.Run("Partition_H1H3_CountedNoCrash_Heals", func(t *testing.T) {
		l.Partition(t, "h1", "h3")
		healed := false
		defer func() {
			if !healed {
				l.Heal(t, "h1", "h3")
			}
		}()
		for _, c := range []struct{ from, host, to string }{{"web", "h1", dbIP}, {"db", "h3", webIP}} {
			l.expectUnreachable(t, c.from, c.host, c.to, "h1–h3 partitioned")
		}
		// h1–h2 and h2–h3 are whole.
		for _, p := range [][2]string{{"web", appIP}, {"app", webIP}, {"app2", appIP}, {"x1", x2IP}} {
			if !l.Ping(t, p[0], p[1]) {
				t.Errorf("during the h1–h3 partition, %s cannot ping %s", p[0], p[1])
			}
		}
		for _, h := range hosts {
			if !l.AgentAlive(h) {
				t.Errorf("agent %s died during the partition", h)
			}
		}
		l.Heal(t, "h1", "h3")
		healed = true
		start := time.Now()
		for _, p := range [][2]string{{"web", dbIP}, {"db", webIP}} {
			if !l.PingEventually(t, 30*time.Second, p[0], p[1]) {
				t.Fatalf("30 s after the partition healed, %s cannot ping %s", p[0], p[1])
			}
		}
		t.Logf("partition healed: traffic back after %v", time.Since(start).Round(time.Millisecond))
		if w, err := l.Curl(t, "web", "http://"+inetIP+"/"); err != nil || clientIP(w) != webEIP {
			t.Errorf("web → inet (h1 → h3) after the heal: %+v %v", w, err)
		}
	})
}

// expectUnreachable pings from instance from (on machine host) to addr,
// whose machine cannot be reached (why), until host counts the drop as
// peer-unreachable, for up to 6 s: the sender's machine notices a silent
// peer after about a second. No ping may be answered.
func (l *Lab) expectUnreachable(t *testing.T, from, host, addr, why string) {
	t.Helper()
	before := l.Drops(t, host, "", peerUnreachable)
	answered := false
	counted := poll(6*time.Second, func() bool {
		answered = answered || l.Ping(t, from, addr)
		return l.Drops(t, host, "", peerUnreachable) > before
	})
	if answered {
		t.Errorf("%s's ping to %s was answered (%s)", from, addr, why)
	}
	if !counted {
		t.Errorf("%s drops on %s stayed %d for 6 s while %s pinged %s (%s)", peerUnreachable, host, before, from, addr, why)
	}
}
