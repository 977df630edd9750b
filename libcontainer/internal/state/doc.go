// Package state owns a container's state directory, <root>/<id>/: its
// layout, the lock every change holds, atomic writes of state.json and
// config.json, and the status derived from facts rather than stored.
package state
