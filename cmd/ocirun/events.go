package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ocirun/ocirun/libcontainer"
)

// event is one line of `events` output, in runc's format.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

var eventsCommand = &cli.Command{
	Name:      "events",
	Usage:     "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
	ArgsUsage: "<container-id>",
	Description: `The events command prints one JSON object per line: the container's stats
every --interval ({"type":"stats",...}) and each OOM kill ({"type":"oom",...}),
until the container stops.`,
	Flags: []cli.Flag{
		&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "set the stats collection interval"},
		&cli.BoolFlag{Name: "stats", Usage: "display the container's stats then exit"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1); err != nil {
			return err
		}
		interval := ctx.Duration("interval")
		if interval <= 0 {
			return fmt.Errorf("--interval: must be positive, got %s", interval)
		}
		c, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		if c.Status() == libcontainer.Stopped {
			return fmt.Errorf("container with id %s is not running", c.ID)
		}
		enc := json.NewEncoder(os.Stdout)
		if ctx.Bool("stats") {
			s, err := c.Stats()
			if err != nil {
				return err
			}
			return enc.Encode(event{Type: "stats", ID: c.ID, Data: s})
		}
		return streamEvents(c, enc, interval)
	},
}

// streamEvents prints stats every interval and OOM kills as they happen,
// until the container stops. A failed sample is logged and skipped, as in
// runc: a monitor should not lose the stream over one bad read.
func streamEvents(c *libcontainer.Container, enc *json.Encoder, interval time.Duration) error {
	stop := make(chan struct{})
	defer close(stop)
	oom, err := c.NotifyOOM(stop)
	if err != nil {
		logger.Warn("no oom notifications", "error", err)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case _, ok := <-oom:
			if !ok {
				oom = nil // the cgroup is gone or empty: stats will notice the stop
				continue
			}
			if err := enc.Encode(event{Type: "oom", ID: c.ID}); err != nil {
				return err
			}
		case <-tick.C:
			if c.Status() == libcontainer.Stopped {
				return nil
			}
			s, err := c.Stats()
			if err != nil {
				logger.Error("stats", "error", err)
				continue
			}
			if err := enc.Encode(event{Type: "stats", ID: c.ID, Data: s}); err != nil {
				return err
			}
		}
	}
}
