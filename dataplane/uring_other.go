//go:build !linux

package dataplane

// uringWriter is Linux's batched writes (uring_linux.go); elsewhere a
// worker writes each frame at once.
type uringWriter struct{}

func (u *uringWriter) add(Port, int, []byte, *counters) bool { return false }

// endBatch and closeWrites have nothing to do off Linux.
func (w *worker) endBatch()    {}
func (w *worker) closeWrites() {}
