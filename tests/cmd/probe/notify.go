package main

import (
	"net"
	"os"
	"time"
)

// cmdNotify sends each argument as one sd_notify datagram to $NOTIFY_SOCKET,
// pausing briefly between them, then sleeps SECONDS if given after "--".
func cmdNotify(args []string) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		fatalf("notify: NOTIFY_SOCKET is not set")
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		fatalf("notify: %v", err)
	}
	defer conn.Close()
	for i, a := range args {
		if a == "--" {
			if i+1 < len(args) {
				time.Sleep(time.Duration(atoiArg(args[i+1:], "notify MSG... -- SECONDS")) * time.Second)
			}
			return
		}
		if _, err := conn.Write([]byte(a)); err != nil {
			fatalf("notify: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
