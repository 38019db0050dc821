package dataplane

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpcnet/vpcnet/topology"
)

// pinChildEnv makes the test binary the child of TestPinProcess.
const pinChildEnv = "VPCNET_TEST_PIN_CHILD"

// TestPinProcess runs a child that pins itself to one CPU while goroutines
// make threads, then makes more: every thread of the child, those before and
// those after, is bound to that CPU, and GOMAXPROCS is 1.
func TestPinProcess(t *testing.T) {
	if os.Getenv(pinChildEnv) != "" {
		pinChild()
		return
	}
	allowed, err := AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	want := allowed[len(allowed)-1]
	cmd := exec.Command(os.Args[0], "-test.run", "^TestPinProcess$")
	cmd.Env = append(os.Environ(), pinChildEnv+"=1", "GOMAXPROCS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var threads, gomaxprocs int
	for _, line := range strings.Split(string(out), "\n") {
		if cpus, ok := strings.CutPrefix(line, "thread "); ok {
			threads++
			if cpus != topology.FormatCPUs([]int{want}) {
				t.Errorf("a thread of the pinned child runs on %s, want %d", cpus, want)
			}
		}
		if line == "gomaxprocs 1" {
			gomaxprocs++
		}
	}
	if threads < 4 || gomaxprocs != 1 {
		t.Errorf("child reported %d threads and gomaxprocs 1 %d times:\n%s", threads, gomaxprocs, out)
	}
}

// pinChild is the child's side: threads busy in system calls while it pins,
// more threads after, then a report of every thread's CPUs.
func pinChild() {
	allowed, _ := AllowedCPUs()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	spawn := func() {
		for i := 0; i < 4; i++ {
			wg.Go(func() {
				runtime.LockOSThread()
				for {
					select {
					case <-stop:
						return
					default:
						time.Sleep(time.Millisecond)
					}
				}
			})
		}
	}
	spawn()
	if err := PinProcess(allowed[len(allowed)-1:]); err != nil {
		println("pin:", err.Error())
		os.Exit(1)
	}
	spawn()
	time.Sleep(20 * time.Millisecond)
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		b, _ := os.ReadFile("/proc/self/task/" + task.Name() + "/status")
		for _, line := range strings.Split(string(b), "\n") {
			if cpus, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				os.Stdout.WriteString("thread " + strings.TrimSpace(cpus) + "\n")
			}
		}
	}
	os.Stdout.WriteString("gomaxprocs " + strconv.Itoa(runtime.GOMAXPROCS(0)) + "\n")
	close(stop)
	wg.Wait()
	os.Exit(0)
}
