//go:build !linux

package dataplane

import "time"

// Off Linux there is no pollable port: every port gets a goroutine.

type pollLoops struct{}

type polled struct{ w *worker }

func startPollLoops(int, time.Duration) (*pollLoops, error) { return nil, ErrUnsupported }
func (l *pollLoops) stop()                                  {}
func (l *pollLoops) add(*worker, pollable) (*polled, error) { return nil, ErrUnsupported }
func (l *pollLoops) remove(*polled)                         {}
func (pq *polled) closed()                                  {}
