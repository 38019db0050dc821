//go:build !linux

package hostcheck

// Snapshot is empty where there are no network namespaces.
func Snapshot() string { return "" }
