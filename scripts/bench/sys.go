package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// requiredTools are the programs the benchmark runs; each is looked up on
// PATH before anything is created.
var requiredTools = []string{"ip", "iperf3", "ping", "nft", "nstat", "sysctl", "uname", "nproc", "taskset"}

// checkEnvironment fails with a message that says what to do when the
// benchmark cannot run here: not root, or a tool missing.
func checkEnvironment() error {
	if os.Geteuid() != 0 {
		return errors.New("the benchmark creates network namespaces and needs root: run `sudo make bench`")
	}
	var missing []string
	for _, t := range requiredTools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing tools: %s (install: apt-get install iproute2 iperf3 iputils-ping nftables procps coreutils util-linux, or run `sudo make deps`)",
			strings.Join(missing, ", "))
	}
	return nil
}

// lockFile keeps two benchmarks from running at once: they would share the
// two CPUs and both figures would be wrong.
const lockFile = "/run/lock/vpcnet-bench.lock"

// acquireLock takes an exclusive, non-blocking lock on lockFile. The lock
// lasts until the process exits.
func acquireLock() error {
	f, err := os.OpenFile(lockFile, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", lockFile, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("another benchmark is running (%s is locked): never run two at once", lockFile)
	}
	// f stays open (and locked) for the life of the process.
	return nil
}

// run runs a command to completion and returns its standard output. The
// error carries the command line and its standard error.
func run(ctx context.Context, stdin string, name string, args ...string) (string, error) {
	return runCmd(ctx, exec.CommandContext(ctx, name, args...), stdin)
}

// runIn is run in working directory dir, with no input.
func runIn(ctx context.Context, dir string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	return runCmd(ctx, cmd, "")
}

func runCmd(ctx context.Context, cmd *exec.Cmd, stdin string) (string, error) {
	name, args := cmd.Args[0], cmd.Args[1:]
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return out.String(), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), ctx.Err())
		}
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return out.String(), nil
}

// inNS runs a command inside network namespace ns (ip netns exec).
func inNS(ctx context.Context, ns string, args ...string) (string, error) {
	return run(ctx, "", "ip", append([]string{"netns", "exec", ns}, args...)...)
}

// ipNS runs `ip -n ns ARGS…`: an ip(8) command applied inside ns.
func ipNS(ctx context.Context, ns string, args ...string) error {
	_, err := run(ctx, "", "ip", append([]string{"-n", ns}, args...)...)
	return err
}

// cleanups is a stack of undo steps, run last-in first-out. Every resource
// the benchmark makes (namespace, process, topology) pushes its undo step
// before or right after it is made, so that an error or a signal at any
// point leaves nothing behind.
type cleanups struct {
	steps []cleanupStep
}

type cleanupStep struct {
	what string
	fn   func(ctx context.Context) error
}

func (c *cleanups) push(what string, fn func(ctx context.Context) error) {
	c.steps = append(c.steps, cleanupStep{what, fn})
}

// forget drops the newest step without running it: its work was done.
func (c *cleanups) forget() {
	c.steps = c.steps[:len(c.steps)-1]
}

// runAll runs and forgets every step, newest first. It uses its own
// context: the benchmark's may already be cancelled by a signal.
func (c *cleanups) runAll() {
	for len(c.steps) > 0 {
		s := c.steps[len(c.steps)-1]
		c.steps = c.steps[:len(c.steps)-1]
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if err := s.fn(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "cleanup: %s: %v\n", s.what, err)
		}
		cancel()
	}
}

// background is a long-running child process (a server inside a
// namespace). It is stopped by PID through stop, never by name.
type background struct {
	what string
	cmd  *exec.Cmd
	done chan struct{}
}

// startInNS starts ARGS inside ns and waits until a line of its standard
// output contains ready (ready == "" does not wait). The rest of the output
// is discarded, so the child never blocks on a full pipe. The child gets
// SIGKILL if the benchmark dies without cleaning up.
func startInNS(ns, ready string, args ...string) (*background, error) {
	what := fmt.Sprintf("%s in %s", strings.Join(args, " "), ns)
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.SysProcAttr = childAttr()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", what, err)
	}
	b := &background{what: what, cmd: cmd, done: make(chan struct{})}
	readyc := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		seen := ready == ""
		if seen {
			close(readyc)
		}
		for sc.Scan() {
			if !seen && strings.Contains(sc.Text(), ready) {
				seen = true
				close(readyc)
			}
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
		close(b.done)
	}()
	select {
	case <-readyc:
		return b, nil
	case <-b.done:
		return nil, fmt.Errorf("%s exited before it was ready: %s", what, strings.TrimSpace(errb.String()))
	case <-time.After(10 * time.Second):
		b.stop()
		return nil, fmt.Errorf("%s: not ready after 10 s", what)
	}
}

// stop kills the process by its PID and waits for it.
func (b *background) stop() {
	select {
	case <-b.done:
		return
	default:
	}
	b.cmd.Process.Kill()
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		fmt.Fprintf(os.Stderr, "cleanup: %s (pid %d) did not exit\n", b.what, b.cmd.Process.Pid)
	}
}

// namespaces lists the network namespaces that have a name.
func namespaces(ctx context.Context) ([]string, error) {
	out, err := run(ctx, "", "ip", "netns", "list")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}

// killInNS kills, by PID, the processes inside ns whose command name is one
// of comms: servers a previous, killed benchmark left in its own namespaces.
func killInNS(ctx context.Context, ns string, comms ...string) {
	out, err := run(ctx, "", "ip", "netns", "pids", ns)
	if err != nil {
		return
	}
	for _, f := range strings.Fields(out) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err != nil || pid <= 1 {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			continue
		}
		for _, c := range comms {
			if strings.TrimSpace(string(comm)) == c {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// deleteNS removes a namespace; one that is already gone is done.
func deleteNS(ctx context.Context, ns string) error {
	if _, err := os.Stat("/run/netns/" + ns); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	_, err := run(ctx, "", "ip", "netns", "delete", ns)
	return err
}
