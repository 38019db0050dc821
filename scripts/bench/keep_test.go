package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A new report keeps the hand-written sections below the marker, and a
// file without the marker is replaced whole.
func TestKeepHandWritten(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "BENCHMARKS.md")
	if got := keepHandWritten(path, "# new\n"); got != "# new\n" {
		t.Errorf("no file: %q", got)
	}
	os.WriteFile(path, []byte("# old\nold figures\n\n"+handWritten+"\n\n## DNS latency\np50 30 µs\n"), 0o644)
	got := keepHandWritten(path, "# new\nnew figures\n")
	if strings.Contains(got, "old figures") || !strings.HasPrefix(got, "# new\nnew figures\n") || !strings.HasSuffix(got, handWritten+"\n\n## DNS latency\np50 30 µs\n") {
		t.Errorf("got %q", got)
	}
	os.WriteFile(path, []byte("# old\nno marker\n"), 0o644)
	if got := keepHandWritten(path, "# new\n"); got != "# new\n" {
		t.Errorf("no marker: %q", got)
	}
}
