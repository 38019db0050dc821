package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/internal/hostcheck"
)

var vpcnetBin string

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		dir, err := os.MkdirTemp("", "vpcnet-e2e")
		if err != nil {
			panic(err)
		}
		vpcnetBin = filepath.Join(dir, "vpcnet")
		out, err := exec.Command("go", "build", "-o", vpcnetBin, "../cmd/vpcnet").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build vpcnet: %v\n%s", err, out)
			os.Exit(1)
		}
		code := hostcheck.Guard(m.Run)
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// RequireRoot skips a test that needs root.
func RequireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces")
	}
}

// Topo is a topology a test brought up.
type Topo struct {
	Name     string
	UpOutput string // what `vpcnet up` printed, warnings included
	dir      string
}

// randName returns a topology name unique to this run.
func randName() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "t" + hex.EncodeToString(b)[:7]
}

// vpcnet runs the binary and returns combined output and exit code.
func vpcnet(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, vpcnetBin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("vpcnet %v: %v", args, err)
	}
	return out.String(), code
}

// Up writes topo (a JSON template whose "NAME" is replaced by a fresh
// topology name) and brings it up; cleanup takes it down and checks that no
// namespace is left.
func Up(t *testing.T, topo string) *Topo {
	t.Helper()
	tp, path := newTopo(t, topo)
	out, code := vpcnet(t, "up", path)
	if code != 0 {
		t.Fatalf("up: exit %d:\n%s", code, out)
	}
	tp.UpOutput = out
	return tp
}

// newTopo writes topo (its "NAME" replaced by a fresh topology name) for
// `vpcnet up`, and registers the cleanup that takes it down and checks that
// no namespace is left. It returns the file's path.
func newTopo(t *testing.T, topo string) (*Topo, string) {
	t.Helper()
	RequireRoot(t)
	tp := &Topo{Name: randName(), dir: t.TempDir()}
	path := filepath.Join(tp.dir, "topo.json")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(topo, "NAME", tp.Name)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if out, code := vpcnet(t, "down", tp.Name); code != 0 {
			t.Errorf("down %s: exit %d: %s", tp.Name, code, out)
		}
		if left := namespacesWithPrefix(tp.Name + "-"); len(left) > 0 {
			t.Errorf("namespaces left after down: %v", left)
		}
	})
	return tp, path
}

// UpMustFail writes topo with its "NAME" replaced by name (a fresh one from
// randName), runs `vpcnet up` on it and demands that it fail with want in
// its output and leave no namespace and no state folder behind. It returns
// the output.
func UpMustFail(t *testing.T, name, topo, want string) string {
	t.Helper()
	RequireRoot(t)
	path := filepath.Join(t.TempDir(), "topo.json")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(topo, "NAME", name)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := vpcnet(t, "up", path)
	if code == 0 {
		vpcnet(t, "down", name)
		t.Fatalf("up succeeded; want it to fail with %q:\n%s", want, out)
	}
	if !strings.Contains(out, want) {
		t.Errorf("up failed without %q:\n%s", want, out)
	}
	if left := namespacesWithPrefix(name + "-"); len(left) > 0 {
		t.Errorf("namespaces left after a failed up: %v", left)
	}
	if _, err := os.Stat(filepath.Join("/run/vpcnet", name)); !os.IsNotExist(err) {
		t.Errorf("state folder left after a failed up: %v", err)
	}
	return out
}

func namespacesWithPrefix(p string) []string {
	ents, _ := os.ReadDir("/run/netns")
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), p) {
			out = append(out, e.Name())
		}
	}
	return out
}

// Exec runs a command in an instance or internet host namespace.
func (tp *Topo) Exec(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", tp.Name + "-" + name}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// MustExec is Exec that fails the test on error.
func (tp *Topo) MustExec(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := tp.Exec(t, name, args...)
	if err != nil {
		t.Fatalf("%s: %v: %v\n%s", name, args, err, out)
	}
	return out
}

// Ping reports whether one ping from name to addr is answered.
func (tp *Topo) Ping(t *testing.T, name, addr string) bool {
	t.Helper()
	_, err := tp.Exec(t, name, "ping", "-c", "1", "-W", "1", addr)
	return err == nil
}

// PingEventually retries a ping for a few seconds (ARP, user_data start).
func (tp *Topo) PingEventually(t *testing.T, name, addr string) bool {
	t.Helper()
	for i := 0; i < 5; i++ {
		if tp.Ping(t, name, addr) {
			return true
		}
	}
	return false
}

// Curl fetches url from inside name and decodes vpcnet serve's answer.
func (tp *Topo) Curl(t *testing.T, name, url string) (Whoami, error) {
	t.Helper()
	var w Whoami
	var out string
	var err error
	for i := 0; i < 50; i++ { // user_data servers may still be starting
		out, err = tp.Exec(t, name, "curl", "-sS", "--max-time", "2", url)
		if err == nil {
			break
		}
		// curl's words for a refused connection (exit 7) vary by version.
		if !strings.Contains(out, "refused") && !strings.Contains(out, "Couldn't connect") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return w, fmt.Errorf("curl %s from %s: %v: %s", url, name, err, out)
	}
	if err := json.Unmarshal([]byte(out), &w); err != nil {
		return w, fmt.Errorf("curl %s: %v: %q", url, err, out)
	}
	return w, nil
}

// Whoami is vpcnet serve --http's answer.
type Whoami struct {
	Name   string `json:"name"`
	Local  string `json:"local"`
	Client string `json:"client"`
}

// Stats fetches the forwarder's counters.
func (tp *Topo) Stats(t *testing.T) dataplane.Stats {
	t.Helper()
	out, code := vpcnet(t, "stats", "--json", "--topology", tp.Name)
	if code != 0 {
		t.Fatalf("stats: exit %d: %s", code, out)
	}
	var s dataplane.Stats
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("stats: %v: %s", err, out)
	}
	return s
}

// Drops returns the drop count of reason (prefix of its name) at endpoint.
func (tp *Topo) Drops(t *testing.T, endpoint, reason string) uint64 {
	t.Helper()
	for _, e := range tp.Stats(t).Endpoints {
		if e.Name != endpoint {
			continue
		}
		var n uint64
		for r, c := range e.Drops {
			if strings.HasPrefix(r, reason) {
				n += c
			}
		}
		return n
	}
	t.Fatalf("no endpoint %q in stats", endpoint)
	return 0
}
