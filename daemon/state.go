// Package control runs a topology: it brings the namespaces, ENI devices and
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

	"github.com/vpcnet/vpcnet/netns"
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

// Dir returns the state folder of a topology.
func Dir(name string) string { return filepath.Join(RunDir, name) }

// SocketPath returns the control socket of a topology.
func SocketPath(name string) string { return filepath.Join(Dir(name), "control.sock") }

func statePath(name string) string { return filepath.Join(Dir(name), "state.json") }

// ReadState reads the state of a topology.
func ReadState(name string) (*State, error) {
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
	return &s, nil
}

// write saves s atomically.
func (s *State) write() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := statePath(s.Name) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, statePath(s.Name))
}

// List returns the names of topologies with a state folder, sorted.
func List() []string {
	ents, _ := os.ReadDir(RunDir)
	var names []string
	for _, e := range ents {
		if _, err := os.Stat(statePath(e.Name())); err == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}
