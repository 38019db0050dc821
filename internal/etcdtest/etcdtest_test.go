package etcdtest

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpcnet/vpcnet/netns"
)

// TestLocalCluster starts three members, reads and writes through Dial,
// crashes and restarts one, and checks that Cleanup leaves no process and
// no namespace behind.
func TestLocalCluster(t *testing.T) {
	Skip(t)
	var c *Cluster
	var pids []int
	t.Run("cluster", func(t *testing.T) {
		c = StartLocal(t, 3)
		if got, want := c.URL(), "etcd://127.0.0.1:2379,127.0.0.1:2381,127.0.0.1:2383"; got != want {
			t.Errorf("URL() = %q, want %q", got, want)
		}
		cli := c.Client()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if _, err := cli.Put(ctx, "/etcdtest/k", "v1"); err != nil {
			t.Fatalf("put: %v", err)
		}
		if c.Leader() < 0 {
			t.Errorf("no leader")
		}
		c.Kill(1)
		if c.running(1) {
			t.Fatalf("member 1 still runs after Kill")
		}
		// A write sent while the leader is being replaced may wait for
		// etcd's request timeout: wait for a leader first.
		if err := c.WaitHealthy(StartTimeout); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Put(ctx, "/etcdtest/k", "v2"); err != nil {
			t.Fatalf("put with one member down: %v", err)
		}
		c.Restart(1)
		if err := c.WaitHealthy(StartTimeout); err != nil {
			t.Fatal(err)
		}
		// The restarted member caught up: a read from it alone.
		one := c.Client(1)
		r, err := one.Get(ctx, "/etcdtest/k")
		if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "v2" {
			t.Fatalf("get from restarted member: %v %v", r, err)
		}
		if _, err := c.Dial(ctx, "127.0.0.1:9"); err == nil || !strings.Contains(err.Error(), "no member") {
			t.Errorf("Dial of a non-member address: err = %v, want a refusal", err)
		}
		c.mu.Lock()
		for _, p := range c.procs {
			pids = append(pids, p.pid)
		}
		c.mu.Unlock()
	})
	if c == nil {
		return
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("pid %d still runs after Cleanup", pid)
		}
	}
	ns := c.members[0].NS
	if netns.Exists(ns) {
		t.Errorf("namespace %s left after Cleanup", ns)
	}
	for _, d := range c.dirs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("data dir %s left after Cleanup", d)
		}
	}
}
