package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The capture CLI's end line is read with and without lost frames; the
// last one counts; anything else is no count.
func TestParseCaptureEnd(t *testing.T) {
	for _, c := range []struct {
		in   string
		want captureCount
		ok   bool
	}{
		{"12 frames captured\n", captureCount{12, 0}, true},
		{"1234 frames captured, 56 frames not captured (the reader was too slow)\n", captureCount{1234, 56}, true},
		{"warning: something\n7 frames captured, 3 frames not captured (the reader was too slow)\n", captureCount{7, 3}, true},
		{"1 frames captured\n2 frames captured, 9 frames not captured\n", captureCount{2, 9}, true},
		{"0 frames captured\n", captureCount{0, 0}, true},
		{"", captureCount{}, false},
		{"vpcnet: capture: no such endpoint\n", captureCount{}, false},
		{"x 12 frames captured\n", captureCount{}, false},
		{"99999999999999999999999 frames captured\n", captureCount{}, false},
	} {
		got, ok := parseCaptureEnd(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("parseCaptureEnd(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// The report's cells: median (min–max), the on/off ratio of medians, and
// a dash for what was not measured.
func TestObserveCells(t *testing.T) {
	if got := spread("%.2f", []float64{3, 1, 2.5, 9}); got != "2.75 (1.00–9.00)" {
		t.Errorf("spread = %q", got)
	}
	if got := spread("%.0f", nil); got != "—" {
		t.Errorf("spread(nil) = %q", got)
	}
	if got := onOff([]float64{4, 5, 6}, []float64{10, 8, 12}); got != "0.50" {
		t.Errorf("onOff = %q", got)
	}
	if got := onOff(nil, []float64{1}); got != "—" {
		t.Errorf("onOff(nil) = %q", got)
	}
	if got := onOff([]float64{1}, []float64{0}); got != "—" {
		t.Errorf("onOff(/0) = %q", got)
	}
	cs := []captureCount{{100, 0}, {300, 7}, {200, 2}}
	if got := counts(cs, false); got != "200 (100–300)" {
		t.Errorf("captured = %q", got)
	}
	if got := counts(cs, true); got != "2 (0–7)" {
		t.Errorf("lost = %q", got)
	}
}

// The scraper GETs at once and then every scrapeEvery, reads each answer
// fully, and stop waits for it and counts the scrapes.
func TestScraper(t *testing.T) {
	var hits atomic.Int32
	body := strings.Repeat("vpcnet_x 1\n", 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(body))
	}))
	defer srv.Close()
	s := &scraper{url: srv.URL, client: srv.Client()}
	stop := s.start(context.Background())
	time.Sleep(scrapeEvery + scrapeEvery/2)
	n := stop()
	if n != 2 || hits.Load() != 2 {
		t.Errorf("%d scrapes counted, %d served; want 2", n, hits.Load())
	}
	if s.bytes != int64(len(body)) || len(s.ms) != 2 || s.errs != 0 {
		t.Errorf("bytes %d, times %v, errors %d", s.bytes, s.ms, s.errs)
	}
	h := hits.Load()
	time.Sleep(scrapeEvery + scrapeEvery/4)
	if hits.Load() != h {
		t.Error("scraped after stop")
	}
}
