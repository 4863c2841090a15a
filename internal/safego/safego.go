// Package safego starts goroutines whose panics are caught and handed, as an
// error carrying the stack, to the goroutine that waits for them. A panic in
// a goroutine nobody recovers kills the process, and with it every job and
// live stream on the node; caught, it fails one call.
package safego

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// PanicError is a panic caught in a goroutine. Its message is the panic's
// value; Stack is for the log, never for users.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic in a worker goroutine: %v", e.Value) }

// Group is a sync.WaitGroup whose goroutines' panics come back from Wait.
type Group struct {
	wg  sync.WaitGroup
	mu  sync.Mutex
	err *PanicError
}

// Go runs f on a new goroutine.
func (g *Group) Go(f func()) {
	g.wg.Go(func() {
		defer g.catch()
		f()
	})
}

func (g *Group) catch() {
	v := recover()
	if v == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		g.err = &PanicError{Value: v, Stack: debug.Stack()}
	}
}

// Wait waits for every goroutine started by Go and returns the first panic
// among them as a *PanicError, or nil.
func (g *Group) Wait() error {
	g.wg.Wait()
	if g.err == nil {
		return nil // not a typed nil inside the error interface
	}
	return g.err
}
