package daemon

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpcnet/vpcnet/netns"
	"github.com/vpcnet/vpcnet/topology"
)

// nameRule is what every refusal of a topology name says.
const nameRule = "[a-z0-9-]{1,12}"

// badNames are topology names that are not data: paths, empty, too long,
// upper case, control characters.
var badNames = []string{"", ".", "..", "../victim", "../../victim", "a/b", "/abs", "A", "tOO", "abcdefghijklm", "a b", "a\x00", "a\n", ".hidden"}

// tempRunDir points RunDir at a fresh folder inside a temporary root and
// returns that root; RunDir is restored after the test.
func tempRunDir(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	old := RunDir
	RunDir = filepath.Join(root, "run")
	t.Cleanup(func() { RunDir = old })
	if err := os.Mkdir(RunDir, 0o700); err != nil {
		t.Fatal(err)
	}
	return root
}

// tree lists every path under root with its mode and, for files, contents.
func tree(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		line := strings.TrimPrefix(p, root) + " " + fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			line += " " + string(b)
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// serveAt answers every HTTP request on a unix socket at path with an
// empty JSON object, until the test ends.
func serveAt(t *testing.T, path string) {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("{}"))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

// TestHardeningNamesAreData: issue 10 item 1. A topology name is checked
// before any path is made from it: Down, ReadState, Lock, MakeDir and a
// client's calls refuse a name outside [a-z0-9-]{1,12}, and nothing outside
// RunDir (nor RunDir itself) is removed, created or reached. Before the fix
// Down("../victim") removed the victim folder, Down("") emptied RunDir, and a
// client dialled the victim's socket.
func TestHardeningNamesAreData(t *testing.T) {
	root := tempRunDir(t)
	victim := filepath.Join(root, "victim")
	if err := os.MkdirAll(filepath.Join(victim, "s"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A topology that is not up, beside the names tried: Down("") must not
	// take it (it emptied RunDir before).
	if err := os.MkdirAll(filepath.Join(RunDir, "other", "keep"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A socket the traversal would reach: a client of "../victim" must
	// refuse before dialling, not talk to it.
	serveAt(t, filepath.Join(victim, "control.sock"))
	before := tree(t, root)

	for _, name := range badNames {
		checks := map[string]error{}
		checks["Down"] = Down(name)
		_, checks["ReadState"] = ReadState(name)
		unlock, err := Lock(name, 10*time.Millisecond)
		if unlock != nil {
			unlock()
		}
		checks["Lock"] = err
		_, checks["MakeDir"] = MakeDir(name)
		var out map[string]any
		checks["Client.Get"] = NewClient(name).Get("/status", &out)
		checks["Client.Post"] = NewClient(name).Post("/op/DescribeInstances", typedReq{}, &out)
		for what, err := range checks {
			if err == nil {
				t.Errorf("%s(%q) accepted the name", what, name)
				continue
			}
			var te *topology.Error
			if !errors.As(err, &te) || te.Rule != topology.RuleFormat || !strings.Contains(err.Error(), nameRule) {
				t.Errorf("%s(%q): error does not name the rule %s: %v", what, name, nameRule, err)
			}
		}
	}
	if after := tree(t, root); after != before {
		t.Errorf("bad names changed the filesystem:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestHardeningGoodNamesAccepted: the check does not refuse what it must
// take: the longest name, digits, dashes.
func TestHardeningGoodNamesAccepted(t *testing.T) {
	tempRunDir(t)
	for _, name := range []string{"a", "0", "-", "ch5", "abcdefghijkl", "t-1-2"} {
		if _, err := MakeDir(name); err != nil {
			t.Errorf("MakeDir(%q): %v", name, err)
		}
		if _, err := ReadState(name); !errors.Is(err, ErrNotUp) {
			t.Errorf("ReadState(%q): want ErrNotUp, got %v", name, err)
		}
		unlock, err := Lock(name, time.Second)
		if err != nil {
			t.Errorf("Lock(%q): %v", name, err)
			continue
		}
		unlock()
		if err := Down(name); err != nil {
			t.Errorf("Down(%q): %v", name, err)
		}
		if _, err := os.Stat(Dir(name)); !os.IsNotExist(err) {
			t.Errorf("Down(%q) left its folder: %v", name, err)
		}
	}
}

// TestHardeningStateNamesItsTopology: issue 10 item 1. A state.json that
// names another topology is refused (a copied or edited folder), and List
// skips folders whose names are not topology names.
func TestHardeningStateNamesItsTopology(t *testing.T) {
	tempRunDir(t)
	for dir, name := range map[string]string{"ta": "tb", "UP": "UP", "x y": "x y"} {
		if err := os.MkdirAll(filepath.Join(RunDir, dir), 0o700); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(State{Name: name})
		if err := os.WriteFile(filepath.Join(RunDir, dir, "state.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ReadState("ta"); err == nil || !strings.Contains(err.Error(), `"tb"`) {
		t.Errorf("ReadState(ta) of a state naming tb: want an error naming tb, got %v", err)
	}
	if got := List(); len(got) != 1 || got[0] != "ta" {
		t.Errorf("List() = %q, want only [ta]", got)
	}
}

// TestHardeningModesWhateverTheUmask: issue 10 item 2. Under umask 000 the
// state folders are 0700, files and logs 0600, the control socket 0600; an
// existing folder or file with a wider mode is narrowed. Before the fix the
// socket was 0777 under umask 000.
func TestHardeningModesWhateverTheUmask(t *testing.T) {
	tempRunDir(t)
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	if err := os.Chmod(RunDir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := offlineDaemon(t)
	name := d.net.Name
	// An existing state folder with a wider mode (an older vpcnet made it).
	if err := os.Mkdir(Dir(name), 0o777); err != nil {
		t.Fatal(err)
	}
	dir, err := MakeDir(name)
	if err != nil {
		t.Fatal(err)
	}
	wide := filepath.Join(dir, "wide")
	if err := os.WriteFile(wide, []byte("old"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(wide, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "topology.json"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	f, err := CreateFile(filepath.Join(dir, "forwarder.log"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	unlock, err := Lock(name, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	errc := make(chan error, 1)
	go func() { errc <- d.Serve() }()
	defer func() {
		close(d.done)
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	var st map[string]any
	var gerr error
	for i := 0; i < 100; i++ {
		if gerr = NewClient(name).Get("/stats", &st); gerr == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if gerr != nil {
		t.Fatalf("the socket does not answer: %v", gerr)
	}

	want := map[string]os.FileMode{
		RunDir:                              fs.ModeDir | 0o700,
		dir:                                 fs.ModeDir | 0o700,
		wide:                                0o600,
		filepath.Join(dir, "topology.json"): 0o600,
		filepath.Join(dir, "forwarder.log"): 0o600,
		lockPath(name):                      0o600,
		SocketPath(name):                    fs.ModeSocket | 0o600,
	}
	for p, m := range want {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if fi.Mode() != m {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), m)
		}
	}
	if b, _ := os.ReadFile(wide); string(b) != "new" {
		t.Errorf("WriteFile over an existing file: %q", b)
	}
}

// TestHardeningLockOneAtATime: issue 10 item 10. Lock is exclusive across
// open files (two processes' `up`s): a second Lock of the same topology
// waits, then fails saying why; another topology is not held up; the lock
// is taken as soon as it is released.
func TestHardeningLockOneAtATime(t *testing.T) {
	tempRunDir(t)
	unlock, err := Lock("t1", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if u2, err := Lock("t1", 200*time.Millisecond); err == nil {
		u2()
		t.Fatal("a second Lock of t1 was granted while the first was held")
	} else if !strings.Contains(err.Error(), "another vpcnet up or down") {
		t.Errorf("second Lock: %v", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond || took > 2*time.Second {
		t.Errorf("second Lock gave up after %s, want about 200ms", took)
	}
	u3, err := Lock("t2", 100*time.Millisecond)
	if err != nil {
		t.Fatalf("Lock of another topology: %v", err)
	}
	u3()
	go func() {
		time.Sleep(200 * time.Millisecond)
		unlock()
	}()
	u4, err := Lock("t1", 5*time.Second)
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	u4()
}

// TestHardeningDownRemovesLock: issue 10 item 10. The lock file of a
// topology that went down is removed when the lock is released, so that up
// and down of fresh names leave nothing in RunDir; that of a topology that
// is up stays. Before, every name left a .<name>.lock behind.
func TestHardeningDownRemovesLock(t *testing.T) {
	tempRunDir(t)
	for _, name := range []string{"t1", "t2", "t3"} {
		unlock, err := Lock(name, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := MakeDir(name); err != nil {
			t.Fatal(err)
		}
		if err := Down(name); err != nil {
			t.Fatal(err)
		}
		unlock()
	}
	ents, _ := os.ReadDir(RunDir)
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if len(left) > 0 {
		t.Errorf("RunDir after three topologies went down: %q, want empty", left)
	}
	unlock, err := Lock("up", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := MakeDir("up"); err != nil {
		t.Fatal(err)
	}
	unlock()
	if _, err := os.Stat(lockPath("up")); err != nil {
		t.Errorf("the lock file of a topology that is up: %v", err)
	}
}

// TestHardeningLockSurvivesRemoval: issue 10 item 10. A waiter that opened
// the lock file before its holder removed it (the topology went down) must
// not end up holding a removed file while a third caller locks a new one:
// one holder at a time, whatever the removals.
func TestHardeningLockSurvivesRemoval(t *testing.T) {
	tempRunDir(t)
	for round := 0; round < 5; round++ {
		unlock, err := Lock("t1", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan func(), 1)
		go func() {
			u, err := Lock("t1", 5*time.Second)
			if err != nil {
				t.Error(err)
				u = func() {}
			}
			got <- u
		}()
		time.Sleep(100 * time.Millisecond) // the waiter has opened the file
		unlock()                           // no state folder: the file goes
		u2 := <-got
		if u3, err := Lock("t1", 50*time.Millisecond); err == nil {
			u3()
			t.Fatalf("round %d: a third Lock was granted while the waiter held the lock", round)
		}
		u2()
	}
}

// TestHardeningClientTimesOut: issue 10 item 12. A daemon that accepts the
// connection but never answers (SIGSTOP: the kernel still queues the
// connection) is said to be frozen within the read timeout, not the 30 s
// of before.
func TestHardeningClientTimesOut(t *testing.T) {
	tempRunDir(t)
	if _, err := MakeDir("frozen"); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", SocketPath("frozen"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close() // never accepted: the backlog holds the connection
	start := time.Now()
	var out map[string]any
	err = NewClient("frozen").Get("/status", &out)
	took := time.Since(start)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "frozen") {
		t.Errorf("Get of a frozen daemon: want ErrTimeout saying frozen, got %v", err)
	}
	if took > ReadTimeout+2*time.Second {
		t.Errorf("Get of a frozen daemon took %s, want at most %s", took, ReadTimeout)
	}
	if ReadTimeout > 10*time.Second {
		t.Errorf("ReadTimeout %s: status must say what is wrong within seconds", ReadTimeout)
	}
	// No socket at all: not up, said at once.
	start = time.Now()
	err = NewClient("gone").Get("/status", &out)
	if err == nil || !strings.Contains(err.Error(), "is it up") || time.Since(start) > time.Second {
		t.Errorf("Get of a topology that is not up: %v after %s", err, time.Since(start))
	}
}

// TestHardeningDownKillsFrozenDaemon: issue 10 item 12. Down of a topology
// whose daemon is stopped (SIGSTOP) and does not answer its socket kills
// it and removes the state folder within seconds; before it waited 30 s for
// the socket, then 5 s more.
func TestHardeningDownKillsFrozenDaemon(t *testing.T) {
	tempRunDir(t)
	const name = "frozen"
	if _, err := MakeDir(name); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", SocketPath(name))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The stand-in daemon: its own process group, as spawnDaemon's is.
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGCONT)
		cmd.Process.Kill()
		<-exited
	})
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	st := &State{Name: name, Daemon: netns.Proc{PID: pid, Start: netns.StartTimeOf(pid)}}
	if st.Daemon.Start == 0 {
		t.Fatal("no start time for the stand-in daemon")
	}
	if err := st.write(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := Down(name); err != nil {
		t.Fatalf("Down of a frozen daemon: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Down of a frozen daemon took %s, want a few seconds", took)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Errorf("the frozen daemon (pid %d) still runs after Down", pid)
	}
	if _, err := os.Stat(Dir(name)); !os.IsNotExist(err) {
		t.Errorf("state folder left after Down: %v", err)
	}
}

// TestHardeningRequestBounds: issue 10 item 11. Through the real socket
// server: a body over MaxRequestBytes and a value over the limit of its
// field are refused with InvalidParameterValue saying the limit, and
// nothing changes. Before, a 50 MB description was stored.
func TestHardeningRequestBounds(t *testing.T) {
	tempRunDir(t)
	d := offlineDaemon(t)
	if _, err := MakeDir(d.net.Name); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- d.Serve() }()
	defer func() {
		close(d.done)
		<-errc
	}()
	c := NewClient(d.net.Name)
	var out any
	for i := 0; i < 100; i++ {
		if err := c.Get("/stats", &out); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := describeAll(t, d)
	subnet := d.net.VPCs[0].Subnets[0].Name
	// CreateNetworkInterface takes EC2's parameters: a value is held to
	// EC2's own limit for its member (255 bytes for names and
	// descriptions), a parameter EC2 lacks is UnknownParameter.
	many := typedReq{"SubnetId": subnet}
	for i := 0; len(many) <= 64; i++ {
		many["p"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
	}
	for _, c2 := range []struct {
		name string
		req  typedReq
		code string
		want string
	}{
		{"description over 1024 bytes", eniReq(subnet, "", typedReq{"Description": strings.Repeat("d", 1025)}), "InvalidParameterValue", "at most 255"},
		{"name over 1024 bytes", eniReq(subnet, strings.Repeat("n", 2000), nil), "InvalidParameterValue", "longer than 255 bytes"},
		{"body over 64 KB", eniReq(subnet, "", typedReq{"Description": strings.Repeat("d", MaxRequestBytes)}), "InvalidParameterValue", "larger than 65536 bytes"},
		{"body of 8 MB", eniReq(subnet, "", typedReq{"Description": strings.Repeat("d", 8<<20)}), "InvalidParameterValue", "larger than 65536 bytes"},
		{"long parameter name", eniReq(subnet, "", typedReq{strings.Repeat("k", 65): "v"}), "UnknownParameter", "is not recognized"},
		{"too many parameters", many, "UnknownParameter", "is not recognized"},
	} {
		err := c.Post("/op/CreateNetworkInterface", c2.req, &out)
		var oe *OpError
		if !errors.As(err, &oe) || oe.Code != c2.code || !strings.Contains(oe.Message, c2.want) {
			t.Errorf("%s: want %s with %q, got %v", c2.name, c2.code, c2.want, err)
		}
	}
	if after := describeAll(t, d); after != before {
		t.Errorf("a refused request changed the network")
	}
	// Within EC2's limits is fine.
	if err := c.Post("/op/CreateNetworkInterface", eniReq(subnet, "", typedReq{"Description": strings.Repeat("d", 200)}), &out); err != nil {
		t.Errorf("a description of 200 bytes: %v", err)
	}
}

// TestHardeningUnlockTwice: issue 10 item 10. `up --foreground` lets the
// lock go once the topology is up and again (deferred) when it ends; the
// second call must not remove the lock file of whoever holds it then (a
// `down` of the topology), or a third caller would lock a new file beside
// the holder.
func TestHardeningUnlockTwice(t *testing.T) {
	tempRunDir(t)
	unlock, err := Lock("t1", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	holder, err := Lock("t1", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer holder()
	unlock() // no state folder: a live unlock would remove the file
	if _, err := os.Stat(lockPath("t1")); err != nil {
		t.Fatalf("a second unlock removed the holder's lock file: %v", err)
	}
	if u, err := Lock("t1", 50*time.Millisecond); err == nil {
		u()
		t.Fatal("a Lock was granted beside the holder after a second unlock")
	}
}
