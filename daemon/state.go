// Package daemon runs a topology: it brings the namespaces, ENI devices and
// forwarder up (Up), serves the control API on a unix socket, and takes it
// all down again (Down), also after the daemon was killed. The state of every
// topology that is up lives in RunDir/<name>/.
package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vpcnet/vpcnet/netns"
	"github.com/vpcnet/vpcnet/topology"
)

// RunDir holds one folder per topology that is up.
var RunDir = "/run/vpcnet"

// ErrNotUp is returned for a topology that is not up.
var ErrNotUp = errors.New("not up")

// State is state.json: what Down needs to remove a topology even when the
// daemon is gone. It is written before each kernel object is made, so a
// crash part-way leaves a record of everything to undo.
type State struct {
	Name       string       `json:"name"`
	Daemon     netns.Proc   `json:"daemon"`
	Namespaces []string     `json:"namespaces"`
	Procs      []netns.Proc `json:"procs,omitempty"`
}

// Dir returns the state folder of a topology. name must have passed
// topology.CheckName: every exported entry point here checks it first.
func Dir(name string) string { return filepath.Join(RunDir, name) }

// Modes of what vpcnet keeps under RunDir, whatever the caller's umask:
// only root may read a topology (its user_data, its logs) or reach its
// control socket, which can start processes as root in an instance.
const (
	dirMode  = 0o700
	fileMode = 0o600
)

// MakeDir creates RunDir and Dir(name) with mode 0700 and returns the
// state folder. Existing folders get the mode too.
func MakeDir(name string) (string, error) {
	if err := topology.CheckName(name); err != nil {
		return "", err
	}
	for _, d := range []string{RunDir, Dir(name)} {
		if err := os.MkdirAll(d, dirMode); err != nil {
			return "", err
		}
		if err := os.Chmod(d, dirMode); err != nil {
			return "", err
		}
	}
	return Dir(name), nil
}

// WriteFile writes a file readable by root only (0600 whatever the umask).
func WriteFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fileMode)
	if err != nil {
		return err
	}
	if err := f.Chmod(fileMode); err != nil {
		f.Close()
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// CreateFile creates (or truncates) a root-only file for writing, such as
// a log.
func CreateFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fileMode)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(fileMode); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Lock serialises `up` and `down` of topology name across processes: two
// `up`s of one topology at once must not both build, nor one clean up
// after the other. It takes an exclusive flock on a lock file beside the
// state folder, waiting up to wait; unlock releases it. unlock removes the
// lock file when the topology has no state folder (it is down, or its up
// failed), so that nothing is left in RunDir; a waiter that then holds the
// removed file takes the lock again on the file at the path. unlock may be
// called more than once; only the first call counts.
func Lock(name string, wait time.Duration) (unlock func(), err error) {
	if err := topology.CheckName(name); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(RunDir, dirMode); err != nil {
		return nil, err
	}
	path := lockPath(name)
	deadline := time.Now().Add(wait)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, fileMode)
		if err != nil {
			return nil, err
		}
		for {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			if !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("topology %q: another vpcnet up or down of it is still running (waited %s)", name, wait)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if isFileAt(f, path) {
			// Once only: a second call would remove the file of the
			// next holder.
			return sync.OnceFunc(func() {
				if _, err := os.Stat(Dir(name)); errors.Is(err, os.ErrNotExist) {
					os.Remove(path)
				}
				f.Close()
			}), nil
		}
		f.Close() // removed by the holder before: not the lock any more
	}
}

// isFileAt reports whether f is the file at path now.
func isFileAt(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	pi, err := os.Stat(path)
	return err == nil && os.SameFile(fi, pi)
}

func lockPath(name string) string { return filepath.Join(RunDir, "."+name+".lock") }

// SocketPath returns the control socket of a topology.
func SocketPath(name string) string { return filepath.Join(Dir(name), "control.sock") }

func statePath(name string) string { return filepath.Join(Dir(name), "state.json") }

// ReadState reads the state of a topology.
func ReadState(name string) (*State, error) {
	if err := topology.CheckName(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(statePath(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("topology %q: %w", name, ErrNotUp)
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", statePath(name), err)
	}
	if s.Name != name {
		return nil, fmt.Errorf("%s: names topology %q, not %q", statePath(name), s.Name, name)
	}
	return &s, nil
}

// write saves s atomically.
func (s *State) write() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := statePath(s.Name) + ".tmp"
	if err := WriteFile(tmp, b); err != nil {
		return err
	}
	return os.Rename(tmp, statePath(s.Name))
}

// List returns the names of topologies with a state folder, sorted.
func List() []string {
	ents, _ := os.ReadDir(RunDir)
	var names []string
	for _, e := range ents {
		if topology.CheckName(e.Name()) != nil {
			continue
		}
		if _, err := os.Stat(statePath(e.Name())); err == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}
