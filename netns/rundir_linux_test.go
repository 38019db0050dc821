package netns

import (
	"os"
	"strings"
	"testing"
)

// TestRunDirIsASharedMountPoint: after vpcnet makes a namespace, /run/netns
// is a shared mount point, as `ip netns add` leaves it, so a later
// `ip netns add` does not bind-mount the folder over vpcnet's namespaces
// (whose deletion would then fail with EBUSY).
func TestRunDirIsASharedMountPoint(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces")
	}
	if err := sharedRunDir(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 6 && f[4] == "/run/netns" && strings.Contains(line, "shared:") {
			return
		}
	}
	t.Fatalf("/run/netns is not a shared mount point:\n%s", b)
}
