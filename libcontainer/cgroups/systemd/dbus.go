package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// jobTimeout bounds the wait for a start or stop job: systemd answers in
// milliseconds unless it is stuck (a hung daemon-reload, a unit that does
// not stop).
const jobTimeout = 30 * time.Second

// dbusErrName returns the D-Bus error name of err ("" for other errors).
func dbusErrName(err error) string {
	var de godbus.Error
	if errors.As(err, &de) {
		return de.Name
	}
	var dp *godbus.Error
	if errors.As(err, &dp) {
		return dp.Name
	}
	return ""
}

const (
	errUnitExists = "org.freedesktop.systemd1.UnitExists"
	errNoSuchUnit = "org.freedesktop.systemd1.NoSuchUnit"
	errNotLoaded  = "org.freedesktop.systemd1.LoadFailed"
)

// connect opens the connection on first use. As root, go-systemd falls back
// from the system bus to systemd's private socket (/run/systemd/private),
// so no dbus-daemon is needed (a systemd container, a minimal host).
func (m *Manager) connect() (*sddbus.Conn, error) {
	if m.conn != nil {
		return m.conn, nil
	}
	// Not a context with a timeout: godbus closes the connection when its
	// context ends.
	c, err := sddbus.NewWithContext(context.Background())
	if err != nil {
		// sd_booted(3)'s test: the likely reason, said first.
		if _, serr := os.Stat("/run/systemd/system"); serr != nil {
			return nil, fmt.Errorf("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system): connect to systemd: %w", err)
		}
		return nil, fmt.Errorf("--systemd-cgroup: connect to systemd: %w", err)
	}
	m.conn = c
	return c, nil
}

// Close releases the D-Bus connection, if one was opened.
func (m *Manager) Close() {
	if m.conn != nil {
		m.conn.Close()
		m.conn = nil
	}
}

// waitJob waits for the result of the job whose completion goes to ch.
func waitJob(op, unit string, ch <-chan string) error {
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("%s unit %s: systemd job finished with result %q, not \"done\" (journalctl -u %s may say why)", op, unit, res, unit)
		}
		return nil
	case <-time.After(jobTimeout):
		return fmt.Errorf("%s unit %s: no answer from systemd's job within %s", op, unit, jobTimeout)
	}
}

// startUnit starts the transient unit and waits for it. An existing active
// unit is joined, as runc does: kubelet pre-creates pod slices, and a client
// may run a second container in the same scope. A failed leftover of the
// same name is reset and started anew.
func (m *Manager) startUnit(props []sddbus.Property) error {
	c, err := m.connect()
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		ch := make(chan string, 1)
		m.maybeStarted = true
		_, err = c.StartTransientUnitContext(context.Background(), m.unit.Name, "replace", props, ch)
		if err == nil {
			return waitJob("start", m.unit.Name, ch)
		}
		if dbusErrName(err) != errUnitExists {
			return fmt.Errorf("start unit %s: %w", m.unit.Name, err)
		}
		state, serr := m.activeState(c)
		if serr != nil {
			return fmt.Errorf("start unit %s: it exists, and its state is unknown: %w", m.unit.Name, serr)
		}
		if state == "active" || state == "activating" || state == "reloading" {
			return nil
		}
		if attempt > 0 {
			return fmt.Errorf("start unit %s: it exists in state %q and was not replaced", m.unit.Name, state)
		}
		// A failed or stopping unit of that name keeps its name taken.
		_ = c.ResetFailedUnitContext(context.Background(), m.unit.Name)
		if state == "deactivating" {
			_ = m.stopUnit()
		}
	}
}

func (m *Manager) activeState(c *sddbus.Conn) (string, error) {
	p, err := c.GetUnitPropertyContext(context.Background(), m.unit.Name, "ActiveState")
	if err != nil {
		return "", err
	}
	s, _ := p.Value.Value().(string)
	return s, nil
}

// stopUnit stops the unit and waits for it; a unit systemd does not know (it
// stopped by itself when its last process exited) is not an error.
func (m *Manager) stopUnit() error {
	c, err := m.connect()
	if err != nil {
		return err
	}
	ch := make(chan string, 1)
	_, err = c.StopUnitContext(context.Background(), m.unit.Name, "replace", ch)
	if err != nil {
		if n := dbusErrName(err); n == errNoSuchUnit || n == errNotLoaded {
			return nil
		}
		return fmt.Errorf("stop unit %s: %w", m.unit.Name, err)
	}
	if err := waitJob("stop", m.unit.Name, ch); err != nil {
		return err
	}
	// A scope whose processes were SIGKILLed may stay "failed" and keep
	// its name taken for the next container with the same id.
	_ = c.ResetFailedUnitContext(context.Background(), m.unit.Name)
	return nil
}

// setProperties changes the unit's properties until the next boot.
func (m *Manager) setProperties(props []sddbus.Property) error {
	if len(props) == 0 {
		return nil
	}
	c, err := m.connect()
	if err != nil {
		return err
	}
	if err := c.SetUnitPropertiesContext(context.Background(), m.unit.Name, true, props...); err != nil {
		return fmt.Errorf("set properties of unit %s: %w", m.unit.Name, err)
	}
	return nil
}
