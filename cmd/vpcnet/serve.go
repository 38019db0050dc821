package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// serveCmd is the small server for user_data and tests: HTTP that answers
// who it is and who called (so NAT can be seen), and TCP and UDP echo.
func serveCmd() *cobra.Command {
	var httpAddr, tcpAddr, udpAddr string
	c := &cobra.Command{
		Use:   "serve (--http :PORT | --tcp :PORT | --udp :PORT)...",
		Short: "Serve HTTP (JSON: name, local and client address), TCP echo or UDP echo",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if httpAddr == "" && tcpAddr == "" && udpAddr == "" {
				return fmt.Errorf("give at least one of --http, --tcp, --udp")
			}
			name := os.Getenv("VPCNET_INSTANCE")
			if name == "" {
				name, _ = os.Hostname()
			}
			errc := make(chan error, 3)
			if httpAddr != "" {
				l, err := net.Listen("tcp4", httpAddr)
				if err != nil {
					return &exitError{exitFail, err}
				}
				go func() { errc <- http.Serve(l, whoami(name)) }()
			}
			if tcpAddr != "" {
				l, err := net.Listen("tcp4", tcpAddr)
				if err != nil {
					return &exitError{exitFail, err}
				}
				go func() { errc <- tcpEcho(l) }()
			}
			if udpAddr != "" {
				pc, err := net.ListenPacket("udp4", udpAddr)
				if err != nil {
					return &exitError{exitFail, err}
				}
				go func() { errc <- udpEcho(pc) }()
			}
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
			select {
			case err := <-errc:
				return &exitError{exitFail, err}
			case <-sig:
				return nil
			}
		},
	}
	c.Flags().StringVar(&httpAddr, "http", "", "HTTP listen address, e.g. :80")
	c.Flags().StringVar(&tcpAddr, "tcp", "", "TCP echo listen address, e.g. :3306")
	c.Flags().StringVar(&udpAddr, "udp", "", "UDP echo listen address, e.g. :5353")
	return c
}

// whoamiReply is what the HTTP server answers.
type whoamiReply struct {
	Name   string `json:"name"`   // instance or internet host serving
	Local  string `json:"local"`  // address the request reached
	Client string `json:"client"` // client address as it arrived (after any NAT)
}

func whoami(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local := ""
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			local = a.String()
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(whoamiReply{Name: name, Local: local, Client: r.RemoteAddr})
	})
}

func tcpEcho(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}

func udpEcho(pc net.PacketConn) error {
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		pc.WriteTo(buf[:n], from)
	}
}
