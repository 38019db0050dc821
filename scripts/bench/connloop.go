package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The benchmark re-executes itself inside a namespace for the connection
// rate (`ip netns exec NS <exe> MODE …`):
//
//	serve-accept PORTS              listen on every port of PORTS (e.g. 6000-6007),
//	                                accept and close at once; prints "ready" when listening
//	connect-loop [-ports P] [-workers W] ADDR DURATION
//	                                dial ADDR on the ports in turn for DURATION, wait for the
//	                                server's FIN, close; prints a connResult as JSON
//	probe ADDR:PORT                 succeed once one TCP connection completes (3 s at most)
//	topology [N]                    print the measured topology, or the generated N-instance one
//
// The server closes first, so TIME_WAIT stays on the server and the client
// (behind the NAT) never runs out of ephemeral ports.

// subcommands are the self-exec modes, by name.
var subcommands = map[string]func(args []string) error{
	"serve-accept": serveAccept,
	"connect-loop": connectLoop,
	"probe":        probe,
	"topology":     printTopology,
}

// printTopology prints a topology the benchmark uses, for debugging:
// `topology` the measured one, `topology N` the generated N-instance one.
func printTopology(args []string) error {
	var data []byte
	var err error
	switch len(args) {
	case 0:
		data, err = benchTopologyJSON()
	case 1:
		n, aerr := strconv.Atoi(args[0])
		if aerr != nil {
			return fmt.Errorf("topology N: %w", aerr)
		}
		data, err = scaleTopologyJSON(fmt.Sprintf("vbench%d", n), n)
	default:
		return errors.New("usage: topology [N]")
	}
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(data, '\n'))
	return err
}

// parsePorts reads "6000" or "6000-6007".
func parsePorts(s string) ([]int, error) {
	lo, hi, found := strings.Cut(s, "-")
	if !found {
		hi = lo
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || a < 1 || b > 65535 || a > b {
		return nil, fmt.Errorf("bad port range %q", s)
	}
	var ports []int
	for p := a; p <= b; p++ {
		ports = append(ports, p)
	}
	return ports, nil
}

func serveAccept(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: serve-accept PORTS")
	}
	ports, err := parsePorts(args[0])
	if err != nil {
		return err
	}
	errc := make(chan error, len(ports))
	for _, p := range ports {
		ln, err := net.Listen("tcp4", ":"+strconv.Itoa(p))
		if err != nil {
			return err
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						continue
					}
					if errors.Is(err, net.ErrClosed) {
						errc <- err
						return
					}
					// EMFILE and the like: back off and keep serving.
					time.Sleep(10 * time.Millisecond)
					continue
				}
				c.Close()
			}
		}()
	}
	fmt.Println("ready")
	// Runs until the benchmark kills it by PID.
	return <-errc
}

func connectLoop(args []string) error {
	fs := flag.NewFlagSet("connect-loop", flag.ContinueOnError)
	portSpec := fs.String("ports", acceptPorts, "destination ports, used in turn")
	workers := fs.Int("workers", 4, "concurrent connections")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("usage: connect-loop [-ports P] [-workers W] ADDR DURATION")
	}
	ports, err := parsePorts(*portSpec)
	if err != nil {
		return err
	}
	dur, err := time.ParseDuration(fs.Arg(1))
	if err != nil {
		return err
	}
	host := fs.Arg(0)
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(dur)
	for w := range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; time.Now().Before(deadline); i++ {
				addr := net.JoinHostPort(host, strconv.Itoa(ports[i%len(ports)]))
				if err := connectOnce(addr); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	r := connResult{Connections: ok.Load(), Errors: failed.Load(), Seconds: time.Since(start).Seconds()}
	if s, isStr := firstErr.Load().(string); isStr {
		r.FirstError = s
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// connectOnce opens one TCP connection, waits for the server to close it
// and closes its end.
func connectOnce(addr string) error {
	c, err := net.DialTimeout("tcp4", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var b [1]byte
	switch _, err := c.Read(b[:]); {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil:
		return errors.New("the server sent data")
	default:
		return err
	}
}

func probe(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: probe ADDR:PORT")
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := connectOnce(args[0])
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
