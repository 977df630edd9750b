// Package trace records per-phase timings of one ocirun command as JSON lines
// (--trace FILE or OCIRUN_TRACE=FILE), so anyone can see where the time goes.
//
// With tracing on, OCIRUN_TRACE_STOP=PHASE makes the command stop itself
// (SIGSTOP) right after it records PHASE: the crash-consistency tests kill
// it there, at a point they can name, and check that nothing is left.
package trace

import (
	"encoding/json"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// EnvStop names the phase at which a traced command stops itself.
const EnvStop = "OCIRUN_TRACE_STOP"

// Span is one timed phase. In is "" for the runtime itself, "init" for the
// phases that build the container's init in its namespaces: measured inside
// init and reported back over the socket, or by the parent's thread that
// joined those namespaces to build the rootfs.
type Span struct {
	Cmd     string  `json:"cmd"`
	Phase   string  `json:"phase"`
	In      string  `json:"in,omitempty"`
	StartMS float64 `json:"start_ms"`
	DurMS   float64 `json:"dur_ms"`
}

// Tracer writes spans; a nil *Tracer records nothing, so callers never check.
type Tracer struct {
	mu   sync.Mutex
	f    *os.File
	cmd  string
	t0   time.Time
	last time.Time
	stop string // EnvStop
}

// Open appends to path; it returns nil (tracing off) for an empty path.
func Open(path, cmd string) (*Tracer, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &Tracer{f: f, cmd: cmd, t0: now, last: now, stop: os.Getenv(EnvStop)}, nil
}

// Mark ends the phase that began at the previous Mark (or at Open).
func (t *Tracer) Mark(phase string) { t.MarkIn(phase, "") }

// MarkIn is Mark for a phase done for init (see Span.In).
func (t *Tracer) MarkIn(phase, in string) {
	if t == nil {
		return
	}
	now := time.Now()
	t.mu.Lock()
	start := t.last
	t.last = now
	t.mu.Unlock()
	t.write(Span{Phase: phase, In: in, StartMS: ms(start.Sub(t.t0)), DurMS: ms(now.Sub(start))})
	if phase == t.stop {
		// The whole process stops, every thread: whoever set EnvStop
		// sees the span in the file and the process stopped, and kills it.
		_ = unix.Kill(os.Getpid(), unix.SIGSTOP)
	}
}

// Add records spans measured elsewhere (init's), relative to their own start.
func (t *Tracer) Add(spans []Span, in string, offset time.Duration) {
	if t == nil {
		return
	}
	for _, s := range spans {
		s.In = in
		s.StartMS += ms(offset)
		t.write(s)
	}
}

// Since is the time since Open, to place spans from another process.
func (t *Tracer) Since() time.Duration {
	if t == nil {
		return 0
	}
	return time.Since(t.t0)
}

// Close writes the total and closes the file.
func (t *Tracer) Close() {
	if t == nil {
		return
	}
	t.write(Span{Phase: "total", DurMS: ms(time.Since(t.t0))})
	t.f.Close()
}

func (t *Tracer) write(s Span) {
	s.Cmd = t.cmd
	b, _ := json.Marshal(s)
	t.mu.Lock()
	defer t.mu.Unlock()
	_, _ = t.f.Write(append(b, '\n'))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Recorder collects spans in a process that cannot write the file itself
// (init, inside the container); they travel back with its ready message.
type Recorder struct {
	t0, last time.Time
	Spans    []Span
}

// NewRecorder starts the clock.
func NewRecorder() *Recorder {
	now := time.Now()
	return &Recorder{t0: now, last: now}
}

// Mark ends the current phase.
func (r *Recorder) Mark(phase string) {
	if r == nil {
		return
	}
	now := time.Now()
	r.Spans = append(r.Spans, Span{Phase: phase, StartMS: ms(r.last.Sub(r.t0)), DurMS: ms(now.Sub(r.last))})
	r.last = now
}
